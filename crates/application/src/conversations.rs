//! Guest conversations: create (verified and visitor), list, get, reply, read, close, and the
//! guest's message feed.

use std::sync::Arc;

use bellhop_domain::{
    clock::Clock,
    conversation::{
        Conversation, ConversationLabels, ConversationStatus, GuestDetails, GuestOwner, Message,
        MessageType, NewConversation, NewMessage, Viewer,
    },
    form_details::OrderFormDetails,
    idempotency::{Created, Idempotency},
    message::{derive_subject, MessageContent},
    naming::{guest_author, AuthorName, ConversationType},
    order::owned_order,
    outlet::Audience,
    outlet_selection::{select_outlet, OutletRequest},
    paging::Page,
    ports::{ConversationRepository, PropertyRepository, StayRepository},
    session::{GuestIdentity, Session},
    stay::GuestStay,
    DomainError,
};
use serde_json::Value;
use tracing::instrument;

use crate::{
    codes::new_code,
    error::{AppError, AppResult},
};

/// `POST .../Conversations`: what the guest sent, not yet validated.
#[derive(Debug, Clone, Default)]
pub struct CreateConversation {
    pub message: Option<String>,
    pub conversation_type: Option<String>,
    pub outlet_code: Option<String>,
    pub order_code: Option<String>,
}

/// `POST .../NonVerifiedGuestConversations`.
#[derive(Debug, Clone, Default)]
pub struct CreateVisitorConversation {
    pub message: Option<String>,
    pub conversation_type: Option<String>,
    pub outlet_code: Option<String>,
    pub order_code: Option<String>,
    pub order_form_details: Option<Value>,
}

