//! The one stylesheet of the portal and the console, hand-written and served by licd
//! itself: readable on a phone (one column under 40em), WCAG AA contrast, a visible focus
//! ring for keyboard users, and colours that never carry meaning alone (notices have words).

/// The stylesheet's text.
pub const STYLESHEET: &str = r#":root {
  --ink: #1a1a1a; --muted: #4a4a4a; --paper: #ffffff; --line: #c8c8c8;
  --accent: #0b4f9c; --accent-ink: #ffffff; --ok: #1e6b2f; --warn: #7a5200; --error: #a11212;
  --soft: #f3f5f8;
}
* { box-sizing: border-box; }
html { font-size: 100%; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--paper); }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus {
  outline: 3px solid #f0a500; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--paper); padding: .5rem; }
.skip:focus { left: .5rem; }
header.site { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem;
  padding: .75rem 1.25rem; background: var(--accent); color: var(--accent-ink); }
header.site a { color: var(--accent-ink); }
.site-name { font-weight: 700; }
header.site nav { display: flex; flex-wrap: wrap; gap: 1rem; margin-left: auto; }
header.site nav form { margin: 0; }
header.site nav button { background: transparent; border: 1px solid var(--accent-ink);
  color: var(--accent-ink); padding: .2rem .7rem; }
main { max-width: 72rem; margin: 0 auto; padding: 1.25rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .5rem; }
p.lead { color: var(--muted); max-width: 48rem; }
form.stack { display: grid; gap: .9rem; max-width: 34rem; }
form.inline { display: inline; margin: 0; }
label { display: block; font-weight: 600; }
.hint { display: block; font-weight: 400; color: var(--muted); font-size: .9rem; }
input[type=text], input[type=email], input[type=password], input[type=number],
input[type=date], input[type=search], select, textarea {
  width: 100%; padding: .55rem .6rem; font: inherit; color: var(--ink);
  border: 1px solid #767676; border-radius: 4px; background: var(--paper); }
button, .button { display: inline-block; padding: .55rem 1.1rem; font: inherit; font-weight: 600;
  color: var(--accent-ink); background: var(--accent); border: 1px solid var(--accent);
  border-radius: 4px; cursor: pointer; text-decoration: none; }
button.danger { background: var(--error); border-color: var(--error); }
button.secondary { background: var(--paper); color: var(--accent); }
.notice { border-left: 6px solid var(--muted); background: var(--soft); padding: .5rem 1rem;
  margin: 1rem 0; }
.notice h2 { margin-top: .3rem; font-size: 1.1rem; }
.notice.ok { border-color: var(--ok); }
.notice.warn { border-color: var(--warn); }
.notice.error { border-color: var(--error); }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: var(--soft); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.2rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 1rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; }
.card h2 { margin-top: 0; }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: .9rem; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
.table-scroll { overflow-x: auto; }
@media (max-width: 40em) {
  main { padding: .75rem; }
  header.site nav { margin-left: 0; }
  dl.facts { grid-template-columns: 1fr; }
  th, td { padding: .4rem .3rem; }
}
"#;
