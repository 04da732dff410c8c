//! Guest conversations, one use case per file: create (verified guests and visitors), list,
//! get, reply, read, close, and the guest's message feed.

mod close;
mod create;
mod get;
mod list;
mod read;
mod reply;

use std::sync::Arc;

use bellhop_domain::{
    clock::Clock,
    conversation::{GuestOwner, Opening, Viewer},
    message::MessageContent,
    ports::{ConversationRepository, PropertyRepository, StayRepository},
    property::Property,
    session::{GuestIdentity, Session},
    stay::GuestStay,
    DomainError,
};

pub use create::{CreateConversation, CreateVisitorConversation};
pub use reply::AddGuestMessage;

use crate::{
    codes::new_code,
    error::{AppError, AppResult},
};

#[derive(Clone)]
pub struct ConversationService {
    properties: Arc<dyn PropertyRepository>,
    stays: Arc<dyn StayRepository>,
    conversations: Arc<dyn ConversationRepository>,
    clock: Arc<dyn Clock>,
}

/// Which guest a session speaks for, or `GuestNotVerified` for an anonymous one.
pub fn guest_viewer(session: &Session) -> AppResult<Viewer> {
    let owner = match &session.identity {
        GuestIdentity::Verified { stay_id } => GuestOwner::Stay(*stay_id),
        GuestIdentity::Visitor { guest_identifier } => {
            GuestOwner::Visitor(guest_identifier.clone())
        }
        GuestIdentity::Anonymous => return Err(DomainError::GuestNotVerified.into()),
    };
    Ok(Viewer::Guest {
        property_id: session.property_id,
        owner,
    })
}

