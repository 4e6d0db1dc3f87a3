//! The documentation, run (issue 20). A newcomer follows the docs word for word, so their
//! commands and the outputs they show are checked against the real binary:
//!
//! - every `printf … | md5sum` and `licd deactivation-code --date …` line of the docs prints
//!   byte for byte what the doc shows under it, and every code a doc submits (`licd release
//!   --code`, `is_deactivation_code=`) is the code of that doc's key and computer;
//! - the admin commands of docs/air-gapped.md work, as written, while licd runs, and print
//!   what the doc shows (keys, names and times checked for shape);
//! - every example of docs/protocol.md succeeds against a real daemon, and its reply holds no
//!   element that its section does not list;
//! - the README's curl tour answers what the README shows, `<result>` line first;
//! - docs/plugins.md's C build writes under the ignored `target/`, and a relative plugin
//!   `path` loads from licd's working directory;
//! - docs/benchmarks.md's `licd-bench` commands run as written (at a small scale), and
//!   `--baseline auto` gives the ratio to a hello baseline it measured itself.
//!
//! Output lines are the `#   ` comment lines right after a command (three spaces).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use quick_xml::events::Event;

use crate::util::{TestConfig, TestDaemon, licd_cmd};

/// The secret the docs' examples name for `[options] communicationEncryptionKey`.
const DOC_SECRET: &str = "s3cret";

/// The example key the docs use.
const DOC_KEY: &str = "A7K2M-Q9XWD-3T8RB-HN4CZ-E6V1P8";

/// The example install id of docs/protocol.md's analytics methods.
const DOC_INSTALL_ID: &str = "0f3c9a2b7d1e4f5a8b6c2d9e0a1b3c4d";
/// The authorization code in the example of ActivateKeyByAuthorizationCodeHttp.
const DOC_AUTHORIZATION_CODE: &str = "482913";

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A command of a sh block of a doc, with the output the doc shows under it.
#[derive(Debug)]
struct Shown {
    command: String,
    output: Vec<String>,
}

/// Every command of the ```sh blocks of `text` (continuation lines joined), in order.
fn shown(text: &str) -> Vec<Shown> {
    let mut out: Vec<Shown> = Vec::new();
    let mut indent: Option<usize> = None;
    let (mut attach, mut continued) = (false, false);
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            indent = match indent {
                None if trimmed == "```sh" => Some(line.len() - trimmed.len()),
                _ => None,
            };
            attach = false;
            continue;
        }
        let Some(n) = indent else { continue };
        let line = line.get(n..).unwrap_or("").trim_end();
        if continued && let Some(last) = out.last_mut() {
            let part = line.trim();
            continued = part.ends_with('\\');
            last.command.push(' ');
            last.command
                .push_str(part.trim_end_matches('\\').trim_end());
            continue;
        }
        if let Some(output) = line.strip_prefix("#   ") {
            if attach && let Some(last) = out.last_mut() {
                last.output.push(output.to_owned());
            }
        } else if line.is_empty() || line.starts_with('#') {
            attach = false;
        } else {
            continued = line.ends_with('\\');
            out.push(Shown {
                command: line.trim_end_matches('\\').trim_end().to_owned(),
                output: Vec::new(),
            });
            attach = true;
        }
    }
    out
}

