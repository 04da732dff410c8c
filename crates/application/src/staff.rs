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
    use chrono::Utc;

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
