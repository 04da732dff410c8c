//! The conversation aggregate: a conversation between a guest and an outlet, its messages,
//! and the rules of its life — which statuses accept messages, who may close and reopen it,
//! read positions that never move back, and what "unread" means for each side. Every
//! state-changing rule says what happened as [`ConversationEvent`]s.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{
    error::DomainError,
    form_details::OrderFormDetails,
    message::{derive_subject, MessageContent},
    naming::{guest_author, AuthorName, ConversationType, GuestSigner},
    note::Note,
    order::{Order, OrderId},
    outlet::{Outlet, OutletId},
    property::{Property, PropertyId},
    reply_clock::{GuestArrival, ReplyClock},
    session::{GuestIdentifier, Session, SessionId},
    staff::{Assignee, StaffKey, StaffScope},
    stay::{GuestStay, StayId},
};

pub use crate::event::ConversationEvent;

pub type ConversationId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    /// Every status (a new one is added here too).
    pub const ALL: [Self; 2] = [Self::Open, Self::Closed];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Closed => "Closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "Open" => Some(Self::Open),
            "Closed" => Some(Self::Closed),
            _ => None,
        }
    }

    /// The status a new conversation starts in.
    pub const fn initial() -> Self {
        Self::Open
    }

    /// Whether a conversation in this status takes new messages (else `ConversationClosed`).
    pub const fn accepts_messages(self) -> bool {
        matches!(self, Self::Open)
    }

    /// What a new message from `by` does to a conversation in this status: nothing to an
    /// open one; a guest's (or visitor's) message reopens a closed one (section 14), while
    /// staff must reopen it themselves first (`ConversationClosed`).
    pub fn on_message(self, by: Side) -> Result<Option<StatusChange>, DomainError> {
        if self.accepts_messages() {
            return Ok(None);
        }
        match by {
            Side::Guest => Ok(Some(StatusChange {
                status: Self::Open,
                closed_at: None,
            })),
            Side::ServiceCenter => Err(DomainError::ConversationClosed),
        }
    }

    /// Who may move a conversation to `to`: a guest may close it; the service centre may close
    /// and reopen it. Setting the status it already has changes nothing (and is allowed).
    /// `Ok(None)` when nothing changes, else the change with the time it was closed.
    pub fn change_to(
        self,
        to: Self,
        by: Side,
        at: DateTime<Utc>,
    ) -> Result<Option<StatusChange>, DomainError> {
        if self == to {
            return Ok(None);
        }
        match (by, to) {
            (Side::Guest, Self::Open) => Err(DomainError::invalid_request(
                "A guest cannot reopen a conversation.",
            )),
            (_, Self::Closed) => Ok(Some(StatusChange {
                status: to,
                closed_at: Some(at),
            })),
            (Side::ServiceCenter, Self::Open) => Ok(Some(StatusChange {
                status: to,
                closed_at: None,
            })),
        }
    }
}

/// A status that changed, and the `closed_at` it now has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub status: ConversationStatus,
    pub closed_at: Option<DateTime<Utc>>,
}

impl StatusChange {
    /// What happened to conversation `conversation_code`.
    pub fn event(self, conversation_code: &str) -> ConversationEvent {
        let conversation_code = conversation_code.to_owned();
        match self.status {
            ConversationStatus::Closed => ConversationEvent::Closed { conversation_code },
            ConversationStatus::Open => ConversationEvent::Reopened { conversation_code },
        }
    }
}

/// The two sides of a conversation: the guest, and the service centre (staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Guest,
    ServiceCenter,
}

impl Side {
    /// The wire name (`readBy` of the events).
    pub const fn as_str(self) -> &'static str {
        self.writes().as_str()
    }

    /// The side that writes messages of type `message_type` (the inverse of [`Side::writes`]).
    pub const fn writing(message_type: MessageType) -> Self {
        match message_type {
            MessageType::Guest => Self::Guest,
            MessageType::ServiceCenter => Self::ServiceCenter,
        }
    }

    /// The type of the messages this side writes.
    pub const fn writes(self) -> MessageType {
        match self {
            Self::Guest => MessageType::Guest,
            Self::ServiceCenter => MessageType::ServiceCenter,
        }
    }

    /// The type of the messages this side receives: the only ones it can have unread.
    pub const fn receives(self) -> MessageType {
        match self {
            Self::Guest => MessageType::ServiceCenter,
            Self::ServiceCenter => MessageType::Guest,
        }
    }
}