/// Splits a command line into words, honouring '…' and "…" quotes.
fn words(command: &str) -> Vec<String> {
    let (mut out, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// `args` without `--config X` (the doc's /etc path).
fn without_config(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == "--config" {
            skip = true;
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// What a doc shows as a command's output, as the command prints it.
fn expected(s: &Shown) -> String {
    s.output.iter().map(|l| format!("{l}\n")).collect()
}

/// Key without dashes in upper case, as deactivation codes hash it.
fn canonical(key: &str) -> String {
    key.replace('-', "").to_uppercase()
}

/// Runs the `printf … | md5sum` and `licd deactivation-code --date …` lines of `doc`, each
/// compared byte for byte with what the doc shows; returns the codes by (key, computer).
fn run_code_lines(doc: &str) -> BTreeMap<(String, String), String> {
    let text = read(doc);
    assert!(
        text.contains(DOC_SECRET),
        "{doc} names the secret its codes are made with"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("licd.toml");
    std::fs::write(
        &config,
        format!("[options]\ncommunicationEncryptionKey = \"{DOC_SECRET}\"\n"),
    )
    .unwrap();
    let mut codes = BTreeMap::new();
    let mut ran = 0;
    for s in shown(&text) {
        let printed = if s.command.starts_with("printf ") && s.command.ends_with("| md5sum") {
            let out = Command::new("sh")
                .args(["-c", &s.command])
                .output()
                .unwrap();
            assert!(out.status.success(), "{doc}: {} failed", s.command);
            let input = words(&s.command).get(2).cloned().unwrap_or_default();
            let parts: Vec<&str> = input.split('|').collect();
            let printed = String::from_utf8(out.stdout).unwrap();
            if let ([key, pc, secret, _], Some(code)) =
                (parts.as_slice(), printed.split_whitespace().next())
            {
                assert_eq!(*secret, DOC_SECRET, "{doc}: {}", s.command);
                codes.insert((canonical(key), pc.to_string()), code.to_owned());
            }
            printed
        } else if s.command.starts_with("licd deactivation-code") && s.command.contains("--date") {
            let args = words(&s.command);
            let mut run = without_config(&args[1..]);
            run.extend(["--config".into(), config.to_str().unwrap().into()]);
            let run: Vec<&str> = run.iter().map(String::as_str).collect();
            let (code, out, err) = licd_cmd(&run, None, dir.path());
            assert_eq!(code, 0, "{doc}: {}: {err}", s.command);
            let key = flag(&args, "--key").unwrap_or_default();
            let pc = flag(&args, "--computer-id").unwrap_or_default();
            codes.insert((canonical(key), pc.to_owned()), out.trim().to_owned());
            out
        } else {
            continue;
        };
        ran += 1;
        assert!(!s.output.is_empty(), "{doc}: {} shows no output", s.command);
        assert_eq!(
            printed,
            expected(&s),
            "{doc}: `{}` prints something else than the doc shows",
            s.command
        );
    }
    assert!(ran >= 2, "{doc}: no printf or deactivation-code line found");
    codes
}

/// Asserts that every code `doc` submits is the code of its key and computer.
fn check_submitted_codes(doc: &str, codes: &BTreeMap<(String, String), String>) {
    let mut submitted = 0;
    for s in shown(&read(doc)) {
        let args = words(&s.command);
        let (key, pc, code) = if s.command.starts_with("licd release") {
            (
                flag(&args, "--key"),
                flag(&args, "--computer-id"),
                flag(&args, "--code"),
            )
        } else if s.command.starts_with("curl") && s.command.contains("is_deactivation_code=") {
            let query = args
                .get(1)
                .and_then(|u| u.split_once('?'))
                .map_or("", |q| q.1);
            let arg = |name: &str| {
                query
                    .split('&')
                    .find_map(|p| p.strip_prefix(&format!("{name}=")))
            };
            (arg("is_avkey"), arg("is_pcid"), arg("is_deactivation_code"))
        } else {
            continue;
        };
        let (Some(key), Some(pc), Some(code)) = (key, pc, code) else {
            continue;
        };
        submitted += 1;
        let right = codes
            .get(&(canonical(key), pc.to_owned()))
            .unwrap_or_else(|| panic!("{doc} shows no code for {key} on {pc}: {codes:?}"));
        assert_eq!(
            code, right,
            "{doc}: `{}` submits another computer's or key's code",
            s.command
        );
    }
    assert!(submitted > 0, "{doc} submits no code");
}

#[test]
fn air_gapped_md_code_lines_print_what_it_shows_and_its_releases_submit_pc_air_7s_code() {
    let codes = run_code_lines("docs/air-gapped.md");
    check_submitted_codes("docs/air-gapped.md", &codes);
}

#[test]
fn releases_md_code_lines_print_what_it_shows_and_its_release_submits_the_right_code() {
    let codes = run_code_lines("docs/releases.md");
    check_submitted_codes("docs/releases.md", &codes);
}

/// `text` with what varies from run to run made uniform: signing-key names, date-times,
/// version numbers, runs of spaces.
fn shape(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let is_digits = |from: usize, n: usize| {
        (from..from + n).all(|j| chars.get(j).is_some_and(char::is_ascii_digit))
    };
    while i < chars.len() {
        let rest: String = chars[i..].iter().take(5).collect();
        if rest == "licd-"
            && (i + 5..i + 21).all(|j| chars.get(j).is_some_and(char::is_ascii_hexdigit))
        {
            out.push_str("licd-<name>");
            i += 21;
        } else if is_digits(i, 4)
            && chars.get(i + 4) == Some(&'-')
            && is_digits(i + 5, 2)
            && chars.get(i + 7) == Some(&'-')
            && is_digits(i + 8, 2)
            && matches!(chars.get(i + 10), Some(' ' | 'T'))
            && is_digits(i + 11, 2)
        {
            out.push_str("<time>");
            i += 19;
            if chars.get(i) == Some(&'Z') {
                i += 1;
            }
        } else if let Some(n) = version_at(&chars, i) {
            out.push_str("<version>");
            i += n;
        } else if chars[i].is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
            i += 1;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.trim().to_owned()
}

/// The length of a version number `1.2.3` starting at `i` after a space, if there is one.
fn version_at(chars: &[char], i: usize) -> Option<usize> {
    if i > 0 && !chars[i - 1].is_whitespace() {
        return None;
    }
    let mut j = i;
    for part in 0..3 {
        let start = j;
        while chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        if j == start || (part < 2 && chars.get(j) != Some(&'.')) {
            return None;
        }
        if part < 2 {
            j += 1;
        }
    }
    Some(j - i)
}

#[test]
fn air_gapped_md_admin_commands_work_as_written_while_licd_runs() {
    // The doc once told admins to stop the service first; these run against a live daemon.
    let config =
        TestConfig::demo().options(&format!("communicationEncryptionKey = \"{DOC_SECRET}\""));
    let d = TestDaemon::start(&config);
    let key = d.create_key("is_numberofactivationsperkey=1");
    let mut ran = Vec::new();
    for s in shown(&read("docs/air-gapped.md")) {
        let args = words(&s.command);
        let is_admin = ["license-file", "signing-key", "release"]
            .iter()
            .any(|c| args.get(1).is_some_and(|a| a == c));
        if args.first().is_none_or(|a| a != "licd") || !is_admin {
            continue;
        }
        let mut run: Vec<String> = without_config(&args[1..])
            .into_iter()
            .map(|a| a.replace(DOC_KEY, &key))
            .collect();
        if let Some(i) = run.iter().position(|a| a == "--code") {
            // The doc's code is for its key and day; submit today's for ours.
            let pc = flag(&args, "--computer-id").unwrap_or_default();
            let today = d.cli(&["deactivation-code", "--key", &key, "--computer-id", pc]);
            assert_eq!(today.0, 0, "{}", today.2);
            run[i + 1] = today.1.trim().to_owned();
        }
        let run: Vec<&str> = run.iter().map(String::as_str).collect();
        let (code, out, err) = d.cli(&run);
        assert_eq!(code, 0, "`{}` failed while licd runs: {err}", s.command);
        let want = shape(&expected(&s).replace(DOC_KEY, &key));
        assert_eq!(shape(&out), want, "`{}` prints another shape", s.command);
        ran.push(args[1].clone());
    }
    for command in ["signing-key", "license-file", "release"] {
        assert!(
            ran.iter().any(|c| c == command),
            "{command} not in the doc: {ran:?}"
        );
    }
    assert!(
        d.dir().join("PC-AIR-7.xml").exists(),
        "license-file wrote the file"
    );
    d.activate(&key, "PC-OTHER").expect_ok();
}

/// One `### Method` section of docs/protocol.md §9.
struct Section {
    names: Vec<String>,
    example: String,
    reply_text: String,
    reply: Vec<String>,
}

/// Backticked words that can be element names.
fn element_names(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && w.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .map(str::to_owned)
        .collect()
}

fn protocol_sections() -> (Vec<Section>, Vec<String>) {
    let doc = read("docs/protocol.md");
    let info: Vec<String> = doc
        .split_once("## 7. Licence info elements")
        .and_then(|(_, rest)| rest.split_once("## 8."))
        .map(|(table, _)| {
            table
                .lines()
                .filter_map(|l| l.strip_prefix("| "))
                .flat_map(|l| element_names(l.split('|').next().unwrap_or("")))
                .collect()
        })
        .expect("§7 of docs/protocol.md");
    let methods = doc.split_once("## 9. The methods").expect("§9").1;
    let mut sections: Vec<Section> = Vec::new();
    let mut in_reply = false;
    for line in methods.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            sections.push(Section {
                names: heading.split(" / ").map(str::to_owned).collect(),
                example: String::new(),
                reply_text: String::new(),
                reply: Vec::new(),
            });
            continue;
        }
        let Some(s) = sections.last_mut() else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("**Example:**") {
            s.example = rest.split('`').nth(1).unwrap_or("").to_owned();
        }
        in_reply = line.starts_with("**Reply:**") || (in_reply && !line.is_empty());
        if in_reply {
            // A backticked span may run over a line break.
            s.reply_text.push_str(line);
            s.reply_text.push(' ');
        }
    }
    for s in &mut sections {
        s.reply = element_names(&s.reply_text);
        if s.reply_text.contains("licence info elements") {
            s.reply.extend(info.iter().cloned());
        }
    }
    (sections, info)
}

/// Every element name in a reply, at any depth below the envelope.
fn all_element_names(body: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(body.trim_start_matches('\u{feff}'));
    let (mut depth, mut names) = (0, Vec::new());
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                if depth >= 2 {
                    names.push(e.name().0.to_string());
                }
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Eof) => return names,
            Err(e) => panic!("not XML ({e}): {body}"),
            _ => {}
        }
    }
}

#[test]
fn protocol_md_examples_succeed_and_replies_hold_only_documented_elements() {
    let config = TestConfig::demo()
        .security("enableRetrieveActivationKeyHttp = true")
        .security("enablePublishAnalyticsApi = true")
        .security("enableActivationByAuthorizationCode = true")
        .security("strictAuthenticationHttpMethods = []");
    let d = TestDaemon::start(&config);
    let install_id = d
        .call("AnalyticsAddInstallHttp", "")
        .get("installID")
        .expect("an install id");
    d.create_key("is_orderid=ORDER-1");
    let (sections, info) = protocol_sections();
    assert!(info.contains(&"serverDate".to_owned()), "{info:?}");
    let mut called = 0;
    for section in &sections {
        let (path, query) = section
            .example
            .strip_prefix("GET ")
            .and_then(|e| e.split_once('?').or(Some((e, ""))))
            .unwrap_or_else(|| panic!("{:?} has no GET example", section.names));
        for name in &section.names {
            // UpdatePrivacyConsentHttp's example names the key's customer, whom
            // UpdateUserInformation's example made.
            let key = match name.as_str() {
                "UpdatePrivacyConsentHttp" => d.create_key("is_email=ann@example.com"),
                _ => d.create_key("is_numberofactivationsperkey=2"),
            };
            let query = query
                .replace("is_vendor=…", "is_vendor=QlmAuthenticationProvider")
                .replace("is_user=…", "is_user=demo")
                .replace("is_pwd=…", "is_pwd=demo")
                .replace(DOC_KEY, &key)
                .replace(DOC_INSTALL_ID, &install_id);
            // ActivateKeyByAuthorizationCodeHttp's example uses the code that
            // RequestAuthorizationCodeForActivationHttp's example had mailed to ann@example.com.
            let query = if name == "ActivateKeyByAuthorizationCodeHttp" {
                query.replace(DOC_AUTHORIZATION_CODE, &crate::util::queued_code(&d))
            } else {
                query
            };
            assert!(!query.contains('…'), "{name}: {query}");
            if name == "ReleaseLicenseHttp" {
                d.activate(&key, "PC-7").expect_ok();
            }
            let path = path.replace(&section.names[0], name);
            let r = d.get(&format!("{path}?{query}"));
            assert!(
                r.error_code().is_none(),
                "{name}: the example of docs/protocol.md fails: {}",
                r.body
            );
            assert_eq!(
                r.element_names().first().map(String::as_str),
                Some("result")
            );
            for element in all_element_names(&r.body) {
                assert!(
                    section.reply.contains(&element),
                    "{name} replies <{element}>, which its section of docs/protocol.md does not list: {}",
                    r.body
                );
            }
            called += 1;
        }
    }
    assert_eq!(called, 23, "every method's example ran");
}

/// Whether `body` holds every `…`-separated fragment of `want`, in order, from `from`.
fn holds_in_order(body: &str, want: &str, from: &mut usize) -> bool {
    for fragment in want.split('…').map(str::trim).filter(|f| !f.is_empty()) {
        match body.get(*from..).and_then(|rest| rest.find(fragment)) {
            Some(at) => *from += at + fragment.len(),
            None => return false,
        }
    }
    true
}

#[test]
fn readme_curl_tour_answers_what_the_readme_shows_result_first() {
    let d = TestDaemon::start_embedded();
    let placeholder = "AXXXX-XXXXX-XXXXX-XXXXX-XXXXXX";
    let mut key: Option<String> = None;
    let mut calls = 0;
    for s in shown(&read("README.md")) {
        let Some(url) = s.command.strip_prefix("curl ") else {
            continue;
        };
        let url = url.trim_matches('"').replace("$B", "/qlmservice.asmx");
        let url = url.replace("$KEY", key.as_deref().unwrap_or(placeholder));
        let r = d.get(&url);
        assert!(r.error_code().is_none(), "{url}: {}", r.body);
        if key.is_none() {
            key = r.get("activationKey");
        }
        let first = s.output.first().map(String::as_str).unwrap_or("");
        assert!(
            first.starts_with("<result>") || first.starts_with("{\"result\""),
            "the README shows `{first}` first for {url}; every reply starts with its result"
        );
        let body = shape(&r.body.replace('\n', ""));
        let mut at = 0;
        for line in &s.output {
            let line = line.replace(placeholder, key.as_deref().unwrap_or(placeholder));
            assert!(
                holds_in_order(&body, &shape(&line), &mut at),
                "{url}: the reply does not show `{line}`:\n{}",
                r.body
            );
        }
        calls += 1;
    }
    assert_eq!(calls, 4, "the tour's four calls");
}

#[test]
fn plugins_md_c_build_stays_out_of_the_tree_and_a_relative_plugin_path_loads() {
    // The build command of docs/plugins.md, run as written from a copy of the repository's
    // layout, so that what it writes is seen (and never lands in the real tree).
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    for linked in ["plugin-api", "plugins"] {
        std::os::unix::fs::symlink(repo.join(linked), dir.path().join(linked)).unwrap();
    }
    let commands: Vec<Shown> = shown(&read("docs/plugins.md"))
        .into_iter()
        .filter(|s| s.command.starts_with("mkdir ") || s.command.starts_with("cc "))
        .collect();
    let cc = commands
        .iter()
        .find(|s| s.command.contains("licd_example.c"))
        .expect("docs/plugins.md shows how to build the C example");
    let out = flag(&words(&cc.command), "-o")
        .unwrap_or_default()
        .to_owned();
    assert!(
        out.starts_with("target/"),
        "the C build writes {out}, outside the ignored target/"
    );
    let ignored = read(".gitignore");
    assert!(
        ignored.lines().any(|l| l == "*.so") && ignored.lines().any(|l| l == "/target"),
        ".gitignore ignores target/ and *.so: {ignored}"
    );
    for s in &commands {
        let status = Command::new("sh")
            .args(["-c", &s.command])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "`{}` failed", s.command);
    }
    let library = dir.path().join(&out);
    // licd refuses a plugin its group may write, whatever the umask made it.
    std::fs::set_permissions(
        &library,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // A relative `path` is read from licd's working directory, as plugins.md and
    // conf/licd.toml say.
    let config = TestConfig::demo().append(&format!(
        "[[plugin]]\nname = \"shop-token\"\npath = \"{out}\"\n  [plugin.config]\n  token = \"s3cret\"\n\n\
         [[vendor]]\nname = \"Shop\"\nplugin = \"shop-token\"\n"
    ));
    let d = TestDaemon::start_in(dir, &config);
    assert!(
        d.logs()
            .contains(&format!("listening on http://{}", d.addr)),
        "the port is read from the start-up line: {}",
        d.logs()
    );
    let call = |token: &str| {
        d.raw(&format!(
            "GET /qlmservice.asmx/GetActivationKey?is_vendor=Shop&is_productid=1&is_majorversion=1&is_minorversion=0 HTTP/1.1\r\nHost: {}\r\nX-Shop-Token: {token}\r\nConnection: close\r\n\r\n",
            d.addr
        ))
    };
    call("s3cret").expect_ok();
    call("guess").expect_error(8);
}

/// Builds `licd-bench` into this run's target directory (the test binary is
/// `target/<profile>/deps/tests-…`) and returns its path.
fn licd_bench() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<binary>");
    let status = Command::new(env!("CARGO"))
        // One job: other tests run meanwhile on a 2-core machine, some of them timed.
        .args([
            "build",
            "--quiet",
            "-j",
            "1",
            "-p",
            "licd-bench",
            "--target-dir",
        ])
        .arg(target)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .status()
        .expect("run cargo build -p licd-bench");
    assert!(status.success(), "cargo build -p licd-bench failed");
    target.join("debug").join("licd-bench")
}

