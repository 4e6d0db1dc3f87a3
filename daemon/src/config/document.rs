//! Step 1 of loading: TOML text → [`Config`], reporting every syntax error, unknown key and
//! badly typed value with its line.
//!
//! Deserialising the whole file in one go would stop at the first problem. Instead the file is
//! parsed into a spanned tree, every table is checked for unknown keys (each reported and then
//! dropped), and each section and each `[[...]]` entry is deserialised on its own, so one bad
//! vendor does not hide a typo in `[server]`.

use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{Config, ConfigError, PluginConfig, Product, Vendor};
use crate::license::properties::PropertyDef;

/// A spanned value of the parsed tree.
type Value<'i> = Spanned<DeValue<'i>>;

/// Parses `text` into a configuration whose secrets are not yet resolved nor rules checked.
pub(super) fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let here = Locator { text, origin };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        // Past a syntax error the tree is a guess; type errors from it would only mislead.
        let problems = syntax_errors
            .iter()
            .map(|e| here.toml_error(e, ""))
            .collect();
        return Err(ConfigError { problems });
    }

    let mut problems = Vec::new();
    let mut root = root.into_inner();
    drop_unknown_keys::<Config>(&mut root, "at the top level", &here, &mut problems);

    let mut config = Config {
        server: Default::default(),
        security: Default::default(),
        options: Default::default(),
        activation: Default::default(),
        products: Vec::new(),
        vendors: Vec::new(),
        plugins: Vec::new(),
        warnings: Vec::new(),
        origin: String::new(),
    };
    for (key, mut value) in root {
        let name = key.get_ref().as_ref();
        let place = format!("[{name}]");
        match name {
            "server" => {
                if let Some(s) = section(&mut value, &place, &here, &mut problems) {
                    config.server = s;
                }
            }
            "security" => {
                if let Some(s) = section(&mut value, &place, &here, &mut problems) {
                    config.security = s;
                }
            }
            "options" => {
                if let Some(s) = section(&mut value, &place, &here, &mut problems) {
                    config.options = s;
                }
            }
            "activation" => {
                if let Some(s) = section(&mut value, &place, &here, &mut problems) {
                    config.activation = s;
                }
            }
            "product" => {
                config.products = entries(value, name, &here, &mut problems, check_product_keys)
            }
            "vendor" => {
                config.vendors = entries(
                    value,
                    name,
                    &here,
                    &mut problems,
                    drop_unknown_keys::<Vendor>,
                )
            }
            "plugin" => {
                config.plugins = entries(
                    value,
                    name,
                    &here,
                    &mut problems,
                    drop_unknown_keys::<PluginConfig>,
                )
            }
            // Unknown top-level keys were reported and removed above.
            _ => {}
        }
    }

    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError { problems })
    }
}

/// Turns byte offsets into `file:line:column` prefixes.
struct Locator<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Locator<'_> {
    /// `origin:line:column` of a byte offset, both counted from 1.
    fn at(&self, offset: usize) -> String {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        format!("{}:{line}:{column}", self.origin)
    }

    /// One problem line for an error from the toml crate, located when it has a span.
    fn toml_error(&self, error: &toml::de::Error, place: &str) -> String {
        let message = error.message().trim_end();
        let place = if place.is_empty() {
            String::new()
        } else {
            format!("{place}: ")
        };
        match error.span() {
            Some(span) => format!("{}: {place}{message}", self.at(span.start)),
            None => format!("{}: {place}{message}", self.origin),
        }
    }
}

/// Deserialises one `[section]` table, reporting its unknown keys and type errors.
fn section<T: DeserializeOwned>(
    value: &mut Value<'_>,
    place: &str,
    here: &Locator<'_>,
    problems: &mut Vec<String>,
) -> Option<T> {
    if let DeValue::Table(table) = value.get_mut() {
        drop_unknown_keys::<T>(table, &format!("in {place}"), here, problems);
    }
    deserialize(value.clone(), place, here, problems)
}

/// Deserialises every entry of a `[[name]]` array on its own, keeping the good ones.
fn entries<T: DeserializeOwned>(
    value: Value<'_>,
    name: &str,
    here: &Locator<'_>,
    problems: &mut Vec<String>,
    check_keys: fn(&mut DeTable<'_>, &str, &Locator<'_>, &mut Vec<String>),
) -> Vec<T> {
    let span = value.span();
    let DeValue::Array(array) = value.into_inner() else {
        problems.push(format!(
            "{}: `{name}` must be written as [[{name}]] tables",
            here.at(span.start)
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, item) in array.iter().enumerate() {
        let mut item = item.clone();
        let place = entry_place(name, index, &item);
        if let DeValue::Table(table) = item.get_mut() {
            check_keys(table, &format!("in {place}"), here, problems);
        }
        if let Some(entry) = deserialize(item, &place, here, problems) {
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
fn check_product_keys(
    table: &mut DeTable<'_>,
    place: &str,
    here: &Locator<'_>,
    problems: &mut Vec<String>,
) {
    drop_unknown_keys::<Product>(table, place, here, problems);
    if let Some(properties) = table.get_mut("property")
        && let DeValue::Array(array) = properties.get_mut()
    {
        for (index, item) in array.iter_mut().enumerate() {
            if let DeValue::Table(property) = item.get_mut() {
                let place = format!("{place}, [[product.property]] #{}", index + 1);
                drop_unknown_keys::<PropertyDef>(property, &place, here, problems);
            }
        }
    }
}

/// Reports each key of `table` that `T` does not have, then removes it so that the type
/// errors of the remaining keys are still found in the same run.
fn drop_unknown_keys<T: DeserializeOwned>(
    table: &mut DeTable<'_>,
    place: &str,
    here: &Locator<'_>,
    problems: &mut Vec<String>,
) {
    let known = field_names::<T>();
    let mut unknown: Vec<(usize, String)> = table
        .keys()
        .filter(|k| !known.contains(&k.get_ref().as_ref()))
        .map(|k| (k.span().start, k.get_ref().to_string()))
        .collect();
    if unknown.is_empty() {
        return;
    }
    unknown.sort();
    for (offset, key) in &unknown {
        problems.push(format!(
            "{}: unknown key `{key}` {place}; known keys: {}",
            here.at(*offset),
            known.join(", ")
        ));
    }
    for (_, key) in &unknown {
        table.remove(key.as_str());
    }
}

/// Deserialises one spanned value, reporting the error with its line if it fails.
fn deserialize<T: DeserializeOwned>(
    value: Value<'_>,
    place: &str,
    here: &Locator<'_>,
    problems: &mut Vec<String>,
) -> Option<T> {
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(here.toml_error(&e, place));
            None
        }
    }
}

/// The TOML key names a struct accepts, read from its `Deserialize` impl.
///
/// Serde hands the list of field names (after renaming) to `deserialize_struct`; this
/// deserializer records it and stops. Taking the names from the struct keeps one list of keys,
/// so a key added to a struct can never be missing from the unknown-key check.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
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
            "releaseDate must be a date written yyyy-MM-dd, not {other}"
        ))),
    }
}
