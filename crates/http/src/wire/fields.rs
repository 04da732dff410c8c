//! Request fields matched case-insensitively, with the spec's typing rules: `null`, missing and
//! `""` are "not given"; a JSON number may stand for text; booleans accept `true`/`false` in any
//! letter case; any other wrong type, and text with NUL characters, is `InvalidRequest`.

use std::collections::HashMap;

use bellhop_domain::DomainError;
use serde_json::Value;

/// The most fields a body, and a query string, may carry (section 2 of the spec).
pub const MAX_FIELDS: usize = 256;

/// The fields of one request (body and query string together), keys lower-cased.
///
/// Lookups go through a hash index, so building the fields costs time linear in their
/// number (a list scanned on every insert made 16,000 names cost seconds of CPU).
#[derive(Debug, Clone, Default)]
pub struct Fields {
    entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

impl PartialEq for Fields {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

/// `InvalidRequest` for a body or query string with more than [`MAX_FIELDS`] fields.
pub fn too_many_fields() -> DomainError {
    DomainError::invalid_request(format!(
        "A body or query string may carry at most {MAX_FIELDS} fields."
    ))
}

impl Fields {
    /// Builds the fields of one body or query string: at most [`MAX_FIELDS`]; a name given
    /// twice (in any letter case) is `InvalidRequest`.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<Self, DomainError> {
        let mut fields = Self::default();
        for (name, value) in pairs {
            if fields.entries.len() == MAX_FIELDS {
                return Err(too_many_fields());
            }
            fields.insert(name, value)?;
        }
        Ok(fields)
    }

    fn insert(&mut self, name: String, value: Value) -> Result<(), DomainError> {
        let key = name.to_lowercase();
        if self.index.contains_key(&key) {
            // The name is the client's own text: it is named back only when it is a plain
            // identifier, so an error never echoes arbitrary input (markup, SQL, megabytes).
            let plain = name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            return Err(DomainError::invalid_request(if plain {
                format!("The field '{name}' is given more than once.")
            } else {
                "A field is given more than once.".to_owned()
            }));
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
        Ok(())
    }

    /// Adds the query string's fields to the body's. A name in both with the same value is
    /// one field; with different values it is `InvalidRequest`.
    pub fn merge(mut self, other: Fields) -> Result<Self, DomainError> {
        for (name, value) in other.entries {
            let same = self
                .raw(&name)
                .is_some_and(|existing| same_value(existing, &value));
            if !same {
                self.insert(name, value)?;
            }
        }
        Ok(self)
    }

    /// A digest of the fields in a canonical order, without those named in `except` (lower
    /// case): two requests with the same fields have the same fingerprint, whatever their
    /// body format, letter case of names, or order.
    pub fn fingerprint(&self, context: &str, except: &[&str]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut entries: Vec<&(String, Value)> = self
            .entries
            .iter()
            .filter(|(k, _)| !except.contains(&k.as_str()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let canonical = serde_json::json!([context, entries]);
        Sha256::digest(canonical.to_string().as_bytes()).into()
    }

    fn raw(&self, name: &str) -> Option<&Value> {
        self.index
            .get(&name.to_lowercase())
            .map(|at| &self.entries[*at].1)
    }

    /// Optional text: `None` when missing, `null` or empty.
    pub fn text(&self, name: &str) -> Result<Option<String>, DomainError> {
        let text = match self.raw(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(DomainError::invalid_request(format!(
                    "The field '{name}' must be text."
                )))
            }
        };
        if text.contains('\0') {
            return Err(DomainError::invalid_request(format!(
                "The field '{name}' must not contain NUL characters."
            )));
        }
        Ok(Some(text).filter(|t| !t.is_empty()))
    }

    /// Required text: missing, `null` or empty is `InvalidRequest`.
    pub fn required_text(&self, name: &str) -> Result<String, DomainError> {
        self.text(name)?
            .ok_or_else(|| DomainError::invalid_request(format!("The field '{name}' is required.")))
    }

    /// Optional boolean: JSON `true`/`false`, or the text `true`/`false` in any letter case.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, DomainError> {
        let invalid =
            || DomainError::invalid_request(format!("The field '{name}' must be true or false."));
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(invalid()),
        }
    }

    /// Optional whole number, from a JSON number or its text; anything else is `on_error`.
    pub fn integer(
        &self,
        name: &str,
        on_error: impl Fn(String) -> DomainError,
    ) -> Result<Option<i64>, DomainError> {
        let invalid = || on_error(format!("The field '{name}' must be a whole number."));
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(invalid),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            // A number too large for i64 is still a number: as large as it gets.
            Some(Value::String(s)) => match s.trim().parse::<i64>() {
                Ok(n) => Ok(Some(n)),
                Err(_) if !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()) => {
                    Ok(Some(i64::MAX))
                }
                Err(_) => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }

