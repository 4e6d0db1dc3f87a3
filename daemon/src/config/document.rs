//! Step 1 of loading: TOML text → [`Config`], reporting every syntax error, unknown key and
//! badly typed value with its line.
//!
//! Deserialising the whole file in one go would stop at the first problem. Instead the file is
//! parsed into a spanned tree, every table is checked for unknown keys (each reported, then
//! dropped), and each section and each `[[...]]` entry is deserialised on its own, a bad
//! value being reported and dropped in turn until the rest deserialises. So one bad vendor
//! does not hide a typo in `[server]`, nor one bad value another.

use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::blame::{Step, choices_of, find_culprit, list_entry, remove_at};
use super::explain::{NOT_A_WORD, as_written, explain};
use super::suggest::nearest;
use super::{
    ActivationConfig, Config, ConfigError, ConsoleConfig, ConsoleUser, OptionsConfig, PluginConfig,
    Product, SecurityConfig, ServerConfig, Vendor,
};
use crate::license::properties::PropertyDef;

/// A spanned value of the parsed tree.
type Value<'i> = Spanned<DeValue<'i>>;

/// Keys whose values are secrets: a type error on one of them must not quote the value.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwordHash",
    "apiKey",
    "communicationEncryptionKey",
    "postgresUrl",
];

/// Parses `text` into a configuration whose secrets are not yet read nor rules checked, with
/// the problems found on the way (unknown keys and bad values, each dropped). Only a syntax
/// error stops here: past it the tree is a guess. Otherwise the caller still validates what
/// was read, so a bad CIDR does not hide an out-of-range value next to it.
pub(super) fn parse(text: &str, origin: &str) -> Result<(Config, Vec<String>), ConfigError> {
    let mut report = Report {
        text,
        origin,
        problems: Vec::new(),
    };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        // Past a syntax error the tree is a guess; type errors found in it would mislead.
        for e in &syntax_errors {
            report.syntax_error(e);
        }
        return Err(report.into_error());
    }

    let mut root = root.into_inner();
    drop_unknown_keys::<Config>(&mut root, "at the top level", &mut report);

    let mut config = Config {
        server: Default::default(),
        security: Default::default(),
        options: Default::default(),
        activation: Default::default(),
        store: Default::default(),
        analytics: Default::default(),
        mail: Default::default(),
        webhooks: Default::default(),
        console: Default::default(),
        portal: Default::default(),
        products: Vec::new(),
        vendors: Vec::new(),
        plugins: Vec::new(),
        warnings: Vec::new(),
        origin: String::new(),
    };
    for (key, value) in root {
        let name = key.get_ref().as_ref();
        let place = format!("[{name}]");
        match name {
            "server" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.server = s;
                }
            }
            "security" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.security = s;
                }
            }
            "options" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.options = s;
                }
            }
            "activation" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.activation = s;
                }
            }
            "store" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.store = s;
                }
            }
            "analytics" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.analytics = s;
                }
            }
            "mail" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.mail = s;
                }
            }
            "webhooks" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.webhooks = s;
                }
            }
            "console" => {
                if let Some(s) = console_section(value, &mut report) {
                    config.console = s;
                }
            }
            "portal" => {
                if let Some(s) = section(value, &place, &mut report) {
                    config.portal = s;
                }
            }
            "product" => config.products = entries(value, name, &mut report, check_product_keys),
            "vendor" => {
                config.vendors = entries(value, name, &mut report, drop_unknown_keys::<Vendor>)
            }
            "plugin" => {
                config.plugins =
                    entries(value, name, &mut report, drop_unknown_keys::<PluginConfig>)
            }
            // Unknown top-level keys were reported and removed above.
            _ => {}
        }
    }

    let problems = if report.problems.is_empty() {
        Vec::new()
    } else {
        report.into_error().problems
    };
    Ok((config, problems))
}

/// Problems found so far, each with the byte offset it was found at so they can be listed in
/// file order however the tree was walked.
struct Report<'a> {
    text: &'a str,
    origin: &'a str,
    problems: Vec<(usize, String)>,
}

impl Report<'_> {
    /// Records `message` as found at byte `offset`, prefixed `origin:line:column: `.
    fn push(&mut self, offset: usize, message: String) {
        let (line, column) = self.line_column(offset);
        self.problems.push((
            offset,
            format!("{}:{line}:{column}: {message}", self.origin),
        ));
    }

    /// The line and column (both from 1) of byte `offset`.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }

    /// Records a TOML syntax error.
    fn syntax_error(&mut self, error: &toml::de::Error) {
        let span = error.span().unwrap_or(0..0);
        let mut message = error.message().trim_end().to_owned();
        // toml says only "duplicate key"; naming it saves the admin a search. Other spans are
        // not quoted: they may cover a secret's value.
        if message.starts_with("duplicate key")
            && let Some(key) = self.text.get(span.clone())
            && !key.contains('\n')
        {
            message = format!("{message} `{}`", key.trim());
        }
        self.push(span.start, message);
    }

    /// The error to return: every problem, in file order.
    fn into_error(mut self) -> ConfigError {
        self.problems.sort_by_key(|(offset, _)| *offset);
        ConfigError {
            problems: self.problems.into_iter().map(|(_, p)| p).collect(),
        }
    }
}