/// How far each side has read a conversation: the sequence number of the last message it has
/// read (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadPositions {
    pub guest: i32,
    pub service_center: i32,
}

impl ReadPositions {
    pub const fn of(self, side: Side) -> i32 {
        match side {
            Side::Guest => self.guest,
            Side::ServiceCenter => self.service_center,
        }
    }

    /// Moves `side`'s position up to `seq`, never back: `None` when it would not move.
    pub fn advance(self, side: Side, seq: i32) -> Option<Self> {
        if seq <= self.of(side) {
            return None;
        }
        let mut moved = self;
        match side {
            Side::Guest => moved.guest = seq,
            Side::ServiceCenter => moved.service_center = seq,
        }
        Some(moved)
    }

    /// Whether the message at `seq`, written by `author`'s side, is read by its recipient.
    pub const fn is_read(self, author: MessageType, seq: i32) -> bool {
        seq <= self.of(author.recipient())
    }

    /// The unread rule: a message is unread for `side` when the other side wrote it and it
    /// lies beyond `side`'s read position.
    pub fn is_unread_for(self, side: Side, author: MessageType, seq: i32) -> bool {
        author == side.receives() && seq > self.of(side)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Guest,
    ServiceCenter,
}

impl MessageType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Guest => "Guest",
            Self::ServiceCenter => "ServiceCenter",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "Guest" => Some(Self::Guest),
            "ServiceCenter" => Some(Self::ServiceCenter),
            _ => None,
        }
    }

    /// The side that reads a message of this type.
    pub const fn recipient(self) -> Side {
        match self {
            Self::Guest => Side::ServiceCenter,
            Self::ServiceCenter => Side::Guest,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: i64,
    pub code: String,
    pub conversation_id: ConversationId,
    /// Position in the conversation: 1, 2, 3... with no gaps.
    pub seq: i32,
    pub created_at: DateTime<Utc>,
    pub message_type: MessageType,
    pub content: String,
    pub first_name: String,
    pub last_name: String,
    pub service_center_name: String,
    pub language_code: String,
    pub is_translated: bool,
    /// Read by its recipient: staff for a guest message, the guest for a staff message.
    pub is_read: bool,
    /// Written by the service itself (an out-of-hours reply), not by a person.
    pub automatic: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    pub property_id: PropertyId,
    pub code: String,
    pub subject: String,
    pub outlet_code: String,
    pub outlet_name: String,
    pub order_code: Option<String>,
    pub property_code: String,
    pub room_number: Option<String>,
    pub guest_first_name: Option<String>,
    pub guest_last_name: Option<String>,
    pub guest_language_code: Option<String>,
    pub status: ConversationStatus,
    pub conversation_type: ConversationType,
    /// A visitor's contact details (`orderFormDetailsDictionary`), shown to staff.
    pub order_form_details: Option<Value>,
    pub created_at: DateTime<Utc>,
    /// The time of the last message: "most recent activity".
    pub last_message_at: DateTime<Utc>,
    /// Unread messages for whoever is looking (guest: staff messages; staff: guest messages).
    pub unread_count: i64,
    /// Every message, or only the last one in lists.
    pub messages: Vec<Message>,
    /// The staff member who owns it (staff views only).
    pub assignee: Option<Assignee>,
    /// Internal notes, oldest first: filled only in the full staff view, never for a guest.
    pub notes: Vec<Note>,
    /// Whether and since when a guest waits for a reply, and when it is due.
    pub reply_clock: ReplyClock,
    /// Whether the reply is overdue when the conversation is shown (set for staff views).
    pub overdue: bool,
}

/// The guest side of a conversation: the stay of a verified guest, or a visitor's identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestOwner {
    Stay(StayId),
    Visitor(GuestIdentifier),
}

/// Through whose eyes a conversation is read or changed; every repository query is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    Guest {
        property_id: PropertyId,
        owner: GuestOwner,
    },
    Staff(StaffScope),
}

impl Viewer {
    pub fn property_id(&self) -> PropertyId {
        match self {
            Self::Guest { property_id, .. } => *property_id,
            Self::Staff(scope) => scope.property_id,
        }
    }