impl ConversationService {
    pub fn new(
        properties: Arc<dyn PropertyRepository>,
        stays: Arc<dyn StayRepository>,
        conversations: Arc<dyn ConversationRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            properties,
            stays,
            conversations,
            clock,
        }
    }

    /// A new conversation's codes and first message, written now.
    fn opening(&self, content: MessageContent) -> Opening {
        Opening {
            code: new_code(),
            message_code: new_code(),
            content,
            at: self.clock.now(),
            reply_code: new_code(),
        }
    }

    async fn property(&self, id: i64) -> AppResult<Property> {
        self.properties
            .get_property(id)
            .await?
            .ok_or_else(|| AppError::internal("a session refers to a missing property"))
    }

    /// The session's stay: read with the session, or (should it be missing) looked up.
    async fn session_stay(&self, session: &Session, stay_id: i64) -> AppResult<GuestStay> {
        match &session.stay {
            Some(stay) if stay.id == stay_id => Ok(stay.clone()),
            _ => self
                .stays
                .get_stay(session.property_id, stay_id)
                .await?
                .ok_or_else(|| AppError::internal("a session refers to a missing stay")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use bellhop_domain::{
        conversation::{
            Conversation, ConversationStatus, GuestDetails, MessageType, NewConversation,
        },
        idempotency::Created,
        naming::ConversationType,
        order::Order,
        outlet::Outlet,
        ports::Written,
        ports::{MockConversationRepository, MockPropertyRepository, MockStayRepository},
        ErrorCode,
    };
    use chrono::{Duration, Utc};
    use chrono_tz::Europe::London;
    use uuid::Uuid;

    fn outlet(id: i64, code: &str, order: i32, visitors: bool) -> Outlet {
        Outlet {
            id,
            property_id: 1,
            code: code.into(),
            name: code.into(),
            description: String::new(),
            display_order: order,
            active: true,
            allow_guest_messages: true,
            allow_non_verified_guests: visitors,
            service_center_name: "Team".into(),
            opening_hours: vec![],
            reply_target_minutes: None,
            out_of_hours_reply: None,
        }
    }

    fn session(identity: GuestIdentity) -> Session {
        let now = Utc::now();
        Session {
            id: Uuid::new_v4(),
            property_id: 1,
            identity,
            language_code: "de".into(),
            explicit_language: Some("de".into()),
            created_at: now,
            last_seen_at: now,
            ended_at: None,
            stay: None,
        }
    }

    fn properties() -> MockPropertyRepository {
        let mut properties = MockPropertyRepository::new();
        properties
            .expect_get_property()
            .returning(|id| Ok(Some(crate::testing::demo_property(id))));
        properties.expect_list_outlets().returning(|_| {
            Ok(Arc::new(vec![
                outlet(2, "ROOMSVC", 2, false),
                outlet(4, "CONCIERGE", 4, true),
            ]))
        });
        properties
    }

    fn stays() -> MockStayRepository {
        let mut stays = MockStayRepository::new();
        stays.expect_get_stay().returning(|property_id, id| {
            let now = Utc::now();
            Ok(Some(GuestStay {
                id,
                property_id,
                code: "S-101".into(),
                room_number: "101".into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                language_code: "en".into(),
                check_in: now - Duration::days(1),
                check_out: now + Duration::days(1),
            }))
        });
        stays.expect_find_order().returning(|property_id, code| {
            Ok(match code {
                "ORD-1001" => Some(Order {
                    id: 1,
                    property_id,
                    code: code.into(),
                    outlet_id: 2,
                    stay_id: 10,
                }),
                "ORD-2001" => Some(Order {
                    id: 2,
                    property_id,
                    code: code.into(),
                    outlet_id: 2,
                    stay_id: 11,
                }),
                _ => None,
            })
        });
        stays
    }

    /// A repository that echoes what it was asked to store, and remembers it.
    fn echoing_repository(
        seen: Arc<std::sync::Mutex<Option<NewConversation>>>,
    ) -> MockConversationRepository {
        let mut repo = MockConversationRepository::new();
        repo.expect_create_conversation().returning(move |new, _| {
            *seen.lock().unwrap() = Some(new.clone());
            Ok(Created::New(Written::committed(
                Conversation {
                    id: 1,
                    property_id: new.property_id,
                    code: new.code,
                    subject: new.subject,
                    outlet_code: String::new(),
                    outlet_name: String::new(),
                    order_code: None,
                    property_code: "DEMO-HOTEL".into(),
                    room_number: new.guest.room_number,
                    guest_first_name: new.guest.first_name,
                    guest_last_name: new.guest.last_name,
                    guest_language_code: new.guest.language_code,
                    status: ConversationStatus::Open,
                    conversation_type: new.conversation_type,
                    order_form_details: new.order_form_details,
                    created_at: new.first_message.created_at,
                    last_message_at: new.first_message.created_at,
                    unread_count: 0,
                    messages: vec![],
                    assignee: None,
                    notes: vec![],
                    reply_clock: Default::default(),
                    overdue: false,
                },
                vec![],
            )))
        });
        repo
    }

    fn service(repo: MockConversationRepository) -> ConversationService {
        ConversationService::new(
            Arc::new(properties()),
            Arc::new(stays()),
            Arc::new(repo),
            Arc::new(ManualClock::new(Utc::now())),
        )
    }

    #[tokio::test]
    async fn a_signed_conversation_carries_the_guests_names_and_the_sessions_language() {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let service = service(echoing_repository(seen.clone()));
        let request = CreateConversation {
            message: Some("  Extra pillows please\nThanks ".into()),
            conversation_type: Some("GUEST".into()),
            ..Default::default()
        };
        service
            .create(
                &session(GuestIdentity::Verified { stay_id: 10 }),
                request,
                None,
            )
            .await
            .unwrap();
        let new = seen.lock().unwrap().clone().unwrap();
        assert_eq!(new.outlet_id, 2, "falls back to the first available outlet");
        assert_eq!(new.subject, "Extra pillows please");
        assert_eq!(new.conversation_type, ConversationType::Guest);
        assert_eq!(new.first_message.first_name, "Ada");
        assert_eq!(new.first_message.content, "Extra pillows please\nThanks");
        assert_eq!(new.first_message.language_code, "de");
        assert_eq!(new.first_message.message_type, MessageType::Guest);
        assert_eq!(new.guest.language_code.as_deref(), Some("en"));
    }

    #[tokio::test]
    async fn a_guests_reply_carries_what_it_means_for_the_reply_clock_of_its_outlet() {
        use bellhop_domain::outlet::{OpeningInterval, WEEK};
        let now = Utc::now();
        let mut properties = MockPropertyRepository::new();
        properties
            .expect_get_property()
            .returning(|id| Ok(Some(crate::testing::demo_property(id))));
        properties.expect_list_outlets().returning(move |_| {
            // Open for one minute a day, starting two hours from now: closed now.
            let opens = (now + Duration::hours(2)).with_timezone(&London).time();
            let mut desk = outlet(4, "CONCIERGE", 4, true);
            desk.opening_hours = WEEK
                .into_iter()
                .map(|day| OpeningInterval {
                    day,
                    opens,
                    closes: opens + Duration::minutes(1),
                })
                .collect();
            desk.reply_target_minutes = Some(1);
            desk.out_of_hours_reply = Some("We open soon.".into());
            Ok(Arc::new(vec![outlet(2, "ROOMSVC", 2, false), desk]))
        });
        let mut repo = echoing_repository(Arc::new(std::sync::Mutex::new(None)));
        repo.expect_find_conversation().returning(|_, code| {
            Ok(Conversation {
                subject: "Taxi".into(),
                outlet_name: "Concierge".into(),
                ..crate::testing::open_conversation(code, "CONCIERGE")
            })
        });
        repo.expect_add_message()
            .withf(move |_, code, message, _| {
                let arrival = message.arrival.as_ref().unwrap();
                let reply = arrival.out_of_hours_reply.as_ref().unwrap();
                code == "C1"
                    && arrival
                        .due_at
                        .is_some_and(|due| due > now + Duration::hours(2))
                    && reply.automatic
                    && reply.content == "We open soon."
                    && reply.service_center_name == "Team"
            })
            .times(1)
            .returning(|_, _, message, _| {
                Err(bellhop_domain::RepositoryError::unexpected(format!(
                    "stop after {}",
                    message.code
                )))
            });
        let service = ConversationService::new(
            Arc::new(properties),
            Arc::new(stays()),
            Arc::new(repo),
            Arc::new(ManualClock::new(now)),
        );
        let request = AddGuestMessage {
            message: Some("A taxi at six?".into()),
            conversation_type: None,
        };
        let outcome = service
            .add_message(
                &session(GuestIdentity::Verified { stay_id: 10 }),
                "C1",
                request,
                None,
            )
            .await;
        assert!(
            outcome.is_err(),
            "the mock stops after checking the message"
        );
    }

    #[tokio::test]
    async fn an_order_of_another_stay_is_not_found_and_nothing_is_stored() {
        let mut repo = MockConversationRepository::new();
        repo.expect_create_conversation().never();
        let request = CreateConversation {
            message: Some("Hi".into()),
            order_code: Some("ORD-2001".into()),
            ..Default::default()
        };
        let error = service(repo)
            .create(
                &session(GuestIdentity::Verified { stay_id: 10 }),
                request,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::OrderNotFound);
    }

    #[tokio::test]
    async fn an_order_names_the_subject() {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let request = CreateConversation {
            message: Some("Cold soup".into()),
            order_code: Some("ORD-1001".into()),
            ..Default::default()
        };
        service(echoing_repository(seen.clone()))
            .create(
                &session(GuestIdentity::Verified { stay_id: 10 }),
                request,
                None,
            )
            .await
            .unwrap();
        let new = seen.lock().unwrap().clone().unwrap();
        assert_eq!(new.subject, "Order ORD-1001");
        assert_eq!(new.order_id, Some(1));
    }

    #[tokio::test]
    async fn only_verified_sessions_may_use_the_verified_route() {
        let mut repo = MockConversationRepository::new();
        repo.expect_create_conversation().never();
        let service = service(repo);
        let request = CreateConversation {
            message: Some("Hi".into()),
            ..Default::default()
        };
        let error = service
            .create(&session(GuestIdentity::Anonymous), request.clone(), None)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::GuestNotVerified);
    }

    #[tokio::test]
    async fn a_visitor_signs_with_the_forms_names_and_skips_outlets_closed_to_visitors() {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let visitor = GuestIdentity::Visitor {
            guest_identifier: bellhop_domain::session::GuestIdentifier::parse("device-1").unwrap(),
        };
        let request = CreateVisitorConversation {
            message: Some("Table for two?".into()),
            conversation_type: Some("guest".into()),
            order_form_details: Some(serde_json::json!({"FirstName": "Kim", "lastname": "Lee"})),
            ..Default::default()
        };
        service(echoing_repository(seen.clone()))
            .create_for_visitor(&session(visitor), request, None)
            .await
            .unwrap();
        let new = seen.lock().unwrap().clone().unwrap();
        assert_eq!(new.outlet_id, 4);
        assert_eq!(
            (
                new.first_message.first_name.as_str(),
                new.first_message.last_name.as_str()
            ),
            ("Kim", "Lee")
        );
        assert_eq!(new.guest, GuestDetails::default());
    }

    #[tokio::test]
    async fn a_visitor_may_not_name_an_order() {
        let mut repo = MockConversationRepository::new();
        repo.expect_create_conversation().never();
        let visitor = GuestIdentity::Visitor {
            guest_identifier: bellhop_domain::session::GuestIdentifier::parse("device-1").unwrap(),
        };
        let request = CreateVisitorConversation {
            message: Some("Hi".into()),
            order_code: Some("ORD-1001".into()),
            ..Default::default()
        };
        let error = service(repo)
            .create_for_visitor(&session(visitor), request, None)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidRequest);
    }

    #[tokio::test]
    async fn a_verified_guest_may_not_use_the_visitor_route() {
        let mut repo = MockConversationRepository::new();
        repo.expect_create_conversation().never();
        let request = CreateVisitorConversation {
            message: Some("Hi".into()),
            ..Default::default()
        };
        let error = service(repo)
            .create_for_visitor(
                &session(GuestIdentity::Verified { stay_id: 10 }),
                request,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::GuestNotVerified);
    }
}
