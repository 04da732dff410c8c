//! Webhooks (API section 12): the rules of an endpoint's secret, of which events it receives,
//! and of what happens after an attempt. Sending and storing live in the adapters.

use std::{fmt, time::Duration};

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::events::EVENT_TYPES;

/// At most this much of a failed answer's body is kept for diagnosis.
pub const KEPT_RESPONSE_BYTES: usize = 1024;

/// An endpoint's signing secret in the Standard Webhooks format: `whsec_` and the base64 of
/// 24 to 64 random bytes. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl WebhookSecret {
    /// The secret a file or the store holds, or why it is not one (the reason never quotes
    /// it).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let Some(encoded) = raw.strip_prefix("whsec_") else {
            return Err("must start with whsec_");
        };
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| "must be whsec_ and base64")?;
        if !(24..=64).contains(&key.len()) {
            return Err("must encode 24 to 64 bytes");
        }
        Ok(Self {
            text: raw.to_owned(),
            key,
        })
    }

    /// The `whsec_…` text, to store.
    pub fn expose_text(&self) -> &str {
        &self.text
    }

    /// The decoded key that signs.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

/// Which events an endpoint receives: the types (`None`: every type) of the conversations of
/// which outlets (`None`: every outlet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFilter {
    pub event_types: Option<Vec<String>>,
    pub outlet_ids: Option<Vec<i64>>,
}

impl WebhookFilter {
    /// The rule, stated here: the store applies it in the trigger that queues deliveries as
    /// events are appended (migration `20261202000030_webhooks.sql`); the black-box filter
    /// test in `crates/server/tests/api/webhooks.rs` ties the two.
    pub fn admits(&self, event_type: &str, outlet_id: i64) -> bool {
        self.event_types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == event_type))
            && self
                .outlet_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&outlet_id))
    }
}

/// The `events` of a file entry: `None` for every type (missing or empty), else the types,
/// or the first one that is not an event type.
pub fn event_types(raw: Option<&[String]>) -> Result<Option<Vec<String>>, String> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let mut types: Vec<String> = Vec::with_capacity(raw.len());
    for t in raw {
        if !EVENT_TYPES.contains(&t.as_str()) {
            return Err(t.clone());
        }
        if !types.contains(t) {
            types.push(t.clone());
        }
    }
    Ok(Some(types))
}

/// The delays between attempts (`BELLHOP_WEBHOOK_RETRY_SCHEDULE`): after the first failed
/// attempt the delivery waits the first delay, and so on; after a failure with no delay left
/// it is `failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// Standard Webhooks' reference schedule.
    pub const DEFAULT: &'static str = "5,300,1800,7200,18000,36000,36000";

    /// Seconds, comma-separated (fractions allowed, for tests); at least one, each at most a
    /// week.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let delays = raw
            .split(',')
            .map(|part| {
                let part = part.trim();
                part.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 604_800.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| format!("\"{part}\" is not a number of seconds (0 to 604800)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() || delays.len() > 100 {
            return Err("must list 1 to 100 delays".into());
        }
        Ok(Self(delays))
    }

    /// What follows the failed attempt number `attempt` (1 for the first): the delay before
    /// the next one, or `None` when that was the last.
    pub fn after_failure(&self, attempt: u32) -> Option<Duration> {
        let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }

    /// How many attempts a delivery gets at most.
    pub fn attempts(&self) -> usize {
        self.0.len() + 1
    }
}

/// What an attempt's answer means: a 2xx status is a delivery, anything else a failure.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// At most [`KEPT_RESPONSE_BYTES`] of an answer's body, cut at a character boundary.
pub fn kept_response(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(KEPT_RESPONSE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// A webhook endpoint of the reference data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookData {
    pub url: String,
    pub secret: WebhookSecret,
    /// `None`: every type.
    pub event_types: Option<Vec<String>>,
    /// `None`: every outlet.
    pub outlet_codes: Option<Vec<String>>,
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_of(bytes: usize) -> String {
        format!("whsec_{}", STANDARD.encode(vec![7u8; bytes]))
    }

    #[test]
    fn a_secret_is_whsec_and_the_base64_of_24_to_64_bytes() {
        assert_eq!(
            WebhookSecret::parse(&secret_of(24)).unwrap().key().len(),
            24
        );
        assert_eq!(
            WebhookSecret::parse(&secret_of(64)).unwrap().key().len(),
            64
        );
        assert!(WebhookSecret::parse(&secret_of(23)).is_err());
        assert!(WebhookSecret::parse(&secret_of(65)).is_err());
        assert!(WebhookSecret::parse(&secret_of(32)[6..]).is_err());
        assert!(WebhookSecret::parse("whsec_not base64!").is_err());
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let raw = secret_of(32);
        let secret = WebhookSecret::parse(&raw).unwrap();
        assert!(!format!("{secret:?}").contains(&raw[6..12]));
    }

    #[test]
    fn no_types_means_every_type_and_unknown_types_are_named() {
        assert_eq!(event_types(None), Ok(None));
        assert_eq!(event_types(Some(&[])), Ok(None));
        assert_eq!(
            event_types(Some(&["message.created".into(), "message.created".into()])),
            Ok(Some(vec!["message.created".into()]))
        );
        assert_eq!(
            event_types(Some(&["message.sent".into()])),
            Err("message.sent".into())
        );
    }

    #[test]
    fn a_filter_admits_its_types_of_its_outlets() {
        let all = WebhookFilter {
            event_types: None,
            outlet_ids: None,
        };
        assert!(all.admits("conversation.read", 9));
        let some = WebhookFilter {
            event_types: Some(vec!["message.created".into()]),
            outlet_ids: Some(vec![2, 3]),
        };
        assert!(some.admits("message.created", 3));
        assert!(!some.admits("message.created", 4));
        assert!(!some.admits("conversation.created", 3));
    }

    #[test]
    fn the_schedule_gives_each_delay_in_turn_then_gives_up() {
        let schedule = RetrySchedule::parse(RetrySchedule::DEFAULT).unwrap();
        assert_eq!(schedule.after_failure(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.after_failure(7), Some(Duration::from_secs(36_000)));
        assert_eq!(schedule.after_failure(8), None);
        assert_eq!(schedule.attempts(), 8);
        assert_eq!(
            RetrySchedule::parse("0.2, 1").unwrap().after_failure(1),
            Some(Duration::from_millis(200))
        );
        assert!(RetrySchedule::parse("").is_err());
        assert!(RetrySchedule::parse("5,-1").is_err());
        assert!(RetrySchedule::parse("5,x").is_err());
    }

    #[test]
    fn only_2xx_is_success() {
        assert!(is_success(200) && is_success(204) && is_success(299));
        assert!(!is_success(301) && !is_success(199) && !is_success(500));
    }

    #[test]
    fn at_most_1_kib_of_an_answer_is_kept_whole_characters_only() {
        assert_eq!(kept_response(b"oops"), "oops");
        let long = "é".repeat(1000);
        let kept = kept_response(long.as_bytes());
        assert!(kept.len() <= KEPT_RESPONSE_BYTES && kept.len() >= KEPT_RESPONSE_BYTES - 1);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