    /// Optional JSON object; a form field may carry it as JSON text.
    pub fn object(&self, name: &str) -> Result<Option<Value>, DomainError> {
        let invalid =
            || DomainError::invalid_request(format!("The field '{name}' must be a JSON object."));
        match self.raw(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(value @ Value::Object(_)) => Ok(Some(value)),
                _ => Err(invalid()),
            },
            Some(value @ Value::Object(_)) => Ok(Some(value.clone())),
            Some(_) => Err(invalid()),
        }
    }
}

/// Equal as the API reads them: a form's text `"101"` equals a JSON number 101.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            n.to_string() == *s
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        let Value::Object(map) = value else {
            panic!("object expected")
        };
        Fields::from_pairs(map).unwrap()
    }

    #[test]
    fn names_match_in_any_letter_case() {
        let f = fields(json!({"MESSAGE": "hi"}));
        assert_eq!(f.text("message").unwrap().as_deref(), Some("hi"));
        assert_eq!(f.text("Message").unwrap().as_deref(), Some("hi"));
    }

    #[test]
    fn null_missing_and_empty_are_not_given() {
        let f = fields(json!({"a": null, "b": ""}));
        assert_eq!(f.text("a").unwrap(), None);
        assert_eq!(f.text("b").unwrap(), None);
        assert_eq!(f.text("c").unwrap(), None);
    }

    #[test]
    fn a_number_may_stand_for_text_but_other_types_may_not() {
        let f = fields(json!({"room": 101, "flag": true, "list": [1]}));
        assert_eq!(f.text("room").unwrap().as_deref(), Some("101"));
        assert!(f.text("flag").is_err());
        assert!(f.text("list").is_err());
    }

    #[test]
    fn booleans_accept_text_in_any_case() {
        let f = fields(json!({"a": "True", "b": "FALSE", "c": true, "d": "yes"}));
        assert_eq!(f.boolean("a").unwrap(), Some(true));
        assert_eq!(f.boolean("b").unwrap(), Some(false));
        assert_eq!(f.boolean("c").unwrap(), Some(true));
        assert!(f.boolean("d").is_err());
    }

    #[test]
    fn the_same_name_twice_in_different_case_is_rejected() {
        let pairs = vec![
            ("message".to_owned(), json!("a")),
            ("Message".to_owned(), json!("b")),
        ];
        assert!(Fields::from_pairs(pairs).is_err());
    }

    #[test]
    fn fingerprints_ignore_order_case_and_excluded_fields() {
        let a = fields(json!({"Message": "hi", "outletCode": "BAR", "sessionToken": "one"}));
        let b = fields(json!({"outletcode": "BAR", "message": "hi", "SESSIONTOKEN": "two"}));
        assert_eq!(
            a.fingerprint("create", &["sessiontoken"]),
            b.fingerprint("create", &["sessiontoken"])
        );
        let c = fields(json!({"message": "hello", "outletCode": "BAR"}));
        assert_ne!(
            a.fingerprint("create", &["sessiontoken"]),
            c.fingerprint("create", &["sessiontoken"])
        );
        assert_ne!(
            a.fingerprint("create", &["sessiontoken"]),
            a.fingerprint("reply", &["sessiontoken"])
        );
    }

    #[test]
    fn the_same_value_in_body_and_query_is_one_field_and_different_values_conflict() {
        let body = fields(json!({"sessionToken": "t", "pageNumber": 2}));
        let same = Fields::from_pairs(vec![
            ("SessionToken".into(), json!("t")),
            ("PageNumber".into(), json!("2")),
        ])
        .unwrap();
        assert!(body.clone().merge(same).is_ok());
        let other = Fields::from_pairs(vec![("sessiontoken".into(), json!("u"))]).unwrap();
        assert!(body.merge(other).is_err());
    }

    #[test]
    fn at_most_256_fields_are_accepted() {
        let pairs = |n: usize| (0..n).map(|i| (format!("f{i}"), json!("v")));
        assert!(Fields::from_pairs(pairs(MAX_FIELDS)).is_ok());
        assert!(Fields::from_pairs(pairs(MAX_FIELDS + 1)).is_err());
    }

    #[test]
    fn numbers_too_large_for_64_bits_read_as_the_largest() {
        let f = fields(json!({"page": "99999999999999999999", "bad": "9x"}));
        assert_eq!(
            f.integer("page", DomainError::InvalidPaging).unwrap(),
            Some(i64::MAX)
        );
        assert!(f.integer("bad", DomainError::InvalidPaging).is_err());
    }

    #[test]
    fn nul_characters_are_rejected() {
        assert!(fields(json!({"m": "a\u{0}b"})).text("m").is_err());
    }

    #[test]
    fn objects_may_come_as_json_text() {
        let f = fields(json!({"form": "{\"firstName\":\"Kim\"}", "bad": "[1]"}));
        assert_eq!(f.object("form").unwrap(), Some(json!({"firstName": "Kim"})));
        assert!(f.object("bad").is_err());
    }
}
