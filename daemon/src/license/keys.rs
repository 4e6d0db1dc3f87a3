//! Activation keys and computer keys (spec README §4; the format and its proof are in
//! `docs/keys.md`).
//!
//! Both are 26 characters: a licence-model letter, 24 Crockford base-32 characters carrying
//! 120 bits, and a check character. The check is the Damm algorithm over GF(32): a chain
//! through the quasigroup `x∘y = a·x + y` with `a = x` (the polynomial, i.e. 2) in
//! GF(2⁵) mod `x⁵+x²+1`. It catches every single wrong character and every swap of two
//! neighbours, so a mistyped key is answered "not found" without a database look-up.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::legacy_key::{self, LegacyKeyError};
use super::model::LicenseModel;

/// Characters in a key, dashes and spaces aside.
pub const KEY_LENGTH: usize = 26;

/// Characters carrying the 120 random or derived bits (positions 1 to 24).
const BODY_LENGTH: usize = 24;

/// Bytes behind the body: 24 characters × 5 bits = 120 bits = 15 bytes.
const BODY_BYTES: usize = 15;

/// Crockford's base-32 alphabet, in value order: digits, then letters without I, L, O, U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The reduction polynomial x⁵ + x² + 1 of GF(32). It is primitive, so the field element
/// `x` generates every non-zero element; the check only needs `a ≠ 0, 1`.
const REDUCTION_POLYNOMIAL: u8 = 0x25;

/// Separates the computer-key HMAC input from any other use of the server secret.
const COMPUTER_KEY_DOMAIN: &[u8] = b"licd computer key v1\0";

/// Why a string is not an activation key.
///
/// Callers answer every variant but [`KeyError::Random`] with code 203 ("not found"): a key
/// that cannot exist is a key that is not there.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Wrong number of characters once dashes and spaces are removed.
    #[error("an activation key has 26 characters (dashes and spaces aside); this one has {found}")]
    Length {
        /// Characters found, dashes and spaces aside.
        found: usize,
    },
    /// The first character is not an activation-key model letter.
    #[error(
        "an activation key starts with a licence-model letter (A, B, F, R, S, T, K, L or M), not {found:?}"
    )]
    ModelLetter {
        /// The first character, uppercased.
        found: char,
    },
    /// A character after the first is not a base-32 symbol.
    #[error(
        "character {position} of an activation key must be a digit or a letter other than U, not {found:?}"
    )]
    Character {
        /// 1-based position, dashes and spaces aside.
        position: usize,
        /// The character, uppercased.
        found: char,
    },
    /// The check character does not match: a character is mistyped or two are swapped.
    #[error("the activation key's check character does not match; a character is mistyped")]
    Check,
    /// The operating system's random number generator failed while generating a key.
    #[error("the operating system's random number generator failed: {0}")]
    Random(#[source] getrandom::Error),
}

/// An activation key in canonical form: 26 characters, uppercase, no dashes.
///
/// Only [`ActivationKey::generate`] and [`ActivationKey::parse`] make checked keys; the
/// store uses [`ActivationKey::from_canonical_unchecked`] for keys it wrote itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActivationKey(String);

impl ActivationKey {
    /// A new key of `model` with 120 bits from the operating system's CSPRNG.
    pub fn generate(model: LicenseModel) -> Result<Self, KeyError> {
        let mut bytes = [0u8; BODY_BYTES];
        getrandom::fill(&mut bytes).map_err(KeyError::Random)?;
        Ok(ActivationKey(assemble(model.activation_letter(), &bytes)))
    }

    /// Reads a key as a user typed it: dashes and spaces are dropped, case is ignored, and
    /// after the first character `I`/`L` read as `1` and `O` as `0`. Refuses a wrong length,
    /// a first character that is no activation-model letter, a character outside base 32,
    /// and a wrong check character.
    pub fn parse(input: &str) -> Result<Self, KeyError> {
        let canonical = normalise(input);
        let chars: Vec<char> = canonical.chars().collect();
        if chars.len() != KEY_LENGTH {
            return Err(KeyError::Length { found: chars.len() });
        }
        let mut values = [0u8; KEY_LENGTH];
        for (position, &c) in chars.iter().enumerate() {
            values[position] = if position == 0 {
                LicenseModel::from_activation_letter(c)
                    .and_then(|_| model_letter_value(c))
                    .ok_or(KeyError::ModelLetter { found: c })?
            } else {
                symbol_value(c).ok_or(KeyError::Character {
                    position: position + 1,
                    found: c,
                })?
            };
        }
        if chain(&values) != 0 {
            return Err(KeyError::Check);
        }
        Ok(ActivationKey(canonical))
    }

