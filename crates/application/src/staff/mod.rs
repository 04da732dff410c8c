//! The service centre's side, one use case per file: keys, lists, replies, read positions,
//! status, unread counts.

mod assign;
mod authenticate;
mod close;
mod list;
mod me;
mod notes;
mod quick_replies;
mod read;
mod reply;
mod start;
mod unread;

pub use me::StaffProfile;

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bellhop_domain::{
    clock::Clock,
    conversation::Conversation,
    outlet::Outlet,
    ports::{
        ConversationRepository, PropertyRepository, StaffRepository, StayRepository,
        WorkflowRepository,
    },
    property::Property,
    staff::{StaffCursor, StaffKey},
    DomainError,
};
use chrono::DateTime;

use crate::error::{AppError, AppResult};

/// The default and largest page of the staff list.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A page of the staff list and where the next one starts.
#[derive(Debug, Clone)]
pub struct StaffPage {
    pub conversations: Vec<Conversation>,
    pub next_cursor: Option<String>,
}

/// `POST /staff/v1/conversations`.
#[derive(Debug, Clone, Default)]
pub struct StartStaffConversation {
    pub room_number: Option<String>,
    pub outlet_code: Option<String>,
    pub content: Option<String>,
}

#[derive(Clone)]
pub struct StaffService {
    staff: Arc<dyn StaffRepository>,
    properties: Arc<dyn PropertyRepository>,
    stays: Arc<dyn StayRepository>,
    conversations: Arc<dyn ConversationRepository>,
    workflow: Arc<dyn WorkflowRepository>,
    clock: Arc<dyn Clock>,
}

impl StaffService {
    pub fn new(
        staff: Arc<dyn StaffRepository>,
        properties: Arc<dyn PropertyRepository>,
        stays: Arc<dyn StayRepository>,
        conversations: Arc<dyn ConversationRepository>,
        workflow: Arc<dyn WorkflowRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            staff,
            properties,
            stays,
            conversations,
            workflow,
            clock,
        }
    }

    /// The outlet of the key's property with this code (a conversation's outlet).
    async fn outlet_by_code(&self, key: &StaffKey, code: &str) -> AppResult<Outlet> {
        self.properties
            .list_outlets(key.scope.property_id)
            .await?
            .iter()
            .find(|o| o.code == code)
            .cloned()
            .ok_or_else(|| AppError::internal("a conversation refers to a missing outlet"))
    }

    /// A conversation as staff see it now: `overdue` from its reply clock and this service's
    /// clock.
    fn observed(&self, mut conversation: Conversation) -> Conversation {
        conversation.overdue = conversation.reply_clock.is_overdue_at(self.clock.now());
        conversation
    }

    async fn property(&self, key: &StaffKey) -> AppResult<Property> {
        self.properties
            .get_property(key.scope.property_id)
            .await?
            .ok_or_else(|| AppError::internal("a staff key refers to a missing property"))
    }
}

fn encode_cursor(cursor: StaffCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}:{}",
        cursor.last_message_at.timestamp_micros(),
        cursor.id
    ))
}

