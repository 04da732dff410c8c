//! Sessions: starting one with an interface token, verifying a guest by room, and turning a
//! presented token into a live session (with a fresh token when one is due).

use std::sync::Arc;

use bellhop_domain::{
    clock::Clock,
    ports::{NewSession, PropertyRepository, SessionRepository, StayRepository},
    property::Property,
    session::{
        parse_language_code, session_language, token_needs_refresh, GuestIdentifier, GuestIdentity,
        Session, SessionId, SessionPolicy,
    },
    stay::{verify_guest, GuestStay},
    verification::{room_key, seconds_until, FailureWindow},
    DomainError,
};
use tracing::instrument;
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    secrets::{hash_secret, matches_any},
    tokens::{TokenClaims, TokenCodec},
};

/// The credentials every `Initialise*` call carries.
#[derive(Debug, Clone, Default)]
pub struct StartSession {
    pub property_code: String,
    pub interface_token: String,
    pub language_code: Option<String>,
}

/// A session just started, with its token.
#[derive(Debug, Clone)]
pub struct StartedSession {
    pub session: Session,
    pub property: Property,
    pub token: String,
}

/// A request's session after its token was checked.
#[derive(Debug, Clone)]
pub struct AuthenticatedSession {
    pub session: Session,
    /// The token the response hands back: the presented one, or a fresh one when due.
    pub token: String,
}

#[derive(Clone)]
pub struct SessionService {
    properties: Arc<dyn PropertyRepository>,
    stays: Arc<dyn StayRepository>,
    sessions: Arc<dyn SessionRepository>,
    tokens: TokenCodec,
    policy: SessionPolicy,
    clock: Arc<dyn Clock>,
}

impl SessionService {
    pub fn new(
        properties: Arc<dyn PropertyRepository>,
        stays: Arc<dyn StayRepository>,
        sessions: Arc<dyn SessionRepository>,
        tokens: TokenCodec,
        policy: SessionPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            properties,
            stays,
            sessions,
            tokens,
            policy,
            clock,
        }
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// An anonymous session.
    #[instrument(skip_all)]
    pub async fn initialise(&self, start: StartSession) -> AppResult<StartedSession> {
        let language = parse_optional_language(start.language_code.as_deref())?;
        let property = self.check_interface_token(&start).await?;
        let language_code = session_language(language.as_deref(), None, &property.default_language);
        self.start(property, GuestIdentity::Anonymous, language_code, language)
            .await
    }

    /// A session already verified as the in-house guest of a room.
    #[instrument(skip_all)]
    pub async fn initialise_by_room(
        &self,
        start: StartSession,
        last_name: &str,
        room_number: &str,
    ) -> AppResult<StartedSession> {
        let language = parse_optional_language(start.language_code.as_deref())?;
        let property = self.check_interface_token(&start).await?;
        let stay = self.verify(&property, last_name, room_number).await?;
        let language_code = session_language(
            language.as_deref(),
            Some(&stay.language_code),
            &property.default_language,
        );
        self.start(
            property,
            GuestIdentity::Verified { stay_id: stay.id },
            language_code,
            language,
        )
        .await
    }

    /// A session for a non-verified visitor, identified by the app's own id.
    #[instrument(skip_all)]
    pub async fn initialise_by_guest_identifier(
        &self,
        start: StartSession,
        guest_identifier: &str,
    ) -> AppResult<StartedSession> {
        let language = parse_optional_language(start.language_code.as_deref())?;
        let guest_identifier = GuestIdentifier::parse(guest_identifier)?;
        let property = self.check_interface_token(&start).await?;
        let language_code = session_language(language.as_deref(), None, &property.default_language);
        self.start(
            property,
            GuestIdentity::Visitor { guest_identifier },
            language_code,
            language,
        )
        .await
    }

    /// Ends the given session and starts a verified one for the same property (no session
    /// fixation). A failed verification leaves the given session as it was.
    #[instrument(skip_all, fields(property_id = current.property_id))]
    pub async fn login_by_room(
        &self,
        current: &Session,
        last_name: &str,
        room_number: &str,
    ) -> AppResult<StartedSession> {
        let property = self.property(current.property_id).await?;
        let stay = self.verify(&property, last_name, room_number).await?;
        let explicit = current.explicit_language.clone();
        let language = session_language(
            explicit.as_deref(),
            Some(&stay.language_code),
            &property.default_language,
        );
        let identity = GuestIdentity::Verified { stay_id: stay.id };
        self.start_replacing(property, identity, language, explicit, Some(current.id))
            .await
    }