    /// The side of the conversation the viewer is on.
    pub const fn side(&self) -> Side {
        match self {
            Self::Guest { .. } => Side::Guest,
            Self::Staff(_) => Side::ServiceCenter,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub code: String,
    pub message_type: MessageType,
    pub content: String,
    pub first_name: String,
    pub last_name: String,
    pub service_center_name: String,
    pub language_code: String,
    pub created_at: DateTime<Utc>,
    /// Written by the service itself (an out-of-hours reply).
    pub automatic: bool,
    /// For a guest message: what its arrival means for the reply clock.
    pub arrival: Option<GuestArrival>,
}

/// How a new conversation's outlet, order and property are shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationLabels {
    pub outlet_code: String,
    pub outlet_name: String,
    pub order_code: Option<String>,
    pub property_code: String,
}

/// Guest details copied onto a conversation when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestDetails {
    pub room_number: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub language_code: Option<String>,
}

impl NewMessage {
    /// A guest's message, signed by the naming rule ([`crate::naming::guest_author`]), in the
    /// session's language.
    pub fn by_guest(
        code: String,
        session: &Session,
        content: MessageContent,
        author: AuthorName,
        at: DateTime<Utc>,
        arrival: GuestArrival,
    ) -> Self {
        Self {
            code,
            message_type: Side::Guest.writes(),
            content: content.into_inner(),
            first_name: author.first_name,
            last_name: author.last_name,
            service_center_name: String::new(),
            language_code: session.language_code.clone(),
            created_at: at,
            automatic: false,
            arrival: Some(arrival),
        }
    }

    /// The service's own answer at `outlet` (an out-of-hours reply): a service-centre message
    /// with the outlet's service centre and no names, in the property's default language.
    pub fn automatic(
        code: String,
        outlet: &Outlet,
        property: &Property,
        text: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            code,
            message_type: Side::ServiceCenter.writes(),
            content: text.to_owned(),
            first_name: String::new(),
            last_name: String::new(),
            service_center_name: outlet.service_center_name.clone(),
            language_code: property.default_language.clone(),
            created_at: at,
            automatic: true,
            arrival: None,
        }
    }

    /// A staff message, signed with the key's display name and the outlet's service centre, in
    /// the property's default language.
    pub fn by_staff(
        code: String,
        key: &StaffKey,
        service_center_name: &str,
        property: &Property,
        content: MessageContent,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            code,
            message_type: Side::ServiceCenter.writes(),
            content: content.into_inner(),
            first_name: key.display_name.clone(),
            last_name: String::new(),
            service_center_name: service_center_name.to_owned(),
            language_code: property.default_language.clone(),
            created_at: at,
            automatic: false,
            arrival: None,
        }
    }
}

/// Where a new conversation goes and how it is shown: the property and the outlet it was
/// routed to.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub property: &'a Property,
    pub outlet: &'a Outlet,
}

impl Destination<'_> {
    fn labels(&self, order: Option<&Order>) -> ConversationLabels {
        ConversationLabels {
            outlet_code: self.outlet.code.clone(),
            outlet_name: self.outlet.name.clone(),
            order_code: order.map(|o| o.code.clone()),
            property_code: self.property.code.clone(),
        }
    }
}

impl GuestDetails {
    /// The stay's guest, copied onto the conversation.
    pub fn of_stay(stay: &GuestStay) -> Self {
        Self {
            room_number: Some(stay.room_number.clone()),
            first_name: Some(stay.first_name.clone()),
            last_name: Some(stay.last_name.clone()),
            language_code: Some(stay.language_code.clone()),
        }
    }
}

/// What every new conversation starts with: its code, and its first message's code, text and
/// time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub code: String,
    pub message_code: String,
    pub content: MessageContent,
    pub at: DateTime<Utc>,
    /// The code an out-of-hours reply gets, should the opening message need one.
    pub reply_code: String,
}

impl Destination<'_> {
    /// What a guest message arriving at `at` here means for the reply clock.
    fn arrival(&self, at: DateTime<Utc>, reply_code: String) -> GuestArrival {
        GuestArrival::at_outlet(self.outlet, self.property, at, reply_code)
    }
}

