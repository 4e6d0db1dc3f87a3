//! The reply writer: the `<QuickLicenseManager>` XML envelope, its JSON twin, and plain text.
//!
//! Escaping lives here and nowhere else. Every XML reply is written directly in canonical form
//! (Canonical XML 1.0, spec README §3): text escapes only `&`, `<`, `>` and carriage return;
//! attribute values are double-quoted and escape `&`, `<`, `"`, tab, line feed and carriage
//! return; attributes come in lexicographic order of their names; empty elements are written
//! `<a></a>`; the only whitespace between elements is one line feed after each child of the
//! root. **Invariant:** because the bytes are already canonical, the XML-DSig signature of
//! licence replies (spec offline.md; `crate::signing::xmldsig`) digests the document element
//! exactly as written here, with no general canonicaliser. Any change here must keep that
//! property (the tests compare against a real canonicaliser, and tests/air_gapped.rs verifies
//! signed replies with xmlsec1).
//!
//! Characters illegal in XML 1.0 never reach this writer: argument parsing refuses them, and
//! every other value is produced by licd itself.

use std::fmt::Write as _;

use crate::errors::MethodError;

/// The value of one reply element.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text: a JSON string.
    Text(String),
    /// An integer: a JSON number.
    Int(i64),
    /// A boolean: `true`/`false` in XML, a JSON boolean.
    Bool(bool),
    /// A list of records: `<name><item>…</item>…</name>`, a JSON array of objects.
    List {
        /// The element name of each record (`license`).
        item: &'static str,
        /// The records.
        records: Vec<Vec<Field>>,
    },
    /// A list of attribute-only records sent in XML as the *text* of the element: a whole
    /// XML document `<?xml version="1.0" encoding="utf-8"?><root><item a="…"></item>…</root>`,
    /// itself canonical (sorted attributes, no whitespace), escaped as text; QLM clients read
    /// the text and parse it as a document of its own (`productProperties`, QLM's
    /// ValidateLicenseHttp sample). JSON: an array of objects of strings.
    EmbeddedDocument {
        /// The root element of the inner document (`ProductProperties`).
        root: &'static str,
        /// The element name of each record (`Property`).
        item: &'static str,
        /// Each record's attributes, any order (they are sorted when written).
        entries: Vec<Vec<(&'static str, String)>>,
    },
    /// An element carrying attributes only, sent in XML alone (QLM's legacy
    /// `<serverDate date="…"></serverDate>`); JSON leaves it out.
    XmlAttrsOnly(Vec<(&'static str, String)>),
}

/// One named element of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The element name.
    pub name: &'static str,
    /// Its value.
    pub value: Value,
}

impl Field {
    /// A text element.
    pub fn text(name: &'static str, value: impl Into<String>) -> Self {
        Field {
            name,
            value: Value::Text(value.into()),
        }
    }
    /// An integer element.
    pub fn int(name: &'static str, value: i64) -> Self {
        Field {
            name,
            value: Value::Int(value),
        }
    }
    /// A boolean element.
    pub fn bool(name: &'static str, value: bool) -> Self {
        Field {
            name,
            value: Value::Bool(value),
        }
    }
}

/// A successful reply: the `<result>` sentence and the elements after it, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    /// The human-readable sentence of `<result>`.
    pub result: String,
    /// The elements after `<result>`.
    pub fields: Vec<Field>,
    /// When set, a vendor asked for `responseFormat = "text"`: these lines are the whole
    /// body (XML and JSON still use `result` and `fields`).
    pub text_lines: Option<Vec<String>>,
    /// When set, the XML body: [`xml_reply_document`] of this reply with its XML-DSig
    /// signature (`crate::signing`). JSON and text bodies never carry it.
    pub signed_document: Option<String>,
    /// When set, a method that answers a browser (SubscribeToMailListHttp with
    /// `is_html=true`): this HTML page is the whole body in place of the XML envelope
    /// (`is_format=json` still gets JSON).
    pub html_page: Option<String>,
}

impl Reply {
    /// A reply with its `<result>` sentence.
    pub fn new(result: impl Into<String>) -> Self {
        Reply {
            result: result.into(),
            fields: Vec::new(),
            text_lines: None,
            signed_document: None,
            html_page: None,
        }
    }

    /// Appends one element.
    pub fn push(&mut self, field: Field) {
        self.fields.push(field);
    }

    /// Appends a text element when there is a value (empty elements are left out, README §3).
    pub fn push_opt(&mut self, name: &'static str, value: Option<impl Into<String>>) {
        if let Some(v) = value {
            self.fields.push(Field::text(name, v));
        }
    }
}