fn decode_cursor(raw: &str) -> AppResult<StaffCursor> {
    let invalid = || AppError::from(DomainError::invalid_request("The cursor is not valid."));
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (micros, id) = text.split_once(':').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let id: i64 = id.parse().map_err(|_| invalid())?;
    let last_message_at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
    Ok(StaffCursor {
        last_message_at,
        id,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use bellhop_domain::{
        conversation::MessageType,
        naming::ConversationType,
        outlet::Outlet,
        ports::{
            MockConversationRepository, MockPropertyRepository, MockStaffRepository,
            MockStayRepository, MockWorkflowRepository,
        },
        staff::{StaffConversationFilter, StaffScope},
        stay::GuestStay,
        ErrorCode,
    };
    use chrono::{Duration, Utc};
    use std::sync::Mutex;

    pub(super) fn key(outlet_ids: Option<Vec<i64>>) -> StaffKey {
        StaffKey {
            id: 3,
            code: Some("sam".into()),
            display_name: "Sam".into(),
            scope: StaffScope {
                property_id: 1,
                outlet_ids,
            },
        }
    }

    pub(super) fn outlet(id: i64, code: &str, active: bool) -> Outlet {
        Outlet {
            id,
            property_id: 1,
            code: code.into(),
            name: code.into(),
            description: String::new(),
            display_order: 1,
            active,
            allow_guest_messages: false,
            allow_non_verified_guests: false,
            service_center_name: format!("{code} team"),
            opening_hours: vec![],
            reply_target_minutes: None,
            out_of_hours_reply: None,
        }
    }

    pub(super) fn properties() -> MockPropertyRepository {
        let mut properties = MockPropertyRepository::new();
        properties
            .expect_get_property()
            .returning(|id| Ok(Some(crate::testing::demo_property(id))));
        properties.expect_list_outlets().returning(|_| {
            Ok(Arc::new(vec![
                outlet(2, "ROOMSVC", true),
                outlet(3, "SPA", false),
                outlet(4, "BAR", true),
            ]))
        });
        properties
    }

    fn stays() -> MockStayRepository {
        let mut stays = MockStayRepository::new();
        stays
            .expect_in_house_stays_in_room()
            .returning(|property_id, room, now| {
                Ok(match room {
                    "101" => vec![GuestStay {
                        id: 10,
                        property_id,
                        code: "S-101".into(),
                        room_number: room.into(),
                        first_name: "Ada".into(),
                        last_name: "Lovelace".into(),
                        language_code: "fr".into(),
                        check_in: now - Duration::days(1),
                        check_out: now + Duration::days(1),
                    }],
                    _ => vec![],
                })
            });
        stays
    }

    fn service(conversations: MockConversationRepository) -> StaffService {
        with_workflow(conversations, MockWorkflowRepository::new())
    }

    /// The service with no expectations on conversations or the workflow.
    pub(super) fn service_default() -> StaffService {
        service(MockConversationRepository::new())
    }

    /// The service over these conversations and workflow mocks (the rest answer fixed data).
    pub(super) fn with_workflow(
        conversations: MockConversationRepository,
        workflow: MockWorkflowRepository,
    ) -> StaffService {
        StaffService::new(
            Arc::new(MockStaffRepository::new()),
            Arc::new(properties()),
            Arc::new(stays()),
            Arc::new(conversations),
            Arc::new(workflow),
            Arc::new(ManualClock::new(Utc::now())),
        )
    }

    /// A conversation of the outlet `outlet_code`, as the repository returns it.
    pub(super) fn conversation(code: &str, outlet_code: &str) -> Conversation {
        Conversation {
            outlet_name: format!("{outlet_code} name"),
            room_number: Some("101".into()),
            guest_first_name: Some("Ada".into()),
            guest_last_name: Some("Lovelace".into()),
            guest_language_code: Some("en".into()),
            ..crate::testing::open_conversation(code, outlet_code)
        }
    }

    fn start(room: &str, outlet: &str) -> StartStaffConversation {
        StartStaffConversation {
            room_number: Some(room.into()),
            outlet_code: Some(outlet.into()),
            content: Some("Your taxi is here".into()),
        }
    }

    #[tokio::test]
    async fn staff_start_an_unsigned_conversation_signed_by_the_key_and_the_outlets_team() {
        let seen = Arc::new(Mutex::new(None));
        let mut conversations = MockConversationRepository::new();
        let store = seen.clone();
        conversations
            .expect_create_conversation()
            .returning(move |new, _| {
                *store.lock().unwrap() = Some(new);
                Err(DomainError::OutletNotFound.into())
            });
        let _ = service(conversations)
            .start(&key(None), start("101", "BAR"), None)
            .await;
        let new = seen.lock().unwrap().clone().unwrap();
        assert_eq!(new.outlet_id, 4);
        assert_eq!(new.conversation_type, ConversationType::Unsigned);
        assert_eq!(new.first_message.message_type, MessageType::ServiceCenter);
        assert_eq!(new.first_message.first_name, "Sam");
        assert_eq!(new.first_message.service_center_name, "BAR team");
        assert_eq!(new.first_message.language_code, "en");
        assert_eq!(new.guest.language_code.as_deref(), Some("fr"));
    }

    #[tokio::test]
    async fn an_inactive_an_uncovered_or_an_unknown_outlet_is_not_found_and_nothing_is_stored() {
        for (key, outlet) in [
            (key(None), "SPA"),
            (key(Some(vec![2])), "BAR"),
            (key(None), "NOPE"),
        ] {
            let mut conversations = MockConversationRepository::new();
            conversations.expect_create_conversation().never();
            let error = service(conversations)
                .start(&key, start("101", outlet), None)
                .await
                .unwrap_err();
            assert_eq!(error.code(), ErrorCode::OutletNotFound, "{outlet}");
        }
    }

    #[tokio::test]
    async fn an_empty_room_has_no_guest_to_write_to() {
        let mut conversations = MockConversationRepository::new();
        conversations.expect_create_conversation().never();
        let error = service(conversations)
            .start(&key(None), start("999", "BAR"), None)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::GuestNotFound);
    }

    #[tokio::test]
    async fn a_reply_reads_the_conversation_without_its_messages() {
        let mut conversations = MockConversationRepository::new();
        conversations.expect_get_conversation().never();
        conversations
            .expect_find_conversation()
            .returning(|_, code| Ok(crate::testing::open_conversation(code, "ROOMSVC")));
        conversations
            .expect_add_message()
            .withf(|_, _, message, _| message.service_center_name == "ROOMSVC team")
            .returning(|_, _, _, _| Err(DomainError::ConversationClosed.into()));
        let error = service(conversations)
            .reply(&key(None), "C1", Some("On its way"), None)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::ConversationClosed);
    }

    #[tokio::test]
    async fn a_page_limit_outside_1_to_200_is_invalid_paging() {
        let service = service(MockConversationRepository::new());
        for limit in [0, 201] {
            let error = service
                .list(
                    &key(None),
                    StaffConversationFilter::default(),
                    None,
                    Some(limit),
                )
                .await
                .unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidPaging);
        }
    }

    #[test]
    fn cursors_round_trip() {
        let cursor = StaffCursor {
            last_message_at: DateTime::from_timestamp_micros(Utc::now().timestamp_micros())
                .unwrap(),
            id: 42,
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)).unwrap(), cursor);
    }

    #[test]
    fn garbage_cursors_are_invalid_requests() {
        for raw in ["", "!!", "bm9wZQ", "MTp4"] {
            assert!(decode_cursor(raw).is_err(), "{raw}");
        }
    }
}