    /// Reads a key to look it up: a licd key as [`ActivationKey::parse`] reads it, else, when
    /// it has not licd's 26 characters, a legacy (imported QLM) key in its stored form
    /// (`super::legacy_key`). Input of 26 characters is only ever a licd key, so a mistyped
    /// one is still answered "not found" without a look-up; the import refuses QLM keys of
    /// that length.
    pub fn parse_for_lookup(input: &str) -> Result<Self, KeyError> {
        match ActivationKey::parse(input) {
            Err(licd @ KeyError::Length { .. }) => ActivationKey::legacy(input).map_err(|_| licd),
            other => other,
        }
    }

    /// A legacy key (imported from QLM) in its stored form: QLM's normalisation behind the
    /// legacy marker, so it never equals a licd key.
    pub fn legacy(input: &str) -> Result<Self, LegacyKeyError> {
        legacy_key::stored_form(input).map(ActivationKey)
    }

    /// Whether this is a legacy key imported from QLM.
    pub fn is_legacy(&self) -> bool {
        legacy_key::is_legacy(&self.0)
    }

    /// Wraps a canonical key read back from the database without checking it again.
    pub fn from_canonical_unchecked(s: String) -> Self {
        ActivationKey(s)
    }

    /// The canonical form: what is stored, compared and used in computer keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to people: groups of 5-5-5-5-6 joined by dashes; a legacy key in
    /// QLM's groups of five.
    pub fn dashed(&self) -> String {
        if self.is_legacy() {
            return legacy_key::shown_form(&self.0);
        }
        dashed(&self.0)
    }

    /// The model the key was created with, from its first letter. After an `is_licensemodel`
    /// change the stored licence is the truth, not this. A database value whose letter is not
    /// an activation letter (never written by licd) reads as permanent rather than failing.
    pub fn model(&self) -> LicenseModel {
        self.0
            .chars()
            .next()
            .and_then(LicenseModel::from_activation_letter)
            .unwrap_or(LicenseModel::PERMANENT)
    }
}

/// A computer key (`pckey`) in canonical form: 26 characters, uppercase, no dashes.
///
/// It is derived, so the server can always recompute the current one: the same activation
/// key, computer and licence revision give the same key, and any licence change (which
/// increments the revision) gives a new one. Activations still record the key they were last
/// given, so that a client holding it stays in good standing (spec README §4).
///
/// An activation imported from QLM keeps the computer key QLM gave it
/// ([`ComputerKey::imported`]), written as QLM wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputerKey {
    text: String,
    imported: bool,
}