/// `POST .../Conversations/{code}/Messages`.
#[derive(Debug, Clone, Default)]
pub struct AddGuestMessage {
    pub message: Option<String>,
    pub conversation_type: Option<String>,
}

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

    /// Creates a conversation for a verified in-house guest (section 4 of the spec).
    #[instrument(skip_all, fields(property_id = session.property_id))]
    pub async fn create(
        &self,
        session: &Session,
        request: CreateConversation,
        idempotency: Option<Idempotency<Conversation>>,
    ) -> AppResult<Created<Conversation>> {
        let GuestIdentity::Verified { stay_id } = session.identity else {
            return Err(DomainError::GuestNotVerified.into());
        };
        let content = MessageContent::parse(request.message.as_deref())?;
        let kind = ConversationType::parse(request.conversation_type.as_deref())?;
        let property = self.property(session.property_id).await?;
        let stay = self.session_stay(session, stay_id).await?;
        let order = match request.order_code.as_deref() {
            Some(code) => Some(owned_order(
                self.stays.find_order(property.id, code).await?,
                property.id,
                stay.id,
            )?),
            None => None,
        };
        let outlets = self.properties.list_outlets(property.id).await?;
        let outlet = select_outlet(
            &outlets,
            OutletRequest {
                outlet_code: request.outlet_code.as_deref(),
                order: order.as_ref(),
                audience: Audience::VerifiedGuest,
            },
            property.time_zone,
            self.clock.now(),
        )?;
        let author = guest_author(kind, &stay.first_name, &stay.last_name);
        let new = NewConversation {
            property_id: property.id,
            code: new_code(),
            outlet_id: outlet.id,
            order_id: order.as_ref().map(|o| o.id),
            labels: ConversationLabels {
                outlet_code: outlet.code.clone(),
                outlet_name: outlet.name.clone(),
                order_code: order.as_ref().map(|o| o.code.clone()),
                property_code: property.code.clone(),
            },
            owner: GuestOwner::Stay(stay.id),
            session_id: Some(session.id),
            subject: derive_subject(&content, order.as_ref().map(|o| o.code.as_str())),
            conversation_type: kind,
            guest: GuestDetails {
                room_number: Some(stay.room_number.clone()),
                first_name: Some(stay.first_name.clone()),
                last_name: Some(stay.last_name.clone()),
                language_code: Some(stay.language_code.clone()),
            },
            order_form_details: None,
            first_message: self.guest_message(session, content, author),
        };
        Ok(self
            .conversations
            .create_conversation(new, idempotency)
            .await?)
    }

    /// Creates a conversation for a non-verified visitor (section 4, last part).
    #[instrument(skip_all, fields(property_id = session.property_id))]
    pub async fn create_for_visitor(
        &self,
        session: &Session,
        request: CreateVisitorConversation,
        idempotency: Option<Idempotency<Conversation>>,
    ) -> AppResult<Created<Conversation>> {
        let GuestIdentity::Visitor { guest_identifier } = &session.identity else {
            return Err(DomainError::GuestNotVerified.into());
        };
        let content = MessageContent::parse(request.message.as_deref())?;
        let kind = ConversationType::parse(request.conversation_type.as_deref())?;
        if request.order_code.is_some() {
            return Err(DomainError::invalid_request(
                "A non-verified guest cannot refer to an order.",
            )
            .into());
        }
        let form = request
            .order_form_details
            .map(OrderFormDetails::parse)
            .transpose()?;
        let author = match (kind, &form) {
            (ConversationType::Guest, Some(form)) => form.author_name(),
            _ => AuthorName::default(),
        };
        let property = self.property(session.property_id).await?;
        let outlets = self.properties.list_outlets(property.id).await?;
        let outlet = select_outlet(
            &outlets,
            OutletRequest {
                outlet_code: request.outlet_code.as_deref(),
                order: None,
                audience: Audience::Visitor,
            },
            property.time_zone,
            self.clock.now(),
        )?;
        let new = NewConversation {
            property_id: property.id,
            code: new_code(),
            outlet_id: outlet.id,
            order_id: None,
            labels: ConversationLabels {
                outlet_code: outlet.code.clone(),
                outlet_name: outlet.name.clone(),
                order_code: None,
                property_code: property.code.clone(),
            },
            owner: GuestOwner::Visitor(guest_identifier.clone()),
            session_id: Some(session.id),
            subject: derive_subject(&content, None),
            conversation_type: kind,
            guest: GuestDetails::default(),
            order_form_details: form.map(|f| f.as_value()),
            first_message: self.guest_message(session, content, author),
        };
        Ok(self
            .conversations
            .create_conversation(new, idempotency)
            .await?)
    }

    /// The guest's conversations, most recent activity first, each with its last message.
    #[instrument(skip_all)]
    pub async fn list(&self, session: &Session, page: Page) -> AppResult<Vec<Conversation>> {
        Ok(self
            .conversations
            .list_conversations(&guest_viewer(session)?, page)
            .await?)
    }

    /// One of the guest's conversations with all its messages.
    #[instrument(skip_all)]
    pub async fn get(&self, session: &Session, code: &str, page: Page) -> AppResult<Conversation> {
        Ok(self
            .conversations
            .get_conversation(&guest_viewer(session)?, code, Some(page))
            .await?)
    }

    /// Every message of the guest's conversations.
    #[instrument(skip_all)]
    pub async fn messages(
        &self,
        session: &Session,
        page: Page,
        descending: bool,
    ) -> AppResult<Vec<Message>> {
        Ok(self
            .conversations
            .list_messages(&guest_viewer(session)?, page, descending)
            .await?)
    }

    /// A guest's reply; signed by the naming rule applied to this request's own type.
    #[instrument(skip_all)]
    pub async fn add_message(
        &self,
        session: &Session,
        code: &str,
        request: AddGuestMessage,
        idempotency: Option<Idempotency<Message>>,
    ) -> AppResult<Created<Message>> {
        let viewer = guest_viewer(session)?;
        let content = MessageContent::parse(request.message.as_deref())?;
        let kind = ConversationType::parse(request.conversation_type.as_deref())?;
        let author = match (kind, &session.identity) {
            (ConversationType::Unsigned, _) => AuthorName::default(),
            (ConversationType::Guest, GuestIdentity::Verified { stay_id }) => {
                let stay = self.session_stay(session, *stay_id).await?;
                guest_author(kind, &stay.first_name, &stay.last_name)
            }
            (ConversationType::Guest, _) => {
                let conversation = self
                    .conversations
                    .get_conversation(&viewer, code, None)
                    .await?;
                match conversation.order_form_details {
                    Some(form) => OrderFormDetails::parse(form)
                        .map(|f| f.author_name())
                        .unwrap_or_default(),
                    None => AuthorName::default(),
                }
            }
        };
        let message = self.guest_message(session, content, author);
        Ok(self
            .conversations
            .add_message(&viewer, code, message, idempotency)
            .await?)
    }

    /// Marks staff messages read up to `message_code` (or all), never moving back.
    #[instrument(skip_all)]
    pub async fn mark_read(
        &self,
        session: &Session,
        code: &str,
        message_code: Option<String>,
    ) -> AppResult<()> {
        Ok(self
            .conversations
            .mark_read(&guest_viewer(session)?, code, message_code)
            .await?)
    }

    /// Closes the conversation.
    #[instrument(skip_all)]
    pub async fn close(&self, session: &Session, code: &str) -> AppResult<()> {
        let viewer = guest_viewer(session)?;
        Ok(self
            .conversations
            .set_status(&viewer, code, ConversationStatus::Closed, self.clock.now())
            .await?)
    }

    fn guest_message(
        &self,
        session: &Session,
        content: MessageContent,
        author: AuthorName,
    ) -> NewMessage {
        NewMessage {
            code: new_code(),
            message_type: MessageType::Guest,
            content: content.into_inner(),
            first_name: author.first_name,
            last_name: author.last_name,
            service_center_name: String::new(),
            language_code: session.language_code.clone(),
            created_at: self.clock.now(),
        }
    }

    async fn property(&self, id: i64) -> AppResult<bellhop_domain::property::Property> {
        self.properties
            .get_property(id)
            .await?
            .ok_or_else(|| AppError::internal("a session refers to a missing property"))
    }

    /// The session's stay: read with the session, or (should it be missing) looked up.
    async fn session_stay(&self, session: &Session, stay_id: i64) -> AppResult<GuestStay> {
        match &session.stay {
            Some(stay) if stay.id == stay_id => Ok(stay.clone()),
            _ => self.stay(session.property_id, stay_id).await,
        }
    }

    async fn stay(&self, property_id: i64, stay_id: i64) -> AppResult<GuestStay> {
        self.stays
            .get_stay(property_id, stay_id)
            .await?
            .ok_or_else(|| AppError::internal("a session refers to a missing stay"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use bellhop_domain::{
        order::Order,
        outlet::Outlet,
        ports::{MockConversationRepository, MockPropertyRepository, MockStayRepository},
        property::Property,
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
            Ok(Created::New(Conversation {
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
            }))
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