    /// Turns a presented token into its live session: `SessionTokenInvalid` for a malformed,
    /// forged or unknown token, `SessionExpired` for an ended one.
    #[instrument(skip_all)]
    pub async fn authenticate(&self, token: &str) -> AppResult<AuthenticatedSession> {
        let claims = self
            .tokens
            .verify(token)
            .map_err(|_| DomainError::SessionTokenInvalid)?;
        let session = self
            .sessions
            .find_session(claims.property_id, claims.session_id)
            .await?
            .ok_or(DomainError::SessionTokenInvalid)?;
        let now = self.clock.now();
        if !session.is_live_at(now, &self.policy) {
            return Err(DomainError::SessionExpired.into());
        }
        if session.needs_touch(now, &self.policy) {
            self.sessions
                .touch_session(session.property_id, session.id, now)
                .await?;
        }
        let token = if token_needs_refresh(claims.issued_at, now, &self.policy) {
            self.tokens.sign(&TokenClaims {
                issued_at: now,
                ..claims
            })
        } else {
            token.to_owned()
        };
        Ok(AuthenticatedSession { session, token })
    }

    /// The session's property (it must exist: sessions reference it).
    pub async fn property(&self, property_id: i64) -> AppResult<Property> {
        self.properties
            .get_property(property_id)
            .await?
            .ok_or_else(|| AppError::internal("a session refers to a missing property"))
    }

    /// Unknown property, wrong token and disabled token are one and the same error, and take
    /// the same work (one database round trip, then a hash comparison) so timing does not
    /// tell them apart either.
    async fn check_interface_token(&self, start: &StartSession) -> AppResult<Property> {
        let credentials = self
            .properties
            .find_property_credentials(&start.property_code)
            .await?;
        let (property, known) = match credentials {
            Some((property, hashes)) => (Some(property), hashes),
            None => (None, vec![hash_secret("")]),
        };
        match property {
            Some(property) if matches_any(&start.interface_token, &known) => Ok(property),
            _ => Err(DomainError::InterfaceTokenInvalid.into()),
        }
    }

    /// Verifies the guest of a room, refusing every attempt for a room whose failures reached
    /// the limit (see [`bellhop_domain::verification`]), and counting this one if it fails.
    async fn verify(
        &self,
        property: &Property,
        last_name: &str,
        room_number: &str,
    ) -> AppResult<GuestStay> {
        let now = self.clock.now();
        let limit = self.policy.login_failures_per_room;
        let key = room_key(room_number);
        if limit > 0 {
            let window = self
                .stays
                .verification_failures(property.id, &key, now)
                .await?;
            if let Some(until) = window.and_then(|w| w.refuses_until(now, limit)) {
                return Err(refused_until(now, until));
            }
        }
        let stays = self
            .stays
            .in_house_stays_in_room(property.id, room_number, now)
            .await?;
        if let Some(stay) = verify_guest(&stays, room_number, last_name, now) {
            return Ok(stay.clone());
        }
        if limit > 0 {
            let window: FailureWindow = self
                .stays
                .record_verification_failure(property.id, &key, now)
                .await?;
            tracing::info!(failures = window.failures, "room verification failed");
        }
        Err(DomainError::GuestVerificationFailed.into())
    }

    async fn start(
        &self,
        property: Property,
        identity: GuestIdentity,
        language_code: String,
        explicit_language: Option<String>,
    ) -> AppResult<StartedSession> {
        self.start_replacing(property, identity, language_code, explicit_language, None)
            .await
    }

    /// Stores a new session (ending `replacing` in the same transaction, if given) and signs
    /// its first token.
    async fn start_replacing(
        &self,
        property: Property,
        identity: GuestIdentity,
        language_code: String,
        explicit_language: Option<String>,
        replacing: Option<SessionId>,
    ) -> AppResult<StartedSession> {
        let now = self.clock.now();
        let new = NewSession {
            id: Uuid::new_v4(),
            property_id: property.id,
            identity,
            language_code,
            explicit_language,
            created_at: now,
        };
        let session = match replacing {
            Some(old) => self.sessions.replace_session(old, new, now).await?,
            None => self.sessions.create_session(new).await?,
        };
        let token = self.tokens.sign(&TokenClaims {
            property_id: property.id,
            session_id: session.id,
            issued_at: now,
        });
        Ok(StartedSession {
            session,
            property,
            token,
        })
    }
}