impl NewConversation {
    /// A verified guest starts a conversation, about an order of the stay or not; the order
    /// (if any) names the subject, and the message is signed by the naming rule.
    pub fn by_guest(
        opening: Opening,
        destination: Destination<'_>,
        session: &Session,
        stay: &GuestStay,
        order: Option<&Order>,
        kind: ConversationType,
    ) -> Self {
        let subject = derive_subject(&opening.content, order.map(|o| o.code.as_str()));
        let author = guest_author(kind, GuestSigner::Stay(stay));
        Self {
            property_id: destination.property.id,
            code: opening.code,
            outlet_id: destination.outlet.id,
            order_id: order.map(|o| o.id),
            labels: destination.labels(order),
            owner: GuestOwner::Stay(stay.id),
            session_id: Some(session.id),
            subject,
            conversation_type: kind,
            guest: GuestDetails::of_stay(stay),
            order_form_details: None,
            first_message: NewMessage::by_guest(
                opening.message_code,
                session,
                opening.content,
                author,
                opening.at,
                destination.arrival(opening.at, opening.reply_code),
            ),
        }
    }

    /// A visitor starts a conversation, with the contact form (if any) shown to staff and
    /// signing the message by the naming rule.
    pub fn by_visitor(
        opening: Opening,
        destination: Destination<'_>,
        session: &Session,
        visitor: &GuestIdentifier,
        form: Option<&OrderFormDetails>,
        kind: ConversationType,
    ) -> Self {
        let subject = derive_subject(&opening.content, None);
        let author = guest_author(kind, GuestSigner::Visitor(form));
        Self {
            property_id: destination.property.id,
            code: opening.code,
            outlet_id: destination.outlet.id,
            order_id: None,
            labels: destination.labels(None),
            owner: GuestOwner::Visitor(visitor.clone()),
            session_id: Some(session.id),
            subject,
            conversation_type: kind,
            guest: GuestDetails::default(),
            order_form_details: form.map(OrderFormDetails::as_value),
            first_message: NewMessage::by_guest(
                opening.message_code,
                session,
                opening.content,
                author,
                opening.at,
                destination.arrival(opening.at, opening.reply_code),
            ),
        }
    }

