//! The composite response envelope of the guest API and the wire date format.

use actix_web::{http::StatusCode, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{ser::SerializeMap, Serialize, Serializer};

/// `application/json; charset=utf-8`, the content type of every API response.
pub const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A data message: `{"content": …, "succeeded": true}`.
#[derive(Serialize)]
pub struct DataMessage<T: Serialize> {
    pub content: T,
    pub succeeded: bool,
}

/// An acknowledgement or error: the `responseStatus` message.
#[derive(Serialize)]
pub struct ResponseStatus<'a> {
    pub succeeded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<WireError<'a>>>,
}

#[derive(Serialize)]
pub struct WireError<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// One response message: an object with exactly one key, its name.
struct Named<'a, T: Serialize> {
    name: &'a str,
    message: &'a T,
}

impl<T: Serialize> Serialize for Named<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.name, self.message)?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a, T: Serialize> {
    session_token: Option<&'a str>,
    responses_included: &'a str,
    responses: [Named<'a, T>; 1],
    status: &'static str,
}

/// Writes an envelope holding one message, whose success decides the composite status.
pub fn envelope<T: Serialize>(
    status: StatusCode,
    token: Option<&str>,
    name: &str,
    message: &T,
    succeeded: bool,
) -> HttpResponse {
    let body = Envelope {
        session_token: token,
        responses_included: name,
        responses: [Named { name, message }],
        status: if succeeded { "Success" } else { "Failure" },
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => HttpResponse::build(status)
            .content_type(JSON_UTF8)
            .body(bytes),
        Err(error) => {
            tracing::error!(error = %error, "could not serialise a response");
            HttpResponse::InternalServerError().content_type(JSON_UTF8).body(
                r#"{"sessionToken":null,"responsesIncluded":"responseStatus","responses":[{"responseStatus":{"succeeded":false,"errors":[{"code":"InternalError","message":"An internal error occurred."}]}}],"status":"Failure"}"#,
            )
        }
    }
}

/// A successful data message in the envelope.
pub fn data<T: Serialize>(token: &str, name: &str, content: T) -> HttpResponse {
    envelope(
        StatusCode::OK,
        Some(token),
        name,
        &DataMessage {
            content,
            succeeded: true,
        },
        true,
    )
}

/// A successful acknowledgement (`responseStatus`) in the envelope.
pub fn acknowledged(token: &str) -> HttpResponse {
    envelope(
        StatusCode::OK,
        Some(token),
        "responseStatus",
        &ResponseStatus {
            succeeded: true,
            errors: None,
        },
        true,
    )
}

/// Formats an instant as the API does: UTC offset and 7 fractional digits,
/// e.g. `2024-03-29T11:20:20.7215185+00:00`.
pub fn wire_date(at: &DateTime<Utc>) -> String {
    format!(
        "{}.{:07}+00:00",
        at.format("%Y-%m-%dT%H:%M:%S"),
        at.timestamp_subsec_nanos() / 100
    )
}

/// `serialize_with` helper for [`wire_date`].
pub fn serialize_wire_date<S: Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&wire_date(at))
}

/// [`serialize_wire_date`] for an optional date (`null` when absent).
pub fn serialize_optional_wire_date<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&wire_date(at)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_have_seven_fractional_digits_and_an_offset() {
        let at = DateTime::parse_from_rfc3339("2024-03-29T11:20:20.721518+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(wire_date(&at), "2024-03-29T11:20:20.7215180+00:00");
        let whole = DateTime::parse_from_rfc3339("2024-03-29T11:20:20Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(wire_date(&whole), "2024-03-29T11:20:20.0000000+00:00");
    }
}
