//! Which key a deserialisation error lies in, and the tree surgery around it.
//!
//! serde reports a bad value with a byte span and a message. To say `id = "1" on line 12` and
//! to go on checking the rest of the entry, [`document`](super::document) needs the key that
//! span falls in (looking into `[[product.property]]` entries), a way to drop that key, and,
//! for toml's nameless "wanted string or table", a way to ask serde for the choices.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::explain::variants;

/// A spanned value of the parsed tree.
type Value<'i> = Spanned<DeValue<'i>>;

/// One step of the way from an entry's table to a value in it.
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// The value of this key of a table.
    Key(String),
    /// This element of an array.
    Index(usize),
}

/// The key a deserialisation error lies in.
pub(super) struct Culprit {
    /// The key the bad value belongs to (in a `[[product.property]]` entry, say).
    pub(super) key: String,
    /// Where that key is written.
    pub(super) key_offset: usize,
    /// Where its value is written.
    pub(super) value_span: Range<usize>,
    /// The nested entry, `, [[product.property]] #2`, or empty.
    pub(super) place: String,
    /// The way to the value, to try it again with another value.
    pub(super) path: Vec<Step>,
}

/// Finds the key whose key or value holds byte `at`, looking inside arrays of tables
/// (`[[product.property]]`) for the innermost one.
pub(super) fn find_culprit(table: &DeTable<'_>, at: usize, array: &str) -> Option<Culprit> {
    let holds = |span: Range<usize>| span.contains(&at);
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        if let DeValue::Array(items) = value.get_ref() {
            for (index, item) in items.iter().enumerate() {
                let DeValue::Table(inner) = item.get_ref() else {
                    continue;
                };
                if let Some((k, v)) = inner
                    .iter()
                    .find(|(k, v)| holds(k.span()) || holds(v.span()))
                {
                    return Some(Culprit {
                        key: k.get_ref().to_string(),
                        key_offset: k.span().start,
                        value_span: v.span(),
                        place: format!(", [[{array}.{name}]] #{}", index + 1),
                        path: vec![
                            Step::Key(name),
                            Step::Index(index),
                            Step::Key(k.get_ref().to_string()),
                        ],
                    });
                }
            }
        }
        if holds(key.span()) || holds(value.span()) {
            return Some(Culprit {
                key: name.clone(),
                key_offset: key.span().start,
                value_span: value.span(),
                place: String::new(),
                path: vec![Step::Key(name)],
            });
        }
    }
    None
}

/// The choices of an enum-valued key given something other than a string: toml only says
/// "wanted string or table", so the entry is tried again with an empty string there, which
/// serde refuses naming every choice.
pub(super) fn choices_of<T: DeserializeOwned>(value: &Value<'_>, path: &[Step]) -> Option<String> {
    let mut probe = value.clone();
    let mut slot = &mut probe;
    for step in path {
        slot = step_into(slot, step)?;
    }
    *slot = Spanned::new(slot.span(), DeValue::String(Cow::Borrowed("")));
    let error = T::deserialize(ValueDeserializer::from(probe)).err()?;
    variants(error.message())
}

/// The span of the list element holding byte `at`, when the value at `path` is a list of
/// plain values (not of tables) and the error lies in one of them.
pub(super) fn list_entry(value: &Value<'_>, path: &[Step], at: usize) -> Option<Range<usize>> {
    let mut slot = value;
    for step in path {
        slot = match (step, slot.get_ref()) {
            (Step::Key(k), DeValue::Table(t)) => t.get(k.as_str())?,
            (Step::Index(i), DeValue::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    let DeValue::Array(items) = slot.get_ref() else {
        return None;
    };
    items
        .iter()
        .find(|item| item.span().contains(&at) && !matches!(item.get_ref(), DeValue::Table(_)))
        .map(|item| item.span())
}

/// The value one step further in.
fn step_into<'v, 'i>(value: &'v mut Value<'i>, step: &Step) -> Option<&'v mut Value<'i>> {
    match (step, value.get_mut()) {
        (Step::Key(k), DeValue::Table(t)) => t.get_mut(k.as_str()),
        (Step::Index(i), DeValue::Array(a)) => a.get_mut(*i),
        _ => None,
    }
}

/// Removes the key at the end of `path` from its table.
pub(super) fn remove_at(value: &mut Value<'_>, path: &[Step]) {
    let Some((Step::Key(last), way)) = path.split_last() else {
        return;
    };
    let mut slot = value;
    for step in way {
        let Some(next) = step_into(slot, step) else {
            return;
        };
        slot = next;
    }
    if let DeValue::Table(table) = slot.get_mut() {
        table.remove(last.as_str());
    }
}
