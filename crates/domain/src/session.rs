//! Guest sessions: who is talking (anonymous app, verified in-house guest, or visitor), in
//! which language, and how long the session lives.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::{
    error::DomainError,
    property::PropertyId,
    stay::{GuestStay, StayId},
};

/// The id inside a session token.
pub type SessionId = Uuid;

/// Who the session speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestIdentity {
    /// Started with the interface token only: may read outlet settings, nothing personal.
    Anonymous,
    /// Verified as the in-house guest of a stay (by room number and last name).
    Verified { stay_id: StayId },
    /// A non-verified visitor, identified by the app's own identifier.
    Visitor { guest_identifier: GuestIdentifier },
}

impl GuestIdentity {
    pub fn kind(&self) -> SessionKind {
        match self {
            Self::Anonymous => SessionKind::Anonymous,
            Self::Verified { .. } => SessionKind::Verified,
            Self::Visitor { .. } => SessionKind::Visitor,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Anonymous,
    Verified,
    Visitor,
}

impl SessionKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Verified => "verified",
            Self::Visitor => "visitor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub property_id: PropertyId,
    pub identity: GuestIdentity,
    /// The language in effect for this session (section 3 of the spec).
    pub language_code: String,
    /// The `languageCode` given explicitly when the session started, if any; kept across login.
    pub explicit_language: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// For a verified guest: the stay (read with the session), whose check-out bounds the
    /// session's life.
    pub stay: Option<GuestStay>,
}

/// The configurable lifetime rules of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub checkout_grace: Duration,
    pub refresh_after: Duration,
    /// Failed room verifications per room in a window before that room's attempts are
    /// refused (see [`crate::verification`]); 0 turns the limit off.
    pub login_failures_per_room: u32,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::seconds(86_400),
            checkout_grace: Duration::seconds(21_600),
            refresh_after: Duration::seconds(900),
            login_failures_per_room: 10,
        }
    }
}

impl SessionPolicy {
    /// How stale `last_seen_at` may get before a request records activity again: a fraction
    /// of the idle timeout, so idle expiry stays accurate without a write on every request.
    pub fn touch_interval(&self) -> Duration {
        std::cmp::min(Duration::seconds(60), self.idle_timeout / 20)
    }
}

impl Session {
    /// When the session ends if nothing else happens: idle expiry, and for a verified guest
    /// no later than check-out plus the grace period.
    pub fn expires_at(&self, policy: &SessionPolicy) -> DateTime<Utc> {
        let idle = self.last_seen_at + policy.idle_timeout;
        match self.stay.as_ref().map(|stay| stay.check_out) {
            Some(check_out) if matches!(self.identity, GuestIdentity::Verified { .. }) => {
                std::cmp::min(idle, check_out + policy.checkout_grace)
            }
            _ => idle,
        }
    }

    /// Whether the session may serve a request at `now`.
    pub fn is_live_at(&self, now: DateTime<Utc>, policy: &SessionPolicy) -> bool {
        self.ended_at.is_none() && now < self.expires_at(policy) && self.stay_is_in_house(now)
    }

    /// A verified session lives only while its stay is in house: not once the stay is gone
    /// (removed by a reload) or its check-in was moved into the future. Check-out is bounded
    /// by [`Self::expires_at`], with its grace period.
    fn stay_is_in_house(&self, now: DateTime<Utc>) -> bool {
        match self.identity {
            GuestIdentity::Verified { .. } => {
                self.stay.as_ref().is_some_and(|stay| stay.check_in <= now)
            }
            GuestIdentity::Anonymous | GuestIdentity::Visitor { .. } => true,
        }
    }

    /// Whether serving a request at `now` should record activity (see [`SessionPolicy::touch_interval`]).
    pub fn needs_touch(&self, now: DateTime<Utc>, policy: &SessionPolicy) -> bool {
        now - self.last_seen_at >= policy.touch_interval()
    }

    pub fn stay_id(&self) -> Option<StayId> {
        match self.identity {
            GuestIdentity::Verified { stay_id } => Some(stay_id),
            _ => None,
        }
    }
}

/// A token issued at `issued_at` gets a fresh companion once it is older than the refresh interval.
pub fn token_needs_refresh(
    issued_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &SessionPolicy,
) -> bool {
    now - issued_at > policy.refresh_after
}