fn refused_until(
    now: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> AppError {
    DomainError::TooManyFailedVerifications {
        retry_after_secs: seconds_until(now, until),
    }
    .into()
}

fn parse_optional_language(raw: Option<&str>) -> AppResult<Option<String>> {
    Ok(raw
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(parse_language_code)
        .transpose()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use bellhop_domain::ports::{
        MockPropertyRepository, MockSessionRepository, MockStayRepository,
    };
    use chrono::{DateTime, Duration, Utc};
    use secrecy::SecretString;

    fn property() -> Property {
        crate::testing::demo_property(1)
    }

    fn stay(now: DateTime<Utc>) -> GuestStay {
        GuestStay {
            id: 7,
            property_id: 1,
            code: "S-203".into(),
            room_number: "203".into(),
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            language_code: "fr".into(),
            check_in: now - Duration::days(1),
            check_out: now + Duration::days(3),
        }
    }

    /// Stays of `stay(now)` in room 203, with no failed verification counted so far.
    fn stays_with_no_failures(now: DateTime<Utc>) -> MockStayRepository {
        let mut stays = MockStayRepository::new();
        stays
            .expect_in_house_stays_in_room()
            .returning(move |_, _, _| Ok(vec![stay(now)]));
        stays
            .expect_verification_failures()
            .returning(|_, _, _| Ok(None));
        stays
    }

    fn stored(new: NewSession) -> Session {
        Session {
            id: new.id,
            property_id: new.property_id,
            identity: new.identity,
            language_code: new.language_code,
            explicit_language: new.explicit_language,
            created_at: new.created_at,
            last_seen_at: new.created_at,
            ended_at: None,
            stay: None,
        }
    }

    fn properties() -> MockPropertyRepository {
        let mut properties = MockPropertyRepository::new();
        properties
            .expect_find_property_credentials()
            .returning(|code| {
                Ok((code == "DEMO-HOTEL")
                    .then(|| (property(), vec![hash_secret("demo-interface-token")])))
            });
        properties
            .expect_get_property()
            .returning(|_| Ok(Some(property())));
        properties
    }

    fn service(
        stays: MockStayRepository,
        sessions: MockSessionRepository,
        clock: Arc<ManualClock>,
    ) -> SessionService {
        SessionService::new(
            Arc::new(properties()),
            Arc::new(stays),
            Arc::new(sessions),
            TokenCodec::new(SecretString::from("test-secret"), None),
            SessionPolicy::default(),
            clock,
        )
    }

    fn start(token: &str, language: Option<&str>) -> StartSession {
        StartSession {
            property_code: "DEMO-HOTEL".into(),
            interface_token: token.into(),
            language_code: language.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn initialise_starts_an_anonymous_session_in_the_propertys_language() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_create_session()
            .times(1)
            .returning(|new| Ok(stored(new)));
        let started = service(MockStayRepository::new(), sessions, clock)
            .initialise(start("demo-interface-token", None))
            .await
            .unwrap();
        assert_eq!(started.session.identity, GuestIdentity::Anonymous);
        assert_eq!(started.session.language_code, "en");
    }

    #[tokio::test]
    async fn a_wrong_interface_token_and_an_unknown_property_are_the_same_error() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let service = service(
            MockStayRepository::new(),
            MockSessionRepository::new(),
            clock,
        );
        let wrong = service.initialise(start("nope", None)).await.unwrap_err();
        assert_eq!(
            wrong.code(),
            bellhop_domain::ErrorCode::InterfaceTokenInvalid
        );
        let mut unknown = start("demo-interface-token", None);
        unknown.property_code = "ELSEWHERE".into();
        let unknown = service.initialise(unknown).await.unwrap_err();
        assert_eq!(
            unknown.code(),
            bellhop_domain::ErrorCode::InterfaceTokenInvalid
        );
    }

    #[tokio::test]
    async fn initialise_by_room_takes_the_stays_language_unless_one_is_given() {
        let now = Utc::now();
        let clock = Arc::new(ManualClock::new(now));
        let mut stays = stays_with_no_failures(now);
        stays.expect_record_verification_failure().never();
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_create_session()
            .returning(|new| Ok(stored(new)));
        let service = service(stays, sessions, clock);
        let started = service
            .initialise_by_room(start("demo-interface-token", None), "hopper", "203")
            .await
            .unwrap();
        assert_eq!(started.session.language_code, "fr");
        assert_eq!(
            started.session.identity,
            GuestIdentity::Verified { stay_id: 7 }
        );
        let started = service
            .initialise_by_room(start("demo-interface-token", Some("de")), "HOPPER", "203")
            .await
            .unwrap();
        assert_eq!(started.session.language_code, "de");
        assert_eq!(started.session.explicit_language.as_deref(), Some("de"));
    }

    #[tokio::test]
    async fn a_wrong_last_name_fails_verification_creates_nothing_and_is_counted() {
        let now = Utc::now();
        let clock = Arc::new(ManualClock::new(now));
        let mut stays = stays_with_no_failures(now);
        stays
            .expect_record_verification_failure()
            .withf(|property, room, _| *property == 1 && room == "203")
            .times(1)
            .returning(move |_, _, at| {
                Ok(FailureWindow {
                    started_at: at,
                    failures: 1,
                })
            });
        let mut sessions = MockSessionRepository::new();
        sessions.expect_create_session().never();
        let error = service(stays, sessions, clock)
            .initialise_by_room(start("demo-interface-token", None), "Lovelace", "203")
            .await
            .unwrap_err();
        assert_eq!(
            error.code(),
            bellhop_domain::ErrorCode::GuestVerificationFailed
        );
    }

    #[tokio::test]
    async fn a_room_with_too_many_failures_is_refused_even_with_the_right_name() {
        let now = Utc::now();
        let clock = Arc::new(ManualClock::new(now));
        let mut stays = MockStayRepository::new();
        stays
            .expect_verification_failures()
            .returning(move |_, _, _| {
                Ok(Some(FailureWindow {
                    started_at: now - Duration::minutes(5),
                    failures: 10,
                }))
            });
        stays.expect_in_house_stays_in_room().never();
        let mut sessions = MockSessionRepository::new();
        sessions.expect_create_session().never();
        let error = service(stays, sessions, clock)
            .initialise_by_room(start("demo-interface-token", None), "Hopper", "203")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                AppError::Domain(DomainError::TooManyFailedVerifications {
                    retry_after_secs: 600
                })
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn login_keeps_an_explicit_language_and_replaces_the_session() {
        let now = Utc::now();
        let clock = Arc::new(ManualClock::new(now));
        let stays = stays_with_no_failures(now);
        let mut sessions = MockSessionRepository::new();
        let old_id = Uuid::new_v4();
        sessions
            .expect_replace_session()
            .withf(move |old, new, _| *old == old_id && new.language_code == "it")
            .times(1)
            .returning(|_, new, _| Ok(stored(new)));
        let current = Session {
            id: old_id,
            property_id: 1,
            identity: GuestIdentity::Anonymous,
            language_code: "it".into(),
            explicit_language: Some("it".into()),
            created_at: now,
            last_seen_at: now,
            ended_at: None,
            stay: None,
        };
        let started = service(stays, sessions, clock)
            .login_by_room(&current, "Hopper", "203")
            .await
            .unwrap();
        assert_ne!(started.session.id, old_id);
        assert_eq!(
            started.session.identity,
            GuestIdentity::Verified { stay_id: 7 }
        );
    }

    #[tokio::test]
    async fn an_old_token_gets_a_fresh_companion_and_a_young_one_does_not() {
        let now = Utc::now();
        let clock = Arc::new(ManualClock::new(now));
        let session_id = Uuid::new_v4();
        let mut sessions = MockSessionRepository::new();
        sessions.expect_find_session().returning(move |_, id| {
            Ok(Some(Session {
                id,
                property_id: 1,
                identity: GuestIdentity::Anonymous,
                language_code: "en".into(),
                explicit_language: None,
                created_at: now,
                last_seen_at: now,
                ended_at: None,
                stay: None,
            }))
        });
        sessions.expect_touch_session().returning(|_, _, _| Ok(()));
        let service = service(MockStayRepository::new(), sessions, clock.clone());
        let token = service.tokens.sign(&TokenClaims {
            property_id: 1,
            session_id,
            issued_at: now,
        });
        clock.advance(Duration::minutes(10));
        assert_eq!(service.authenticate(&token).await.unwrap().token, token);
        clock.advance(Duration::minutes(6));
        let refreshed = service.authenticate(&token).await.unwrap().token;
        assert_ne!(refreshed, token);
        assert_eq!(
            service.tokens.verify(&refreshed).unwrap().session_id,
            session_id
        );
    }

    #[tokio::test]
    async fn an_idle_session_has_expired() {
        let now = bellhop_domain::clock::to_micros(Utc::now());
        let clock = Arc::new(ManualClock::new(now));
        let mut sessions = MockSessionRepository::new();
        sessions.expect_find_session().returning(move |_, id| {
            Ok(Some(Session {
                id,
                property_id: 1,
                identity: GuestIdentity::Anonymous,
                language_code: "en".into(),
                explicit_language: None,
                created_at: now,
                last_seen_at: now,
                ended_at: None,
                stay: None,
            }))
        });
        let service = service(MockStayRepository::new(), sessions, clock.clone());
        let token = service.tokens.sign(&TokenClaims {
            property_id: 1,
            session_id: Uuid::new_v4(),
            issued_at: now,
        });
        clock.advance(Duration::hours(24));
        assert_eq!(
            service.authenticate(&token).await.unwrap_err().code(),
            bellhop_domain::ErrorCode::SessionExpired
        );
    }
}