#[test]
fn benchmarks_md_commands_run_as_written_at_a_small_scale() {
    let bench = licd_bench();
    let d = TestDaemon::start(&TestConfig::demo());
    let url = format!("http://{}", d.addr);
    let mut ran: Vec<String> = Vec::new();
    for s in shown(&read("docs/benchmarks.md")) {
        let Some(rest) = s.command.strip_prefix("$B ") else {
            continue;
        };
        // The doc's command with its scale made small: 1 s, 2 clients, 30 licences.
        let mut args: Vec<String> = words(rest);
        for (flag, small) in [
            ("--duration", "1"),
            ("--clients", "2"),
            ("--licences", "30"),
        ] {
            if let Some(i) = args.iter().position(|a| a == flag) {
                args[i + 1] = small.to_owned();
            }
        }
        for a in &mut args {
            *a = a.replace("$PID", &d.pid().to_string());
        }
        let auto = args
            .windows(2)
            .any(|w| w[0] == "--baseline" && w[1] == "auto");
        let name = flag(&args, "--scenario").unwrap_or(&args[0]).to_owned();
        let what = format!("{name} {auto}");
        if ran.contains(&what) {
            continue;
        }
        args.extend(["--url".to_owned(), url.clone()]);
        if args[0] == "run" {
            args.extend(["--pairs".to_owned(), "20".to_owned()]);
        }
        let out = Command::new(&bench).args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`{}` failed:\n{stdout}\n{}",
            s.command,
            String::from_utf8_lossy(&out.stderr)
        );
        if auto {
            assert!(
                stdout.contains("hello baseline: ") && stdout.contains("of the hello baseline's"),
                "`{}` gives no ratio to the baseline:\n{stdout}",
                s.command
            );
        }
        if args.iter().any(|a| a == "--pid") {
            assert!(stdout.contains("daemon RSS: "), "{stdout}");
        }
        if name == "seed" {
            // The scale table's database has one activation per licence.
            assert!(args.iter().any(|a| a == "--activate"), "{}", s.command);
            assert!(stdout.contains("created 30 licences"), "{stdout}");
        }
        ran.push(what);
    }
    for scenario in ["activate", "validate", "release", "mixed", "create", "seed"] {
        assert!(
            ran.iter().any(|r| r.starts_with(&format!("{scenario} "))),
            "docs/benchmarks.md runs no {scenario}: {ran:?}"
        );
    }
    assert!(
        ran.iter().any(|r| r.ends_with("true")),
        "no --baseline auto run"
    );
}