/// The session language rule: the explicit `languageCode`, else the stay's, else the property's.
pub fn session_language(
    explicit: Option<&str>,
    stay_language: Option<&str>,
    property_default: &str,
) -> String {
    explicit
        .or(stay_language.filter(|l| !l.is_empty()))
        .unwrap_or(property_default)
        .to_owned()
}

/// A language code as the guest app sends it (`en`, `fr-FR`, `zh-Hant-TW`): ASCII letters,
/// digits and hyphens, 2 to 35 characters.
pub fn parse_language_code(raw: &str) -> Result<String, DomainError> {
    let valid = (2..=35).contains(&raw.len())
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && raw.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(DomainError::invalid_request(
            "The language code is not a valid language tag.",
        ))
    }
}

/// The app's own identifier for a visitor: 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GuestIdentifier(String);

impl GuestIdentifier {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let count = raw.chars().count();
        if count == 0 || count > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(DomainError::invalid_request(
                "The guest unique identifier must be 1 to 200 characters without control characters.",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(
        identity: GuestIdentity,
        check_out: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Session {
        Session {
            id: Uuid::nil(),
            property_id: 1,
            identity,
            language_code: "en".into(),
            explicit_language: None,
            created_at: now,
            last_seen_at: now,
            ended_at: None,
            stay: check_out.map(|check_out| GuestStay {
                id: 1,
                property_id: 1,
                code: "S-1".into(),
                room_number: "101".into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                language_code: "en".into(),
                check_in: now - Duration::days(1),
                check_out,
            }),
        }
    }

    #[test]
    fn a_session_expires_after_the_idle_timeout() {
        let now = Utc::now();
        let policy = SessionPolicy::default();
        let s = session(GuestIdentity::Anonymous, None, now);
        assert!(s.is_live_at(now + Duration::hours(23), &policy));
        assert!(!s.is_live_at(now + Duration::hours(24), &policy));
    }

    #[test]
    fn a_verified_session_ends_at_check_out_plus_grace() {
        let now = Utc::now();
        let policy = SessionPolicy::default();
        let s = session(
            GuestIdentity::Verified { stay_id: 1 },
            Some(now + Duration::hours(1)),
            now,
        );
        assert!(s.is_live_at(now + Duration::hours(6), &policy));
        assert!(!s.is_live_at(now + Duration::hours(7), &policy));
    }

    #[test]
    fn an_ended_session_is_not_live() {
        let now = Utc::now();
        let mut s = session(GuestIdentity::Anonymous, None, now);
        s.ended_at = Some(now);
        assert!(!s.is_live_at(now, &SessionPolicy::default()));
    }

    #[test]
    fn tokens_older_than_the_refresh_interval_need_refreshing() {
        let now = Utc::now();
        let policy = SessionPolicy::default();
        assert!(!token_needs_refresh(
            now - Duration::minutes(15),
            now,
            &policy
        ));
        assert!(token_needs_refresh(
            now - Duration::minutes(15) - Duration::seconds(1),
            now,
            &policy
        ));
    }

    #[test]
    fn the_explicit_language_wins_then_the_stays_then_the_propertys() {
        assert_eq!(session_language(Some("de"), Some("fr"), "en"), "de");
        assert_eq!(session_language(None, Some("fr"), "en"), "fr");
        assert_eq!(session_language(None, None, "en"), "en");
        assert_eq!(session_language(None, Some(""), "en"), "en");
    }

    #[test]
    fn language_codes_are_tags() {
        assert!(parse_language_code("en").is_ok());
        assert!(parse_language_code("zh-Hant-TW").is_ok());
        assert!(parse_language_code("e").is_err());
        assert!(parse_language_code("en; drop table").is_err());
        assert!(parse_language_code("1en").is_err());
    }

    #[test]
    fn guest_identifiers_are_one_to_two_hundred_characters() {
        assert!(GuestIdentifier::parse("device-1").is_ok());
        assert!(GuestIdentifier::parse(&"é".repeat(200)).is_ok());
        assert!(GuestIdentifier::parse(&"é".repeat(201)).is_err());
        assert!(GuestIdentifier::parse("").is_err());
        assert!(GuestIdentifier::parse("a\nb").is_err());
    }
}