/// The body format the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The `<QuickLicenseManager>` envelope (default).
    Xml,
    /// `is_format=json`.
    Json,
    /// A vendor's `responseFormat = "text"`: plain lines, successes only.
    Text,
}

/// A rendered body with its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
}

const XML_TYPE: &str = "text/xml; charset=utf-8";
const JSON_TYPE: &str = "application/json";
/// The content type of every plain-text reply: `responseFormat = "text"` replies here, and
/// the service page, `/healthz` and `/metrics` (`http::plain`).
pub const TEXT_TYPE: &str = "text/plain; charset=utf-8";
const HTML_TYPE: &str = "text/html; charset=utf-8";
const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
const BOM: &str = "\u{feff}";

/// Renders a success reply. `Format::Text` falls back to XML when the reply has no text form.
pub fn render_ok(reply: &Reply, format: Format, bom: bool) -> Body {
    match format {
        Format::Json => json_body(&reply_fields(reply), bom),
        Format::Text => match &reply.text_lines {
            Some(lines) => {
                let mut s = String::new();
                if bom {
                    s.push_str(BOM);
                }
                for line in lines {
                    s.push_str(line);
                    s.push('\n');
                }
                Body {
                    content_type: TEXT_TYPE,
                    bytes: s.into_bytes(),
                }
            }
            None => xml_reply_body(reply, bom),
        },
        Format::Xml => xml_reply_body(reply, bom),
    }
}

/// The XML document of a success reply, without BOM: what [`render_ok`] writes, and what a
/// signature covers (from the root element on).
pub fn xml_reply_document(reply: &Reply) -> String {
    let result = result_field(reply);
    xml_document(std::iter::once(&result).chain(&reply.fields))
}

fn xml_reply_body(reply: &Reply, bom: bool) -> Body {
    if let Some(page) = &reply.html_page {
        return Body {
            content_type: HTML_TYPE,
            bytes: page.clone().into_bytes(),
        };
    }
    match &reply.signed_document {
        Some(doc) => with_bom(doc.clone(), bom),
        None => with_bom(xml_reply_document(reply), bom),
    }
}

/// Renders a refusal: `<error>` and `<errorCode>`, in XML unless JSON was asked for (error
/// replies never use the text form).
pub fn render_error(error: &MethodError, format: Format, bom: bool) -> Body {
    let mut fields = vec![
        Field::text("error", error.message.clone()),
        Field::int("errorCode", i64::from(error.code.number())),
    ];
    if let Some(status) = error.status_flags {
        fields.push(Field::int("status", i64::from(status)));
    }
    match format {
        Format::Json => json_body(&fields, bom),
        Format::Xml | Format::Text => xml_body(&fields, bom),
    }
}

fn reply_fields(reply: &Reply) -> Vec<Field> {
    let mut fields = Vec::with_capacity(reply.fields.len() + 1);
    fields.push(result_field(reply));
    fields.extend(reply.fields.iter().cloned());
    fields
}

/// `<result>`, the first element of every success reply.
fn result_field(reply: &Reply) -> Field {
    Field::text("result", reply.result.clone())
}

/// The XML document for these root children, without BOM: the exact bytes a signature covers
/// after the declaration.
pub fn xml_document<'a>(fields: impl IntoIterator<Item = &'a Field>) -> String {
    // A validation's reply is about 1,100 bytes (with the demo product's two properties):
    // one allocation instead of a regrowth that copies the first KiB.
    let mut out = String::with_capacity(1536);
    out.push_str(XML_DECL);
    out.push_str("<QuickLicenseManager>\n");
    for field in fields {
        write_field(&mut out, field);
        out.push('\n');
    }
    out.push_str("</QuickLicenseManager>");
    out
}

fn xml_body(fields: &[Field], bom: bool) -> Body {
    with_bom(xml_document(fields), bom)
}

fn with_bom(doc: String, bom: bool) -> Body {
    let bytes = if bom {
        let mut s = String::with_capacity(doc.len() + 3);
        s.push_str(BOM);
        s.push_str(&doc);
        s.into_bytes()
    } else {
        doc.into_bytes()
    };
    Body {
        content_type: XML_TYPE,
        bytes,
    }
}