    /// Staff start an unsigned conversation with the in-house guest of a stay.
    pub fn by_staff(
        opening: Opening,
        destination: Destination<'_>,
        key: &StaffKey,
        stay: &GuestStay,
    ) -> Self {
        let subject = derive_subject(&opening.content, None);
        Self {
            property_id: destination.property.id,
            code: opening.code,
            outlet_id: destination.outlet.id,
            order_id: None,
            labels: destination.labels(None),
            owner: GuestOwner::Stay(stay.id),
            session_id: None,
            subject,
            conversation_type: ConversationType::Unsigned,
            guest: GuestDetails::of_stay(stay),
            order_form_details: None,
            first_message: NewMessage::by_staff(
                opening.message_code,
                key,
                &destination.outlet.service_center_name,
                destination.property,
                opening.content,
                opening.at,
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewConversation {
    pub property_id: PropertyId,
    pub code: String,
    pub outlet_id: OutletId,
    pub order_id: Option<OrderId>,
    /// The codes and names the conversation is shown with (known to the caller already, so
    /// storing it needs no lookups).
    pub labels: ConversationLabels,
    pub owner: GuestOwner,
    /// The guest session that started it; `None` when staff did.
    pub session_id: Option<SessionId>,
    pub subject: String,
    pub conversation_type: ConversationType,
    pub guest: GuestDetails,
    pub order_form_details: Option<Value>,
    pub first_message: NewMessage,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use chrono_tz::Europe::London;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn only_an_open_conversation_accepts_messages() {
        assert!(ConversationStatus::Open.accepts_messages());
        assert!(!ConversationStatus::Closed.accepts_messages());
        assert_eq!(ConversationStatus::initial(), ConversationStatus::Open);
    }

    #[test]
    fn either_side_may_close_and_closing_records_when() {
        for side in [Side::Guest, Side::ServiceCenter] {
            let change = ConversationStatus::Open
                .change_to(ConversationStatus::Closed, side, now())
                .unwrap()
                .unwrap();
            assert_eq!(change.closed_at, Some(now()));
            assert_eq!(
                change.event("C1"),
                ConversationEvent::Closed {
                    conversation_code: "C1".into()
                }
            );
        }
    }

    #[test]
    fn only_the_service_centre_may_reopen() {
        let change = ConversationStatus::Closed
            .change_to(ConversationStatus::Open, Side::ServiceCenter, now())
            .unwrap()
            .unwrap();
        assert_eq!(change.closed_at, None);
        assert_eq!(change.event("C1").status(), Some(ConversationStatus::Open));
        assert!(ConversationStatus::Closed
            .change_to(ConversationStatus::Open, Side::Guest, now())
            .is_err());
    }

    #[test]
    fn a_guest_message_reopens_a_closed_conversation_but_a_staff_message_does_not() {
        assert_eq!(ConversationStatus::Open.on_message(Side::Guest), Ok(None));
        assert_eq!(
            ConversationStatus::Open.on_message(Side::ServiceCenter),
            Ok(None)
        );
        let change = ConversationStatus::Closed
            .on_message(Side::Guest)
            .unwrap()
            .unwrap();
        assert_eq!(change.status, ConversationStatus::Open);
        assert_eq!(change.closed_at, None);
        assert_eq!(
            change.event("C1"),
            ConversationEvent::Reopened {
                conversation_code: "C1".into()
            }
        );
        assert_eq!(
            ConversationStatus::Closed.on_message(Side::ServiceCenter),
            Err(DomainError::ConversationClosed)
        );
    }

    #[test]
    fn setting_the_status_a_conversation_has_changes_nothing() {
        for status in [ConversationStatus::Open, ConversationStatus::Closed] {
            assert_eq!(
                status.change_to(status, Side::ServiceCenter, now()),
                Ok(None)
            );
        }
    }

    #[test]
    fn read_positions_move_forward_and_never_back() {
        let positions = ReadPositions {
            guest: 3,
            service_center: 1,
        };
        assert_eq!(positions.advance(Side::Guest, 2), None);
        assert_eq!(positions.advance(Side::Guest, 3), None);
        assert_eq!(
            positions.advance(Side::Guest, 5),
            Some(ReadPositions {
                guest: 5,
                service_center: 1
            })
        );
        assert_eq!(
            positions.advance(Side::ServiceCenter, 2),
            Some(ReadPositions {
                guest: 3,
                service_center: 2
            })
        );
    }

    #[test]
    fn a_message_is_unread_for_its_recipient_beyond_their_read_position() {
        let positions = ReadPositions {
            guest: 2,
            service_center: 4,
        };
        assert!(positions.is_unread_for(Side::Guest, MessageType::ServiceCenter, 3));
        assert!(!positions.is_unread_for(Side::Guest, MessageType::ServiceCenter, 2));
        assert!(!positions.is_unread_for(Side::Guest, MessageType::Guest, 9));
        assert!(positions.is_unread_for(Side::ServiceCenter, MessageType::Guest, 5));
        assert!(!positions.is_unread_for(Side::ServiceCenter, MessageType::ServiceCenter, 9));
        assert!(positions.is_read(MessageType::Guest, 4));
        assert!(!positions.is_read(MessageType::ServiceCenter, 3));
    }

    #[test]
    fn each_side_writes_what_the_other_receives() {
        for side in [Side::Guest, Side::ServiceCenter] {
            assert_eq!(
                side.writes().recipient(),
                if side == Side::Guest {
                    Side::ServiceCenter
                } else {
                    Side::Guest
                }
            );
            assert_ne!(side.writes(), side.receives());
        }
        assert_eq!(Side::ServiceCenter.as_str(), "ServiceCenter");
    }

    fn property() -> Property {
        Property {
            id: 1,
            code: "DEMO-HOTEL".into(),
            name: "Demo".into(),
            brand_code: "B".into(),
            group_code: "G".into(),
            time_zone: London,
            default_language: "en".into(),
        }
    }

    fn outlet() -> Outlet {
        Outlet {
            id: 2,
            property_id: 1,
            code: "ROOMSVC".into(),
            name: "Room service".into(),
            description: String::new(),
            display_order: 1,
            active: true,
            allow_guest_messages: true,
            allow_non_verified_guests: true,
            service_center_name: "Kitchen".into(),
            opening_hours: vec![],
            reply_target_minutes: Some(10),
            out_of_hours_reply: None,
        }
    }

    fn stay() -> GuestStay {
        GuestStay {
            id: 10,
            property_id: 1,
            code: "S-101".into(),
            room_number: "101".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            language_code: "fr".into(),
            check_in: now() - Duration::days(1),
            check_out: now() + Duration::days(1),
        }
    }

    fn session() -> Session {
        Session {
            id: uuid::Uuid::nil(),
            property_id: 1,
            identity: crate::session::GuestIdentity::Verified { stay_id: 10 },
            language_code: "de".into(),
            explicit_language: None,
            created_at: now(),
            last_seen_at: now(),
            ended_at: None,
            stay: None,
        }
    }

    fn opening(text: &str) -> Opening {
        Opening {
            code: "C".repeat(16),
            message_code: "M".repeat(16),
            content: MessageContent::parse(Some(text)).unwrap(),
            at: now(),
            reply_code: "R".repeat(16),
        }
    }

    #[test]
    fn a_guest_conversation_about_an_order_is_named_after_it_and_signed_when_asked() {
        let (property, outlet, stay) = (property(), outlet(), stay());
        let order = Order {
            id: 7,
            property_id: 1,
            code: "ORD-1".into(),
            outlet_id: 2,
            stay_id: 10,
        };
        let new = NewConversation::by_guest(
            opening("Cold soup"),
            Destination {
                property: &property,
                outlet: &outlet,
            },
            &session(),
            &stay,
            Some(&order),
            ConversationType::Guest,
        );
        assert_eq!(new.subject, "Order ORD-1");
        assert_eq!(new.order_id, Some(7));
        assert_eq!(new.owner, GuestOwner::Stay(10));
        assert_eq!(new.first_message.first_name, "Ada");
        assert_eq!(new.first_message.language_code, "de");
        assert_eq!(new.guest.language_code.as_deref(), Some("fr"));
        assert_eq!(new.labels.outlet_code, "ROOMSVC");
        let arrival = new.first_message.arrival.unwrap();
        assert_eq!(arrival.due_at, Some(now() + Duration::minutes(10)));
        assert_eq!(arrival.out_of_hours_reply, None);
    }

    #[test]
    fn a_guest_writing_while_the_outlet_is_closed_gets_its_out_of_hours_reply() {
        use crate::outlet::{OpeningInterval, WEEK};
        let property = property();
        let mut outlet = outlet();
        let closed_now = chrono::NaiveTime::from_hms_opt(0, 0, 0).unwrap();
        outlet.opening_hours = WEEK
            .into_iter()
            .map(|day| OpeningInterval {
                day,
                opens: closed_now,
                closes: closed_now + Duration::minutes(1),
            })
            .collect();
        outlet.out_of_hours_reply = Some("We open at midnight.".into());
        let stay = stay();
        let at = now();
        assert!(!outlet.is_open_at(London, at));
        let new = NewConversation::by_guest(
            opening("Anyone there?"),
            Destination {
                property: &property,
                outlet: &outlet,
            },
            &session(),
            &stay,
            None,
            ConversationType::Unsigned,
        );
        let reply = new
            .first_message
            .arrival
            .unwrap()
            .out_of_hours_reply
            .unwrap();
        assert!(reply.automatic);
        assert_eq!(reply.message_type, MessageType::ServiceCenter);
        assert_eq!(reply.content, "We open at midnight.");
        assert_eq!(reply.service_center_name, "Kitchen");
        assert_eq!(
            (reply.first_name.as_str(), reply.last_name.as_str()),
            ("", "")
        );
        assert_eq!(reply.code, "R".repeat(16));
    }

    #[test]
    fn staff_start_unsigned_conversations_signed_by_the_key_and_service_centre() {
        let (property, outlet, stay) = (property(), outlet(), stay());
        let key = StaffKey {
            id: 3,
            code: None,
            display_name: "Sam".into(),
            scope: StaffScope {
                property_id: 1,
                outlet_ids: None,
            },
        };
        let new = NewConversation::by_staff(
            opening("Your taxi is here"),
            Destination {
                property: &property,
                outlet: &outlet,
            },
            &key,
            &stay,
        );
        assert_eq!(new.conversation_type, ConversationType::Unsigned);
        assert_eq!(new.session_id, None);
        assert_eq!(new.first_message.message_type, MessageType::ServiceCenter);
        assert_eq!(new.first_message.first_name, "Sam");
        assert_eq!(new.first_message.service_center_name, "Kitchen");
        assert_eq!(new.first_message.language_code, "en");
        assert_eq!(new.first_message.arrival, None);
        assert!(!new.first_message.automatic);
    }
}