/// Deserialises one `[section]` table, reporting its unknown keys and bad values.
fn section<T: DeserializeOwned>(
    mut value: Value<'_>,
    place: &str,
    report: &mut Report<'_>,
) -> Option<T> {
    if let DeValue::Table(table) = value.get_mut() {
        drop_unknown_keys::<T>(table, &format!("in {place}"), report);
    }
    deserialize(value, place, "", report)
}

/// Deserialises `[console]`, reporting the unknown keys of the table and of each
/// `[[console.user]]` entry.
fn console_section(mut value: Value<'_>, report: &mut Report<'_>) -> Option<ConsoleConfig> {
    if let DeValue::Table(table) = value.get_mut() {
        drop_unknown_keys::<ConsoleConfig>(table, "in [console]", report);
        if let Some(users) = table.get_mut("user")
            && let DeValue::Array(array) = users.get_mut()
        {
            for (index, item) in array.iter_mut().enumerate() {
                let place = format!("in {}", entry_place("console.user", index, item));
                if let DeValue::Table(user) = item.get_mut() {
                    drop_unknown_keys::<ConsoleUser>(user, &place, report);
                }
            }
        }
    }
    deserialize(value, "[console]", "console", report)
}

/// Deserialises every entry of a `[[name]]` array on its own, keeping the good ones.
fn entries<T: DeserializeOwned>(
    value: Value<'_>,
    name: &str,
    report: &mut Report<'_>,
    check_keys: fn(&mut DeTable<'_>, &str, &mut Report<'_>),
) -> Vec<T> {
    let start = value.span().start;
    let DeValue::Array(array) = value.into_inner() else {
        report.push(
            start,
            format!("`{name}` must be written as [[{name}]] tables"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, item) in array.iter().enumerate() {
        let mut item = item.clone();
        let place = entry_place(name, index, &item);
        if let DeValue::Table(table) = item.get_mut() {
            check_keys(table, &format!("in {place}"), report);
        }
        if let Some(entry) = deserialize(item, &place, name, report) {
            out.push(entry);
        }
    }
    out
}

/// `[[vendor]] #2 "Shop"`: which entry a problem is in, by position and, if it has one, name.
fn entry_place(array: &str, index: usize, item: &Value<'_>) -> String {
    let name = match item.get_ref() {
        DeValue::Table(table) => table
            .get("name")
            .and_then(|v| v.get_ref().as_str())
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default(),
        _ => String::new(),
    };
    format!("[[{array}]] #{}{name}", index + 1)
}

/// Unknown keys of a `[[product]]` entry and of each of its `[[product.property]]` entries.
fn check_product_keys(table: &mut DeTable<'_>, place: &str, report: &mut Report<'_>) {
    drop_unknown_keys::<Product>(table, place, report);
    if let Some(properties) = table.get_mut("property")
        && let DeValue::Array(array) = properties.get_mut()
    {
        for (index, item) in array.iter_mut().enumerate() {
            if let DeValue::Table(property) = item.get_mut() {
                let place = format!("{place}, [[product.property]] #{}", index + 1);
                drop_unknown_keys::<PropertyDef>(property, &place, report);
            }
        }
    }
}

/// The sections of server properties and licd's own settings, whose keys an admin may put
/// in the wrong one.
fn sections() -> [(&'static str, &'static [&'static str]); 10] {
    [
        ("[server]", field_names::<ServerConfig>()),
        ("[store]", field_names::<super::StoreConfig>()),
        ("[security]", field_names::<SecurityConfig>()),
        ("[options]", field_names::<OptionsConfig>()),
        ("[activation]", field_names::<ActivationConfig>()),
        ("[analytics]", field_names::<super::AnalyticsConfig>()),
        ("[mail]", field_names::<super::MailConfig>()),
        ("[webhooks]", field_names::<super::WebhooksConfig>()),
        ("[console]", field_names::<ConsoleConfig>()),
        ("[portal]", field_names::<super::PortalConfig>()),
    ]
}

/// Reports each key of `table` that `T` does not have, then removes it so that the bad values
/// among the remaining keys are still found in the same run. The report suggests the nearest
/// known key of this table, else of another section (`did you mean … in [options]?`), else
/// lists the known keys.
fn drop_unknown_keys<T: DeserializeOwned>(
    table: &mut DeTable<'_>,
    place: &str,
    report: &mut Report<'_>,
) {
    let known = field_names::<T>();
    let unknown: Vec<(usize, String)> = table
        .keys()
        .filter(|k| !known.contains(&k.get_ref().as_ref()))
        .map(|k| (k.span().start, k.get_ref().to_string()))
        .collect();
    for (offset, key) in unknown {
        let elsewhere = || {
            sections()
                .into_iter()
                .filter(|(_, keys)| *keys != known)
                .find_map(|(name, keys)| nearest(&key, keys).map(|k| (name, k)))
        };
        let hint = match (nearest(&key, known), elsewhere()) {
            (Some(near), _) => format!("did you mean `{near}`?"),
            (None, Some((section, near))) if near == key => {
                format!("`{key}` belongs in {section}")
            }
            (None, Some((section, near))) => format!("did you mean `{near}` in {section}?"),
            (None, None) => format!("known keys: {}", known.join(", ")),
        };
        report.push(offset, format!("unknown key `{key}` {place}; {hint}"));
        table.remove(key.as_str());
    }
}

/// Deserialises one spanned value. Each failure is reported in the admin's words (the key,
/// its line, the value as written and what was expected); if it lies in one key's value,
/// that key is dropped and the rest tried again, so every bad value is listed, not only the
/// first. Returns `None` if a problem remains that no key can be blamed for. `array` is the
/// name of the `[[array]]` the value is an entry of (empty for a section).
fn deserialize<T: DeserializeOwned>(
    mut value: Value<'_>,
    place: &str,
    array: &str,
    report: &mut Report<'_>,
) -> Option<T> {
    // The ways to the values dropped so far.
    let mut dropped: Vec<Vec<Step>> = Vec::new();
    loop {
        let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let at = error.span().map_or(value.span().start, |s| s.start);
        // Dropping a required key makes serde miss it; that is not a second problem. In a
        // nested entry (`[[product.property]]`) the whole list goes then, so that the rest of
        // the product is still checked; at the top, the entry is given up.
        let missed = dropped.iter().find(|path| {
            matches!(path.last(), Some(Step::Key(k))
                if error.message().contains(&format!("missing field `{k}`")))
        });
        if let Some(path) = missed {
            match (path.first(), path.len() > 1, value.get_mut()) {
                (Some(Step::Key(top)), true, DeValue::Table(table)) => {
                    let top = top.clone();
                    table.remove(top.as_str());
                    dropped.push(vec![Step::Key(top)]);
                    continue;
                }
                _ => return None,
            }
        }
        let culprit = match value.get_ref() {
            DeValue::Table(table) => find_culprit(table, at, array),
            _ => None,
        };
        let Some(culprit) = culprit else {
            report.push(at, format!("{place}: {}", explain(error.message())));
            return None;
        };
        let why = if error.message().trim_end() == NOT_A_WORD {
            choices_of::<T>(&value, &culprit.path).unwrap_or_else(|| {
                "expected one of the words conf/licd.toml lists for it, in double quotes".into()
            })
        } else {
            explain(error.message())
        };
        let (line, _) = report.line_column(culprit.key_offset);
        let key = &culprit.key;
        let secret = SECRET_KEYS.contains(&key.as_str());
        let what = if secret {
            // Never quote a secret, not even a badly typed one.
            format!("`{key}`")
        } else {
            let written = report.text.get(culprit.value_span.clone()).unwrap_or("");
            format!("{key} = {}", as_written(written))
        };
        // In a list, say which entry is wrong: `blockComputerIDs = [1, 2]`: 1.
        let why = match list_entry(&value, &culprit.path, at) {
            Some(span) if !secret => {
                let entry = report.text.get(span).unwrap_or("");
                format!("the entry {}: {why}", as_written(entry))
            }
            _ => why,
        };
        report.push(
            at,
            format!("{place}{}: {what} on line {line}: {why}", culprit.place),
        );
        remove_at(&mut value, &culprit.path);
        dropped.push(culprit.path);
    }
}

/// The TOML key names a struct accepts, read from its `Deserialize` impl.
///
/// Serde hands the list of field names (after renaming) to `deserialize_struct`; this
/// deserializer records it and stops. Taking the names from the struct keeps one list of keys,
/// so a key added to a struct can never be missing from the unknown-key check.
pub(super) fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    // The call always "fails": FieldNames stops as soon as it has seen the field list.
    let _ = T::deserialize(FieldNames(&mut names));
    names
}

/// A deserializer that only records the field list of the struct asked of it.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// `listen`: an IP address and port. Host names are refused with a hint, since a name could
/// resolve to a public address and defeat the loopback-only demo-password rule.
pub(super) fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(|_| {
        de::Error::custom(format!(
            "`{text}` is not an IP address and port; write e.g. \"127.0.0.1:8080\", \
             \"0.0.0.0:8080\" or \"[::1]:8080\""
        ))
    })
}

/// `releaseDate`: a string, or a TOML local date, kept as the string `yyyy-MM-dd`; the
/// form itself is checked in validation, so a bad date is listed with the other problems.
pub(super) fn optional_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::String(s) => Ok(Some(s)),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            Ok(Some(dt.to_string()))
        }
        other => Err(de::Error::custom(format!(
            "expected a date written yyyy-MM-dd, such as 2026-01-15 (not {})",
            other.type_str()
        ))),
    }
}
