//! Decoding request bodies (`application/json`, `text/json`, `application/x-www-form-urlencoded`)
//! and query strings into [`Fields`].

use bellhop_domain::{DomainError, ErrorCode};
use percent_encoding::percent_decode;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::fields::{too_many_fields, Fields, MAX_FIELDS};

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Malformed content: `InvalidRequest`.
    Invalid(String),
    /// A content type the API does not speak: `UnsupportedMediaType`.
    UnsupportedMediaType,
}

impl BodyError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidRequest,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Invalid(message) => message.clone(),
            Self::UnsupportedMediaType => {
                "Send application/json, text/json or application/x-www-form-urlencoded.".to_owned()
            }
        }
    }
}

impl From<DomainError> for BodyError {
    fn from(error: DomainError) -> Self {
        Self::Invalid(error.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Form,
}

/// The body format named by a `Content-Type` header value (parameters such as `charset` ignored).
fn body_format(content_type: Option<&str>) -> Result<BodyFormat, BodyError> {
    let essence = content_type
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .ok_or(BodyError::UnsupportedMediaType)?;
    match essence.as_str() {
        "application/json" | "text/json" => Ok(BodyFormat::Json),
        "application/x-www-form-urlencoded" => Ok(BodyFormat::Form),
        _ => Err(BodyError::UnsupportedMediaType),
    }
}

/// The top-level JSON object, keeping every key (duplicates included) so they can be refused.
struct TopLevelObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for TopLevelObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = TopLevelObject;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    if entries.len() == MAX_FIELDS {
                        return Err(serde::de::Error::custom(TOO_MANY_FIELDS));
                    }
                    entries.push(entry);
                }
                Ok(TopLevelObject(entries))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// The marker of the JSON visitor's refusal of too many fields (serde errors carry text only).
const TOO_MANY_FIELDS: &str = "too many fields";

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Decodes a body. An empty body has no fields whatever its content type; otherwise the
/// content type must be one the API speaks. A JSON body may start with a UTF-8 byte-order
/// mark, as ASP.NET accepts.
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<Fields, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::default());
    }
    match body_format(content_type)? {
        BodyFormat::Json => {
            let body = body.strip_prefix(BYTE_ORDER_MARK).unwrap_or(body);
            let text = std::str::from_utf8(body)
                .map_err(|_| BodyError::Invalid("The body is not valid UTF-8.".into()))?;
            let object: TopLevelObject = serde_json::from_str(text).map_err(|e| {
                if e.classify() == serde_json::error::Category::Data
                    && e.to_string().starts_with(TOO_MANY_FIELDS)
                {
                    return BodyError::from(too_many_fields());
                }
                BodyError::Invalid(format!(
                    "The body is not a valid JSON object ({}).",
                    json_problem(&e)
                ))
            })?;
            Ok(Fields::from_pairs(object.0)?)
        }
        BodyFormat::Form => Ok(decode_form(body)?),
    }
}

/// Says what is wrong with JSON without echoing the input back.
fn json_problem(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Io => "unreadable",
        // Not "syntax error": that is how SQL errors read, and no error may look like one.
        Category::Syntax => "malformed JSON",
        Category::Data => "not an object, or a value of the wrong type",
        Category::Eof => "unexpected end",
    };
    format!("{what} at line {} column {}", error.line(), error.column())
}

