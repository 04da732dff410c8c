//! The contact details a visitor gives with a conversation (`orderFormDetailsDictionary`).

use serde_json::{Map, Value};

use crate::{error::DomainError, naming::AuthorName};

/// A JSON object of the outlet form's fields, within the limits of the spec: at most 50 keys
/// counted at every level, 16 KiB as compact JSON, 5 levels deep (the top object is level 1).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFormDetails(Map<String, Value>);

impl OrderFormDetails {
    pub const MAX_KEYS: usize = 50;
    pub const MAX_BYTES: usize = 16 * 1024;
    pub const MAX_DEPTH: usize = 5;
    /// The longest author name a message keeps; a longer form value is cut.
    pub const MAX_NAME_CHARS: usize = 200;

    pub fn parse(value: Value) -> Result<Self, DomainError> {
        let Value::Object(map) = value else {
            return Err(DomainError::invalid_request(
                "orderFormDetailsDictionary must be a JSON object.",
            ));
        };
        let wrapped = Value::Object(map);
        if depth(&wrapped) > Self::MAX_DEPTH {
            return Err(DomainError::invalid_request(
                "orderFormDetailsDictionary is nested more than 5 levels deep.",
            ));
        }
        if key_count(&wrapped) > Self::MAX_KEYS {
            return Err(DomainError::invalid_request(
                "orderFormDetailsDictionary has more than 50 keys.",
            ));
        }
        if contains_nul(&wrapped) {
            return Err(DomainError::invalid_request(
                "Text must not contain NUL characters.",
            ));
        }
        let size = serde_json::to_string(&wrapped)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            return Err(DomainError::invalid_request(
                "orderFormDetailsDictionary is larger than 16 KiB.",
            ));
        }
        match wrapped {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(DomainError::invalid_request(
                "orderFormDetailsDictionary must be a JSON object.",
            )),
        }
    }

    /// The author's names from the form's `firstName`/`lastName` keys (any letter case);
    /// empty strings when absent or not text.
    pub fn author_name(&self) -> AuthorName {
        let lookup = |wanted: &str| {
            self.0
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(wanted))
                .and_then(|(_, value)| match value {
                    Value::String(s) => Some(s.trim().to_owned()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .map(|name| name.chars().take(Self::MAX_NAME_CHARS).collect())
                .unwrap_or_default()
        };
        AuthorName {
            first_name: lookup("firstName"),
            last_name: lookup("lastName"),
        }
    }

    pub fn as_value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

/// Levels of nesting: a scalar is 0, an object or array is one more than its deepest child.
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn key_count(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.len() + map.values().map(key_count).sum::<usize>(),
        Value::Array(items) => items.iter().map(key_count).sum(),
        _ => 0,
    }
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        Value::Array(items) => items.iter().any(contains_nul),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_flat_form_is_accepted() {
        let form = OrderFormDetails::parse(json!({"firstName": "Kim", "phone": "+44 20"})).unwrap();
        assert_eq!(form.as_value()["phone"], "+44 20");
    }

    #[test]
    fn names_are_read_case_insensitively() {
        let form = OrderFormDetails::parse(json!({"FIRSTNAME": "Kim", "lastname": "Lee"})).unwrap();
        assert_eq!(
            form.author_name(),
            AuthorName {
                first_name: "Kim".into(),
                last_name: "Lee".into()
            }
        );
    }

    #[test]
    fn overlong_names_are_cut_to_what_a_message_keeps() {
        let form = OrderFormDetails::parse(json!({"firstName": "é".repeat(500)})).unwrap();
        assert_eq!(form.author_name().first_name.chars().count(), 200);
    }

    #[test]
    fn absent_names_are_empty() {
        let form = OrderFormDetails::parse(json!({"phone": "1"})).unwrap();
        assert_eq!(form.author_name(), AuthorName::default());
    }

    #[test]
    fn five_levels_fit_and_six_do_not() {
        let five = json!({"a": {"b": {"c": {"d": [1]}}}});
        assert!(OrderFormDetails::parse(five).is_ok());
        let six = json!({"a": {"b": {"c": {"d": {"e": {}}}}}});
        assert!(OrderFormDetails::parse(six).is_err());
    }

    #[test]
    fn keys_are_counted_at_every_level() {
        let mut top = Map::new();
        for i in 0..49 {
            top.insert(format!("k{i}"), json!(i));
        }
        top.insert("nested".into(), json!({}));
        assert!(OrderFormDetails::parse(Value::Object(top.clone())).is_ok());
        top.insert("nested".into(), json!({"one": 1}));
        assert!(OrderFormDetails::parse(Value::Object(top)).is_err());
    }

    #[test]
    fn sixteen_kib_of_compact_json_is_the_limit() {
        // {"a":"…"} is 8 bytes of framing.
        let fits = json!({"a": "x".repeat(16 * 1024 - 8)});
        assert!(OrderFormDetails::parse(fits).is_ok());
        let over = json!({"a": "x".repeat(16 * 1024 - 7)});
        assert!(OrderFormDetails::parse(over).is_err());
    }

    #[test]
    fn only_objects_are_forms() {
        assert!(OrderFormDetails::parse(json!([1, 2])).is_err());
        assert!(OrderFormDetails::parse(json!("text")).is_err());
    }
}
