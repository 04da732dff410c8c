//! The service centre's side: keys, lists, replies, read positions, status, unread counts.

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bellhop_domain::{
    clock::Clock,
    conversation::{
        Conversation, ConversationEvent, ConversationStatus, Destination, Message, NewConversation,
        NewMessage, Opening, Viewer,
    },
    idempotency::{Created, IdempotentRequest},
    message::MessageContent,
    outlet::Audience,
    ports::{ConversationRepository, PropertyRepository, StaffRepository, StayRepository, Written},
    property::Property,
    staff::{OutletUnread, StaffConversationFilter, StaffCursor, StaffKey},
    DomainError,
};
use chrono::DateTime;
use tracing::instrument;

use crate::{
    codes::new_code,
    error::{AppError, AppResult},
    secrets::hash_secret,
};

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
    clock: Arc<dyn Clock>,
}

impl StaffService {
    pub fn new(
        staff: Arc<dyn StaffRepository>,
        properties: Arc<dyn PropertyRepository>,
        stays: Arc<dyn StayRepository>,
        conversations: Arc<dyn ConversationRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            staff,
            properties,
            stays,
            conversations,
            clock,
        }
    }

    /// The enabled key behind a bearer secret, or `StaffKeyInvalid`.
    #[instrument(skip_all)]
    pub async fn authenticate(&self, secret: &str) -> AppResult<StaffKey> {
        if secret.is_empty() {
            return Err(DomainError::StaffKeyInvalid.into());
        }
        self.staff
            .find_staff_key(hash_secret(secret))
            .await?
            .ok_or_else(|| DomainError::StaffKeyInvalid.into())
    }

    #[instrument(skip_all)]
    pub async fn list(
        &self,
        key: &StaffKey,
        filter: StaffConversationFilter,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<StaffPage> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(DomainError::InvalidPaging(format!(
                "limit must be between 1 and {MAX_LIMIT}."
            ))
            .into());
        }
        let cursor = cursor.map(decode_cursor).transpose()?;
        let conversations = self
            .staff
            .list_staff_conversations(&key.scope, &filter, cursor, limit)
            .await?;
        let next_cursor = match conversations.last() {
            Some(last) if conversations.len() as i64 == limit => Some(encode_cursor(StaffCursor {
                last_message_at: last.last_message_at,
                id: last.id,
            })),
            _ => None,
        };
        Ok(StaffPage {
            conversations,
            next_cursor,
        })
    }

    #[instrument(skip_all)]
    pub async fn get(&self, key: &StaffKey, code: &str) -> AppResult<Conversation> {
        Ok(self
            .conversations
            .get_conversation(&Viewer::Staff(key.scope.clone()), code, None)
            .await?)
    }

    /// Starts a conversation with the in-house guest of a room.
    #[instrument(skip_all)]
    pub async fn start(
        &self,
        key: &StaffKey,
        request: StartStaffConversation,
        idempotency: Option<IdempotentRequest>,
    ) -> AppResult<Created<Written<Conversation>>> {
        let content = MessageContent::parse(request.content.as_deref())?;
        let room = request
            .room_number
            .filter(|r| !r.is_empty())
            .ok_or_else(|| DomainError::invalid_request("roomNumber is required."))?;
        let outlet_code = request
            .outlet_code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| DomainError::invalid_request("outletCode is required."))?;
        let property = self.property(key).await?;
        let outlets = self.properties.list_outlets(property.id).await?;
        let outlet = outlets
            .iter()
            .find(|o| o.code == outlet_code && key.scope.covers(o.id))
            .ok_or(DomainError::OutletNotFound)?;
        outlet.usable_by(Audience::ServiceCenter)?;
        let now = self.clock.now();
        let stay = self
            .stays
            .in_house_stays_in_room(property.id, &room, now)
            .await?
            .into_iter()
            .next()
            .ok_or(DomainError::GuestNotFound)?;
        let new = NewConversation::by_staff(
            Opening {
                code: new_code(),
                message_code: new_code(),
                content,
                at: now,
            },
            Destination {
                property: &property,
                outlet,
            },
            key,
            &stay,
        );
        Ok(self
            .conversations
            .create_conversation(new, idempotency)
            .await?)
    }

    /// A staff reply, signed with the key's display name and the outlet's service centre.
    #[instrument(skip_all)]
    pub async fn reply(
        &self,
        key: &StaffKey,
        code: &str,
        content: Option<&str>,
        idempotency: Option<IdempotentRequest>,
    ) -> AppResult<Created<Written<Message>>> {
        let content = MessageContent::parse(content)?;
        let viewer = Viewer::Staff(key.scope.clone());
        let conversation = self.conversations.find_conversation(&viewer, code).await?;
        let property = self.property(key).await?;
        let service_center = self
            .properties
            .list_outlets(property.id)
            .await?
            .iter()
            .find(|o| o.code == conversation.outlet_code)
            .map(|o| o.service_center_name.clone())
            .unwrap_or_default();
        let message = NewMessage::by_staff(
            new_code(),
            key,
            &service_center,
            &property,
            content,
            self.clock.now(),
        );
        Ok(self
            .conversations
            .add_message(&viewer, code, message, idempotency)
            .await?)
    }

    /// Moves the key's read position; returns the conversation as it now stands and what
    /// happened.
    #[instrument(skip_all)]
    pub async fn mark_read(
        &self,
        key: &StaffKey,
        code: &str,
        message_code: Option<String>,
    ) -> AppResult<(Conversation, Vec<ConversationEvent>)> {
        let viewer = Viewer::Staff(key.scope.clone());
        let events = self
            .conversations
            .mark_read(&viewer, code, message_code)
            .await?;
        let conversation = self
            .conversations
            .get_conversation(&viewer, code, None)
            .await?;
        Ok((conversation, events))
    }

    /// Closes or reopens; returns the conversation as it now stands and what happened.
    #[instrument(skip_all)]
    pub async fn set_status(
        &self,
        key: &StaffKey,
        code: &str,
        status: ConversationStatus,
    ) -> AppResult<(Conversation, Vec<ConversationEvent>)> {
        let viewer = Viewer::Staff(key.scope.clone());
        let events = self
            .conversations
            .set_status(&viewer, code, status, self.clock.now())
            .await?;
        let conversation = self
            .conversations
            .get_conversation(&viewer, code, None)
            .await?;
        Ok((conversation, events))
    }

    #[instrument(skip_all)]
    pub async fn unread(&self, key: &StaffKey) -> AppResult<Vec<OutletUnread>> {
        Ok(self.staff.unread_by_outlet(&key.scope).await?)
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
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use bellhop_domain::{
        conversation::MessageType,
        naming::ConversationType,
        outlet::Outlet,
        ports::{
            MockConversationRepository, MockPropertyRepository, MockStaffRepository,
            MockStayRepository,
        },
        staff::StaffScope,
        stay::GuestStay,
        ErrorCode,
    };
    use chrono::{Duration, Utc};
    use chrono_tz::Europe::London;
    use std::sync::Mutex;

    fn key(outlet_ids: Option<Vec<i64>>) -> StaffKey {
        StaffKey {
            id: 3,
            display_name: "Sam".into(),
            scope: StaffScope {
                property_id: 1,
                outlet_ids,
            },
        }
    }

    fn outlet(id: i64, code: &str, active: bool) -> Outlet {
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
        }
    }

    fn properties() -> MockPropertyRepository {
        let mut properties = MockPropertyRepository::new();
        properties.expect_get_property().returning(|id| {
            Ok(Some(Property {
                id,
                code: "DEMO-HOTEL".into(),
                name: "Demo".into(),
                brand_code: "B".into(),
                group_code: "G".into(),
                time_zone: London,
                default_language: "en".into(),
            }))
        });
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
        StaffService::new(
            Arc::new(MockStaffRepository::new()),
            Arc::new(properties()),
            Arc::new(stays()),
            Arc::new(conversations),
            Arc::new(ManualClock::new(Utc::now())),
        )
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
            .returning(|_, code| {
                Ok(Conversation {
                    id: 1,
                    property_id: 1,
                    code: code.into(),
                    subject: "Hi".into(),
                    outlet_code: "ROOMSVC".into(),
                    outlet_name: "ROOMSVC".into(),
                    order_code: None,
                    property_code: "DEMO-HOTEL".into(),
                    room_number: None,
                    guest_first_name: None,
                    guest_last_name: None,
                    guest_language_code: None,
                    status: ConversationStatus::Open,
                    conversation_type: ConversationType::Unsigned,
                    order_form_details: None,
                    created_at: Utc::now(),
                    last_message_at: Utc::now(),
                    unread_count: 0,
                    messages: vec![],
                })
            });
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