/// Decodes `application/x-www-form-urlencoded` text (a body or a query string); bytes that
/// are not UTF-8 after percent-decoding are `InvalidRequest`.
pub fn decode_form(input: &[u8]) -> Result<Fields, BodyError> {
    let invalid = || BodyError::Invalid("The form or query string is not valid UTF-8.".into());
    let parts = || input.split(|b| *b == b'&').filter(|p| !p.is_empty());
    // Counted before anything is decoded: an oversized form costs one pass over its bytes.
    if parts().count() > MAX_FIELDS {
        return Err(too_many_fields().into());
    }
    let mut pairs = Vec::with_capacity(MAX_FIELDS.min(parts().count()));
    for part in parts() {
        let (name, value) = match part.iter().position(|b| *b == b'=') {
            Some(at) => (&part[..at], &part[at + 1..]),
            None => (part, &[][..]),
        };
        let decode = |raw: &[u8]| -> Result<String, BodyError> {
            let spaced: Vec<u8> = raw
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_decode(&spaced)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| invalid())
        };
        pairs.push((decode(name)?, Value::String(decode(value)?)));
    }
    Ok(Fields::from_pairs(pairs)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn json_and_text_json_with_parameters_are_accepted() {
        for content_type in [
            "application/json",
            "text/json",
            "application/json; charset=utf-8",
            "Text/JSON;charset=UTF-8",
        ] {
            let fields = decode_body(Some(content_type), br#"{"Message":"hi"}"#).unwrap();
            assert_eq!(
                fields.text("message").unwrap().as_deref(),
                Some("hi"),
                "{content_type}"
            );
        }
    }

    #[test]
    fn forms_are_decoded() {
        let fields = decode_body(
            Some("application/x-www-form-urlencoded"),
            b"Message=two+towels%21&OutletCode=",
        )
        .unwrap();
        assert_eq!(
            fields.text("message").unwrap().as_deref(),
            Some("two towels!")
        );
        assert_eq!(fields.text("outletcode").unwrap(), None);
    }

    #[test]
    fn other_or_missing_content_types_are_unsupported() {
        assert_eq!(
            decode_body(Some("text/plain"), b"hi"),
            Err(BodyError::UnsupportedMediaType)
        );
        assert_eq!(
            decode_body(None, b"{}"),
            Err(BodyError::UnsupportedMediaType)
        );
    }

    #[test]
    fn an_empty_body_has_no_fields() {
        assert_eq!(decode_body(None, b""), Ok(Fields::default()));
    }

    #[test]
    fn malformed_json_non_objects_and_bad_utf8_are_invalid() {
        for body in [&b"{"[..], b"[1,2]", b"\"text\"", b"{\"a\":1}x", b"\xff\xfe"] {
            assert!(
                matches!(
                    decode_body(Some("application/json"), body),
                    Err(BodyError::Invalid(_))
                ),
                "{body:?}"
            );
        }
        assert!(matches!(
            decode_body(Some("application/x-www-form-urlencoded"), b"a=%ff"),
            Err(BodyError::Invalid(_))
        ));
    }

    #[test]
    fn duplicate_keys_are_invalid() {
        assert!(decode_body(Some("application/json"), br#"{"a":1,"A":2}"#).is_err());
        assert!(decode_body(Some("application/x-www-form-urlencoded"), b"a=1&a=2").is_err());
    }

    #[test]
    fn a_json_body_may_start_with_a_byte_order_mark() {
        let fields = decode_body(
            Some("application/json"),
            b"\xEF\xBB\xBF{\"Message\":\"hi\"}",
        )
        .unwrap();
        assert_eq!(fields.text("message").unwrap().as_deref(), Some("hi"));
    }

    #[test]
    fn more_than_256_fields_in_a_body_or_query_string_are_refused() {
        let form = |n: usize| {
            (0..n)
                .map(|i| format!("f{i}=v"))
                .collect::<Vec<_>>()
                .join("&")
        };
        let json = |n: usize| {
            let entries: Vec<String> = (0..n).map(|i| format!("\"f{i}\":1")).collect();
            format!("{{{}}}", entries.join(","))
        };
        assert!(decode_form(form(256).as_bytes()).is_ok());
        assert!(decode_body(Some("application/json"), json(256).as_bytes()).is_ok());
        for refused in [
            decode_form(form(257).as_bytes()),
            decode_body(Some("application/json"), json(257).as_bytes()),
            decode_body(
                Some("application/x-www-form-urlencoded"),
                form(16_000).as_bytes(),
            ),
        ] {
            match refused {
                Err(BodyError::Invalid(message)) => assert!(message.contains("at most 256")),
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn very_deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            decode_body(Some("application/json"), deep.as_bytes()),
            Err(BodyError::Invalid(_))
        ));
    }

    proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_body(Some("application/json"), &body);
            let _ = decode_body(Some("application/x-www-form-urlencoded"), &body);
        }

        #[test]
        fn decoding_json_like_text_never_panics(body in r#"[{}\[\]":,a-zA-Z0-9 \\u]{0,200}"#) {
            let _ = decode_body(Some("application/json"), body.as_bytes());
        }
    }
}