fn write_field(out: &mut String, field: &Field) {
    match &field.value {
        Value::Text(t) => write_text_element(out, field.name, t),
        Value::Int(i) => {
            open(out, field.name);
            // Digits and a sign need no escaping; writing to a String cannot fail.
            let _ = write!(out, "{i}");
            close(out, field.name);
        }
        Value::Bool(b) => write_text_element(out, field.name, if *b { "true" } else { "false" }),
        Value::List { item, records } => {
            open(out, field.name);
            for record in records {
                open(out, item);
                for f in record {
                    write_field(out, f);
                }
                close(out, item);
            }
            close(out, field.name);
        }
        Value::EmbeddedDocument {
            root,
            item,
            entries,
        } => write_text_element(out, field.name, &embedded_document(root, item, entries)),
        Value::XmlAttrsOnly(attrs) => write_attr_element(out, field.name, attrs),
    }
}

/// The inner document of [`Value::EmbeddedDocument`], unescaped: the declaration (without
/// the line feed of the reply's own), then the root and one attribute-only element a record.
fn embedded_document(root: &str, item: &str, entries: &[Vec<(&'static str, String)>]) -> String {
    let mut doc = String::with_capacity(64 + entries.len() * 96);
    doc.push_str(XML_DECL.trim_end());
    open(&mut doc, root);
    for attrs in entries {
        write_attr_element(&mut doc, item, attrs);
    }
    close(&mut doc, root);
    doc
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn write_text_element(out: &mut String, name: &str, text: &str) {
    open(out, name);
    escape_text(out, text);
    close(out, name);
}

fn write_attr_element(out: &mut String, name: &str, attrs: &[(&'static str, String)]) {
    let mut sorted: Vec<&(&str, String)> = attrs.iter().collect();
    // C14N orders attributes by name (no namespaces here, so plain code-point order).
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    out.push('<');
    out.push_str(name);
    for (k, v) in sorted {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_attr(out, v);
        out.push('"');
    }
    out.push('>');
    close(out, name);
}

/// `s` escaped for the text of an XML or HTML element.
pub fn escaped_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_text(&mut out, s);
    out
}

/// Text content in C14N form: `&`, `<`, `>` and CR are escaped, nothing else.
fn escape_text(out: &mut String, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Attribute values in C14N form: `&`, `<`, `"`, tab, LF and CR are escaped.
fn escape_attr(out: &mut String, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'"' => Some("&quot;"),
        b'\t' => Some("&#x9;"),
        b'\n' => Some("&#xA;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Appends `s` with each byte `escape` names replaced, copying the runs in between whole
/// (most values need no escape at all, so they are one copy). Every byte escaped is ASCII,
/// so the runs split `s` only at character boundaries.
fn escape_with(out: &mut String, s: &str, escape: impl Fn(u8) -> Option<&'static str>) {
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        if let Some(entity) = escape(b) {
            out.push_str(&s[run..i]);
            out.push_str(entity);
            run = i + 1;
        }
    }
    out.push_str(&s[run..]);
}

fn json_body(fields: &[Field], bom: bool) -> Body {
    let mut out = String::with_capacity(128);
    if bom {
        out.push_str(BOM);
    }
    write_json_object(&mut out, fields);
    Body {
        content_type: JSON_TYPE,
        bytes: out.into_bytes(),
    }
}

/// The JSON object of these fields, as a JSON reply writes it (without `result`): what an
/// outbound event's `license` object is, so a receiver reads the fields it knows.
pub fn json_object(fields: &[Field]) -> String {
    let mut out = String::with_capacity(256);
    write_json_object(&mut out, fields);
    out
}

fn write_json_object(out: &mut String, fields: &[Field]) {
    out.push('{');
    let mut first = true;
    for field in fields {
        if matches!(field.value, Value::XmlAttrsOnly(_)) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        json_string(out, field.name);
        out.push(':');
        match &field.value {
            Value::Text(t) => json_string(out, t),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::List { records, .. } => {
                out.push('[');
                for (i, record) in records.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_object(out, record);
                }
                out.push(']');
            }
            Value::EmbeddedDocument { entries, .. } => {
                out.push('[');
                for (i, attrs) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('{');
                    for (j, (k, v)) in attrs.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        json_string(out, k);
                        out.push(':');
                        json_string(out, v);
                    }
                    out.push('}');
                }
                out.push(']');
            }
            Value::XmlAttrsOnly(_) => {}
        }
    }
    out.push('}');
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorCode;

    fn sample() -> Reply {
        let mut r = Reply::new("a & b < c > d \" ' \t tab\nline\rcr");
        r.push(Field::int("numActivationsAllowed", 3));
        r.push(Field::bool("revoked", false));
        r.push(Field {
            name: "productProperties",
            value: Value::EmbeddedDocument {
                root: "ProductProperties",
                item: "Property",
                entries: vec![vec![
                    ("value", "x\"y'z&<>\t\n\r".to_string()),
                    ("category", "quality".to_string()),
                    ("name", "n".to_string()),
                    ("type", "string".to_string()),
                ]],
            },
        });
        r
    }

    #[test]
    fn xml_reply_is_written_in_canonical_form() {
        let body = render_ok(&sample(), Format::Xml, false);
        let text = String::from_utf8(body.bytes).unwrap();
        let expected = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<QuickLicenseManager>\n\
<result>a &amp; b &lt; c &gt; d \" ' \t tab\nline&#xD;cr</result>\n\
<numActivationsAllowed>3</numActivationsAllowed>\n<revoked>false</revoked>\n\
<productProperties>&lt;?xml version=\"1.0\" encoding=\"utf-8\"?&gt;&lt;ProductProperties&gt;\
&lt;Property category=\"quality\" name=\"n\" type=\"string\" \
value=\"x&amp;quot;y'z&amp;amp;&amp;lt;&gt;&amp;#x9;&amp;#xA;&amp;#xD;\"&gt;&lt;/Property&gt;\
&lt;/ProductProperties&gt;</productProperties>\n\
</QuickLicenseManager>";
        assert_eq!(text, expected);
        assert_eq!(body.content_type, "text/xml; charset=utf-8");
    }

    #[test]
    fn escaping_keeps_non_ascii_text_whole_around_each_entity() {
        assert_eq!(
            escaped_text("Zürich & Köln <東京>\r"),
            "Zürich &amp; Köln &lt;東京&gt;&#xD;"
        );
        assert_eq!(escaped_text("no escape: ünïcödé"), "no escape: ünïcödé");
        assert_eq!(escaped_text(""), "");
        let mut attr = String::new();
        escape_attr(&mut attr, "é\"\t\n\r&<>ß");
        assert_eq!(attr, "é&quot;&#x9;&#xA;&#xD;&amp;&lt;>ß");
    }

    #[test]
    fn bom_is_written_first_when_asked() {
        let body = render_ok(&Reply::new("ok"), Format::Xml, true);
        assert!(body.bytes.starts_with(&[0xEF, 0xBB, 0xBF, b'<']));
    }

    #[test]
    fn json_reply_types_numbers_booleans_and_lists() {
        let mut r = sample();
        r.push(Field {
            name: "serverDate",
            value: Value::XmlAttrsOnly(vec![("date", "x".into())]),
        });
        let body = render_ok(&r, Format::Json, false);
        let v: serde_json::Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(v["numActivationsAllowed"], 3);
        assert_eq!(v["revoked"], false);
        assert_eq!(v["productProperties"][0]["value"], "x\"y'z&<>\t\n\r");
        assert!(v.get("serverDate").is_none());
        assert_eq!(body.content_type, "application/json");
    }

    #[test]
    fn error_reply_carries_error_and_code() {
        let e = MethodError::new(ErrorCode::LicenseNotFound, "No such key.");
        let xml = String::from_utf8(render_error(&e, Format::Text, false).bytes).unwrap();
        assert!(xml.contains("<error>No such key.</error>\n<errorCode>203</errorCode>\n"));
        let json = render_error(&e, Format::Json, false);
        let v: serde_json::Value = serde_json::from_slice(&json.bytes).unwrap();
        assert_eq!(v["errorCode"], 203);
    }

    #[test]
    fn a_signed_document_is_the_xml_body_and_json_never_carries_it() {
        let mut r = Reply::new("Your license is valid.");
        r.push(Field::text("pckey", "U1"));
        let unsigned = xml_reply_document(&r);
        assert_eq!(render_ok(&r, Format::Xml, false).bytes, unsigned.as_bytes());
        let signed = unsigned.replace("</QuickLicenseManager>", "<S></S></QuickLicenseManager>");
        r.signed_document = Some(signed.clone());
        let xml = render_ok(&r, Format::Xml, true);
        assert_eq!(&xml.bytes[..3], &[0xEF, 0xBB, 0xBF]);
        assert_eq!(&xml.bytes[3..], signed.as_bytes());
        let json = render_ok(&r, Format::Json, false);
        assert!(!String::from_utf8(json.bytes).unwrap().contains("<S>"));
    }

    #[test]
    fn text_format_writes_lines_only() {
        let mut r = Reply::new("Created 2 activation keys.");
        r.text_lines = Some(vec!["K1".into(), "K2".into()]);
        let body = render_ok(&r, Format::Text, false);
        assert_eq!(body.bytes, b"K1\nK2\n");
        assert_eq!(body.content_type, "text/plain; charset=utf-8");
    }
}