impl ComputerKey {
    /// HMAC-SHA256 keyed with the server secret over a domain label, then the canonical
    /// activation key and the computer ID each preceded by its length as a big-endian `u64`
    /// (so no two inputs share a byte string), then the revision as a big-endian `u32`. The
    /// first 120 bits become the 24 body characters; the letter is the model's computer letter.
    pub fn derive(
        secret: &[u8; 32],
        key: &ActivationKey,
        computer_id: &str,
        revision: u32,
        model: LicenseModel,
    ) -> Self {
        let mut mac = hmac_sha256(secret);
        mac.update(COMPUTER_KEY_DOMAIN);
        for field in [key.as_str().as_bytes(), computer_id.as_bytes()] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac.update(&revision.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        let mut bytes = [0u8; BODY_BYTES];
        bytes.copy_from_slice(&tag[..BODY_BYTES]);
        ComputerKey {
            text: assemble(model.computer_letter(), &bytes),
            imported: false,
        }
    }

    /// The computer key QLM gave an imported activation, kept as QLM wrote it: licd cannot
    /// derive QLM's keys, and the application in the field holds this one.
    pub fn imported(verbatim: &str) -> Self {
        ComputerKey {
            text: verbatim.trim().to_string(),
            imported: true,
        }
    }

    /// Brings a client's computer key to canonical form for comparison: dashes and spaces
    /// dropped, uppercased, `I`/`L` → `1` and `O` → `0` after the first character. It never
    /// fails: a computer key of the wrong form is simply one that does not match.
    pub fn normalise(input: &str) -> String {
        normalise(input)
    }

    /// Wraps a canonical key read back from the database.
    pub fn from_canonical_unchecked(s: String) -> Self {
        ComputerKey {
            text: s,
            imported: false,
        }
    }

    /// The canonical form, as compared and stored (an imported key as QLM wrote it).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The form sent to clients in `<pckey>`: groups of 5-5-5-5-6 joined by dashes; an
    /// imported key as QLM wrote it.
    pub fn dashed(&self) -> String {
        if self.imported {
            return self.text.clone();
        }
        dashed(&self.text)
    }
}

/// HMAC-SHA256 keyed with a 32-byte secret. HMAC zero-pads a short key to the 64-byte block,
/// so padding it here is the same MAC and spares the fallible `new_from_slice`.
fn hmac_sha256(secret: &[u8; 32]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(secret);
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

/// Dashes and whitespace dropped, ASCII uppercased, and in the base-32 positions (all but the
/// first) the look-alikes `I`, `L` → `1` and `O` → `0`. Non-ASCII characters pass through
/// unchanged so that parsing can name them.
fn normalise(input: &str) -> String {
    input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .enumerate()
        .map(|(position, c)| {
            let upper = c.to_ascii_uppercase();
            match upper {
                'I' | 'L' if position > 0 => '1',
                'O' if position > 0 => '0',
                other => other,
            }
        })
        .collect()
}

/// Groups of 5-5-5-5-6. Works on any string (a value read back unchecked) without panicking.
fn dashed(canonical: &str) -> String {
    let mut out = String::with_capacity(canonical.len() + 4);
    for (index, c) in canonical.chars().enumerate() {
        if index > 0 && index % 5 == 0 && index <= 20 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// The key text for a letter and 15 bytes: letter, 24 base-32 characters (the bytes read as
/// one big-endian 120-bit number, 5 bits a character), check character.
fn assemble(letter: char, bytes: &[u8; BODY_BYTES]) -> String {
    let mut number = 0u128;
    for &byte in bytes {
        number = (number << 8) | u128::from(byte);
    }
    let mut values = [0u8; KEY_LENGTH - 1];
    // Every model letter has a value (`model_letters_have_the_documented_values` proves it).
    values[0] = model_letter_value(letter).unwrap_or(0);
    for (index, slot) in values[1..].iter_mut().enumerate() {
        let shift = 5 * (BODY_LENGTH - 1 - index);
        *slot = ((number >> shift) & 0x1f) as u8;
    }
    let check = mul_a(chain(&values));
    let mut key = String::with_capacity(KEY_LENGTH);
    key.push(letter);
    for &value in values[1..].iter().chain(std::iter::once(&check)) {
        key.push(char::from(ALPHABET[usize::from(value)]));
    }
    key
}

/// The value of a canonical base-32 symbol (uppercase, no look-alikes), or `None`.
fn symbol_value(c: char) -> Option<u8> {
    let byte = u8::try_from(c).ok()?;
    ALPHABET
        .iter()
        .position(|&symbol| symbol == byte)
        .and_then(|index| u8::try_from(index).ok())
}

/// The value a model letter contributes to the check chain: its base-32 value, with the two
/// letters that are not base-32 symbols given one: `L` → 1 and `U` → 27. Only the nine
/// activation and nine computer letters have a value. The nine activation letters' values
/// differ, so a wrong model letter fails the check; `U` shares 27 with `V`, which is harmless
/// because computer keys are compared whole, never checked for form.
fn model_letter_value(c: char) -> Option<u8> {
    match c {
        'L' => Some(1),
        'U' => Some(27),
        'A' | 'B' | 'F' | 'R' | 'S' | 'T' | 'K' | 'M' | 'V' | 'J' | 'W' | 'X' | 'Y' | 'N' | 'P'
        | 'Q' => symbol_value(c),
        _ => None,
    }
}

/// Multiplication by the field element `a = x` in GF(2⁵) mod x⁵+x²+1: shift left, and
/// reduce when the x⁵ bit appears.
fn mul_a(value: u8) -> u8 {
    let shifted = value << 1;
    if shifted & 0x20 != 0 {
        shifted ^ REDUCTION_POLYNOMIAL
    } else {
        shifted
    }
}

/// The Damm interim after the given symbols: start at 0, then `interim = a·interim + s`.
/// A whole key is valid when the interim after all 26 characters is 0; over the first 25 it
/// gives the check character `c = a·interim`.
fn chain(values: &[u8]) -> u8 {
    values
        .iter()
        .fold(0, |interim, &value| mul_a(interim) ^ value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::model::{BaseModel, Deployment};
    use proptest::prelude::*;

    /// Every activation letter, for substitutions at position 0.
    fn activation_letters() -> Vec<char> {
        LicenseModel::ALL
            .iter()
            .map(LicenseModel::activation_letter)
            .collect()
    }

    fn key_from(model: LicenseModel, bytes: &[u8; BODY_BYTES]) -> String {
        assemble(model.activation_letter(), bytes)
    }

    /// Asserts that every single substitution (any other alphabet character at every
    /// position; any other model letter, or any other character at all, at position 0) and
    /// every swap of two different neighbours is refused.
    fn assert_every_single_error_and_neighbour_swap_is_refused(key: &str) {
        assert!(ActivationKey::parse(key).is_ok(), "{key} itself must parse");
        let chars: Vec<char> = key.chars().collect();
        for position in 0..KEY_LENGTH {
            let candidates: Vec<char> = if position == 0 {
                activation_letters()
                    .into_iter()
                    .chain(ALPHABET.iter().map(|&b| char::from(b)))
                    .collect()
            } else {
                ALPHABET.iter().map(|&b| char::from(b)).collect()
            };
            for replacement in candidates {
                if replacement == chars[position] {
                    continue;
                }
                let mut changed = chars.clone();
                changed[position] = replacement;
                let changed: String = changed.into_iter().collect();
                assert!(
                    ActivationKey::parse(&changed).is_err(),
                    "{key}: {replacement} at position {position} gives {changed}, which parses"
                );
            }
        }
        for position in 0..KEY_LENGTH - 1 {
            if chars[position] == chars[position + 1] {
                continue;
            }
            let mut swapped = chars.clone();
            swapped.swap(position, position + 1);
            let swapped: String = swapped.into_iter().collect();
            assert!(
                ActivationKey::parse(&swapped).is_err(),
                "{key}: swapping positions {position} and {} gives {swapped}, which parses",
                position + 1
            );
        }
    }

    #[test]
    fn generated_key_parses_back_with_its_model() {
        for model in LicenseModel::ALL {
            let key = ActivationKey::generate(model).unwrap();
            assert_eq!(key.as_str().len(), KEY_LENGTH);
            assert!(key.as_str().starts_with(model.activation_letter()));
            assert_eq!(ActivationKey::parse(key.as_str()).unwrap(), key);
            assert_eq!(ActivationKey::parse(&key.dashed()).unwrap(), key);
            assert_eq!(key.model(), model);
        }
    }

    #[test]
    fn generated_keys_differ() {
        let a = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        let b = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn dashed_form_is_grouped_5_5_5_5_6() {
        let key = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        let dashed = key.dashed();
        let groups: Vec<usize> = dashed.split('-').map(str::len).collect();
        assert_eq!(groups, [5, 5, 5, 5, 6]);
        assert_eq!(dashed.replace('-', ""), key.as_str());
    }

    #[test]
    fn dashed_form_of_an_unchecked_short_value_does_not_panic() {
        let short = ActivationKey::from_canonical_unchecked("AB".to_owned());
        assert_eq!(short.dashed(), "AB");
        let odd = ActivationKey::from_canonical_unchecked("ÄÖÜ1234567".to_owned());
        assert_eq!(odd.dashed(), "ÄÖÜ12-34567");
    }

    #[test]
    fn input_is_accepted_in_lowercase_without_dashes_and_with_spaces() {
        let key = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        let canonical = key.as_str();
        let lower = canonical.to_ascii_lowercase();
        assert_eq!(ActivationKey::parse(&lower).unwrap(), key);
        let spaced = key.dashed().replace('-', " ");
        assert_eq!(ActivationKey::parse(&spaced).unwrap(), key);
        let messy = format!(
            "  {}  ",
            key.dashed().to_ascii_lowercase().replace('-', " - ")
        );
        assert_eq!(ActivationKey::parse(&messy).unwrap(), key);
    }

    #[test]
    fn look_alikes_i_l_o_read_as_1_and_0_after_the_first_character() {
        // A fixed key holding both 1 and 0 in its body.
        let bytes = [
            0x08, 0x42, 0x10, 0x84, 0x21, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let canonical = key_from(LicenseModel::PERMANENT, &bytes);
        assert!(canonical[1..].contains('1') && canonical[1..].contains('0'));
        let key = ActivationKey::parse(&canonical).unwrap();
        let typed: String = canonical
            .chars()
            .enumerate()
            .map(|(i, c)| match (i, c) {
                (0, c) => c,
                (i, '1') if i % 2 == 0 => 'I',
                (_, '1') => 'l',
                (_, '0') => 'o',
                (_, c) => c,
            })
            .collect();
        assert_ne!(typed, canonical);
        assert_eq!(ActivationKey::parse(&typed).unwrap(), key);
    }

    #[test]
    fn first_character_l_is_the_trial_floating_letter_not_a_one() {
        let model = LicenseModel {
            base: BaseModel::Trial,
            deployment: Deployment::Floating,
        };
        let key = ActivationKey::generate(model).unwrap();
        assert!(key.as_str().starts_with('L'));
        let lower = key.as_str().to_ascii_lowercase();
        assert_eq!(ActivationKey::parse(&lower).unwrap().model(), model);
        let one = format!("1{}", &key.as_str()[1..]);
        assert!(matches!(
            ActivationKey::parse(&one),
            Err(KeyError::ModelLetter { found: '1' })
        ));
    }

    #[test]
    fn wrong_length_is_refused_with_the_count() {
        let key = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        let short = &key.as_str()[..25];
        let err = ActivationKey::parse(short).unwrap_err();
        assert!(matches!(err, KeyError::Length { found: 25 }));
        assert_eq!(
            err.to_string(),
            "an activation key has 26 characters (dashes and spaces aside); this one has 25"
        );
        let long = format!("{}0", key.as_str());
        assert!(matches!(
            ActivationKey::parse(&long),
            Err(KeyError::Length { found: 27 })
        ));
        assert!(matches!(
            ActivationKey::parse(""),
            Err(KeyError::Length { found: 0 })
        ));
    }

    #[test]
    fn computer_letter_or_non_model_first_character_is_refused() {
        let key = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        for first in ['U', 'V', 'J', 'C', '0', 'Z'] {
            let changed = format!("{first}{}", &key.as_str()[1..]);
            assert!(
                matches!(
                    ActivationKey::parse(&changed),
                    Err(KeyError::ModelLetter { found }) if found == first
                ),
                "{changed}"
            );
        }
    }

    #[test]
    fn u_and_punctuation_and_non_ascii_are_refused_with_their_position() {
        let key = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        for bad in ['U', 'u', '*', 'é', '_'] {
            let changed = format!("{}{bad}{}", &key.as_str()[..3], &key.as_str()[4..]);
            let err = ActivationKey::parse(&changed).unwrap_err();
            let expected = bad.to_ascii_uppercase();
            assert!(
                matches!(err, KeyError::Character { position: 4, found } if found == expected),
                "{changed}: {err}"
            );
        }
    }

    #[test]
    fn wrong_check_character_is_refused() {
        let key = ActivationKey::generate(LicenseModel::PERMANENT).unwrap();
        let last = key.as_str().as_bytes()[25];
        let other = if last == b'0' { '1' } else { '0' };
        let changed = format!("{}{other}", &key.as_str()[..25]);
        assert!(matches!(
            ActivationKey::parse(&changed),
            Err(KeyError::Check)
        ));
    }

    #[test]
    fn mul_a_is_multiplication_by_a_primitive_element() {
        // Powers of a run through all 31 non-zero elements: mul_a is a bijection on them and
        // x⁵+x²+1 is primitive (hence irreducible), so GF(32) is a field.
        let mut seen = [false; 32];
        let mut power = 1u8;
        for _ in 0..31 {
            assert!(!seen[usize::from(power)]);
            seen[usize::from(power)] = true;
            power = mul_a(power);
        }
        assert_eq!(power, 1);
        assert!(!seen[0]);
        assert_eq!(mul_a(0), 0);
    }

    #[test]
    fn quasigroup_is_totally_anti_symmetric() {
        // The Damm property checked exhaustively: for every interim c and every x ≠ y,
        // (c∘x)∘y ≠ (c∘y)∘x, and every row and column of x∘y is a permutation.
        let op = |x: u8, y: u8| mul_a(x) ^ y;
        for c in 0..32u8 {
            for x in 0..32u8 {
                for y in 0..32u8 {
                    if x != y {
                        assert_ne!(op(op(c, x), y), op(op(c, y), x), "c={c} x={x} y={y}");
                        assert_ne!(op(c, x), op(c, y));
                        assert_ne!(op(x, c), op(y, c));
                    }
                }
            }
        }
    }

    #[test]
    fn model_letters_have_the_documented_values() {
        let mut activation_values = Vec::new();
        for model in LicenseModel::ALL {
            let a = model_letter_value(model.activation_letter());
            let c = model_letter_value(model.computer_letter());
            assert!(a.is_some() && c.is_some(), "{model:?}");
            activation_values.extend(a);
        }
        assert_eq!(model_letter_value('L'), Some(1));
        assert_eq!(model_letter_value('U'), Some(27));
        assert_eq!(model_letter_value('A'), Some(10));
        assert_eq!(model_letter_value('M'), Some(20));
        // Distinct activation-letter values are what make a model-letter substitution show.
        activation_values.sort_unstable();
        activation_values.dedup();
        assert_eq!(activation_values.len(), 9);
    }

    #[test]
    fn every_single_error_and_neighbour_swap_is_caught_in_fixed_keys() {
        let fixed: [[u8; BODY_BYTES]; 4] = [
            [0; BODY_BYTES],
            [0xff; BODY_BYTES],
            [
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
                0x32,
            ],
            [
                0x08, 0x42, 0x10, 0x84, 0x21, 0x08, 0x42, 0x10, 0x84, 0x21, 0x08, 0x42, 0x10, 0x84,
                0x21,
            ],
        ];
        for model in LicenseModel::ALL {
            for bytes in &fixed {
                assert_every_single_error_and_neighbour_swap_is_refused(&key_from(model, bytes));
            }
        }
    }

    #[test]
    fn a_swap_of_two_different_characters_at_any_distance_is_caught() {
        // Beyond the promise: a swap at distance d changes the chain by a multiple of
        // a^d + 1, which is 0 only when 31 divides d, and keys are 26 characters long.
        let bytes = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
            0x32,
        ];
        for model in LicenseModel::ALL {
            let chars: Vec<char> = key_from(model, &bytes).chars().collect();
            for i in 0..KEY_LENGTH {
                for j in i + 1..KEY_LENGTH {
                    if chars[i] == chars[j] {
                        continue;
                    }
                    let mut swapped = chars.clone();
                    swapped.swap(i, j);
                    let swapped: String = swapped.into_iter().collect();
                    assert!(ActivationKey::parse(&swapped).is_err(), "{swapped}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_single_error_and_neighbour_swap_is_caught_in_random_keys(
            model_index in 0usize..9,
            bytes in any::<[u8; BODY_BYTES]>(),
        ) {
            let key = key_from(LicenseModel::ALL[model_index], &bytes);
            assert_every_single_error_and_neighbour_swap_is_refused(&key);
        }
    }

    fn sample_key() -> ActivationKey {
        ActivationKey::parse(&key_from(LicenseModel::PERMANENT, &[7; BODY_BYTES])).unwrap()
    }

    #[test]
    fn computer_key_is_deterministic() {
        let secret = [9u8; 32];
        let key = sample_key();
        let a = ComputerKey::derive(&secret, &key, "PC-7", 3, LicenseModel::PERMANENT);
        let b = ComputerKey::derive(&secret, &key, "PC-7", 3, LicenseModel::PERMANENT);
        assert_eq!(a, b);
    }

    #[test]
    fn computer_key_changes_with_revision_computer_id_secret_and_key() {
        let secret = [9u8; 32];
        let key = sample_key();
        let model = LicenseModel::PERMANENT;
        let base = ComputerKey::derive(&secret, &key, "PC-7", 3, model);
        assert_ne!(base, ComputerKey::derive(&secret, &key, "PC-7", 4, model));
        assert_ne!(base, ComputerKey::derive(&secret, &key, "PC-8", 3, model));
        assert_ne!(base, ComputerKey::derive(&secret, &key, "pc-7", 3, model));
        assert_ne!(
            base,
            ComputerKey::derive(&[8u8; 32], &key, "PC-7", 3, model)
        );
        let other_key =
            ActivationKey::parse(&key_from(LicenseModel::PERMANENT, &[8; BODY_BYTES])).unwrap();
        assert_ne!(
            base,
            ComputerKey::derive(&secret, &other_key, "PC-7", 3, model)
        );
    }

    #[test]
    fn computer_key_carries_the_models_computer_letter_and_passes_its_check() {
        let secret = [1u8; 32];
        let key = sample_key();
        for model in LicenseModel::ALL {
            let pckey = ComputerKey::derive(&secret, &key, "PC-7", 0, model);
            let text = pckey.as_str();
            assert_eq!(text.len(), KEY_LENGTH);
            assert!(text.starts_with(model.computer_letter()), "{text}");
            let mut values = vec![model_letter_value(model.computer_letter()).unwrap()];
            values.extend(text.chars().skip(1).map(|c| symbol_value(c).unwrap()));
            assert_eq!(chain(&values), 0, "{text}");
            let groups: Vec<usize> = pckey.dashed().split('-').map(str::len).collect();
            assert_eq!(groups, [5, 5, 5, 5, 6]);
            assert_eq!(ComputerKey::normalise(&pckey.dashed().to_lowercase()), text);
        }
    }

    #[test]
    fn computer_key_hmac_equals_hmac_keyed_with_the_unpadded_secret() {
        let secret: [u8; 32] = std::array::from_fn(|i| i as u8);
        let mut padded = hmac_sha256(&secret);
        let mut plain = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        padded.update(b"x");
        plain.update(b"x");
        assert_eq!(
            padded.finalize().into_bytes(),
            plain.finalize().into_bytes()
        );
    }

    #[test]
    fn computer_key_derivation_is_pinned_to_the_documented_example() {
        // Changing the HMAC input would change every computer key already handed out;
        // docs/keys.md shows these values and an independent HMAC computation agrees.
        let secret: [u8; 32] = std::array::from_fn(|i| i as u8);
        let key = ActivationKey::parse(DOC_EXAMPLE_KEY).unwrap();
        let model = LicenseModel::PERMANENT;
        let first = ComputerKey::derive(&secret, &key, "PC-7", 0, model);
        assert_eq!(first.dashed(), "U1XWD-ZJWZ0-MTWAN-04MZN-0YF4FJ");
        let second = ComputerKey::derive(&secret, &key, "PC-7", 1, model);
        assert_eq!(second.dashed(), "U3RCX-61TR5-813FE-TYC9C-5CVAHM");
    }

    #[test]
    fn computer_key_normalise_never_fails_and_maps_look_alikes_after_the_first() {
        assert_eq!(
            ComputerKey::normalise("u1l0o-iI ab"),
            "U11001 1AB".replace(' ', "")
        );
        assert_eq!(ComputerKey::normalise("lol"), "L01");
        assert_eq!(ComputerKey::normalise(""), "");
        assert_eq!(ComputerKey::normalise("é-ü"), "éü");
    }

    #[test]
    fn worked_example_in_docs_keys_md() {
        let bytes = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
            0x32,
        ];
        let key = key_from(LicenseModel::PERMANENT, &bytes);
        assert_eq!(key, DOC_EXAMPLE_KEY);
        assert_eq!(
            ActivationKey::parse(&key).unwrap().dashed(),
            "A04HM-ASW9N-F6YZZ-PWQAC-7CN1JG"
        );
        let mut values = vec![model_letter_value('A').unwrap()];
        values.extend(key.chars().skip(1).map(|c| symbol_value(c).unwrap()));
        // The numbers the document's table shows.
        assert_eq!(chain(&values[..3]), 9);
        assert_eq!(chain(&values[..12]), 1);
        assert_eq!(chain(&values[..25]), 8);
        assert_eq!(mul_a(8), 16);
        assert_eq!(ALPHABET[16], b'G');
        assert_eq!(chain(&values), 0);
    }

    /// The key worked through in `docs/keys.md`.
    const DOC_EXAMPLE_KEY: &str = "A04HMASW9NF6YZZPWQAC7CN1JG";
}
