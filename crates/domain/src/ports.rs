//! Repository ports: what the use cases need from storage. Adapters (the persistence crate)
//! implement them; application tests mock them (`mocks` feature).
//!
//! Every method returns [`RepositoryError::Unavailable`] when the store cannot be reached and
//! [`RepositoryError::Unexpected`] for anything it cannot explain; the errors listed on a
//! method are the domain errors it returns through [`RepositoryError::Domain`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    conversation::{
        Conversation, ConversationEvent, ConversationStatus, Message, NewConversation, NewMessage,
        Viewer,
    },
    error::RepositoryError,
    idempotency::{Created, IdempotentRequest},
    note::{NewNote, Note},
    order::Order,
    outlet::Outlet,
    paging::Page,
    property::{Property, PropertyId},
    quick_reply::QuickReply,
    reference::{LoadSummary, ReferenceData, SecretHash},
    session::{GuestIdentity, Session, SessionId},
    staff::{
        OutletUnread, StaffConversationFilter, StaffCursor, StaffKey, StaffMember, StaffScope,
    },
    stay::{GuestStay, StayId},
    verification::FailureWindow,
};

pub type RepoResult<T> = Result<T, RepositoryError>;

/// Properties, their interface tokens and their outlets: what sessions and outlet selection
/// read. None of its methods returns a domain error; a missing row is `None`.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PropertyRepository: Send + Sync {
    /// The property with this code (exact match), if any.
    async fn find_property_by_code(&self, code: &str) -> RepoResult<Option<Property>>;
    /// The property with this id, if any.
    async fn get_property(&self, id: PropertyId) -> RepoResult<Option<Property>>;
    /// The hashes of the property's enabled interface tokens (the caller compares them in
    /// constant time).
    async fn interface_token_hashes(&self, property_id: PropertyId) -> RepoResult<Vec<SecretHash>>;
    /// The property with this code (exact match) and the hashes of its enabled interface
    /// tokens, in one round trip: a known code and an unknown one cost the same database
    /// work, so timing does not tell them apart.
    async fn find_property_credentials(
        &self,
        code: &str,
    ) -> RepoResult<Option<(Property, Vec<SecretHash>)>>;
    /// Every outlet of the property, active or not, with opening hours, in display order then code.
    async fn list_outlets(&self, property_id: PropertyId) -> RepoResult<Arc<Vec<Outlet>>>;
}

/// Guest stays and their orders, and the shared counting of failed room verifications. None
/// of its methods returns a domain error; a missing row is `None`.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait StayRepository: Send + Sync {
    /// The stays of the property in this room (exact room number) that are checked in at `at`.
    async fn in_house_stays_in_room(
        &self,
        property_id: PropertyId,
        room_number: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Vec<GuestStay>>;
    /// The stay with this id in the property, if any.
    async fn get_stay(
        &self,
        property_id: PropertyId,
        stay_id: StayId,
    ) -> RepoResult<Option<GuestStay>>;
    /// The order with this code (exact match) in the property, whoever owns it.
    async fn find_order(&self, property_id: PropertyId, code: &str) -> RepoResult<Option<Order>>;
    /// The failed room verifications of this room (its [`room_key`]) in the window running at
    /// `at`, if any. Shared by every server instance.
    ///
    /// [`room_key`]: crate::verification::room_key
    async fn verification_failures(
        &self,
        property_id: PropertyId,
        room_key: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<FailureWindow>>;
    /// Counts one failed verification of this room at `at`, atomically with concurrent ones
    /// (see [`FailureWindow::after_failure`]); returns the window as it now stands.
    async fn record_verification_failure(
        &self,
        property_id: PropertyId,
        room_key: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<FailureWindow>;
    /// Deletes counting windows that ended before `before`, at most `batch` of them.
    async fn purge_verification_failures(
        &self,
        before: DateTime<Utc>,
        batch: i64,
    ) -> RepoResult<u64>;
}

/// What a new session starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: SessionId,
    pub property_id: PropertyId,
    pub identity: GuestIdentity,
    pub language_code: String,
    pub explicit_language: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Guest sessions: started, found, kept alive, replaced at login, purged.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session and returns it.
    async fn create_session(&self, session: NewSession) -> RepoResult<Session>;
    /// The session (ended or not) with the stay's check-out for a verified one.
    async fn find_session(
        &self,
        property_id: PropertyId,
        id: SessionId,
    ) -> RepoResult<Option<Session>>;
    /// Records activity at `at` (moves `last_seen_at` forward, never back).
    async fn touch_session(
        &self,
        property_id: PropertyId,
        id: SessionId,
        at: DateTime<Utc>,
    ) -> RepoResult<()>;
    /// Ends `old` and stores `new` atomically (login).
    ///
    /// # Errors
    /// `SessionExpired` when `old` had already ended (a concurrent login won); then nothing is
    /// written.
    async fn replace_session(
        &self,
        old: SessionId,
        new: NewSession,
        at: DateTime<Utc>,
    ) -> RepoResult<Session>;
    /// Deletes sessions that ended or went idle before `before`, at most `batch` of them;
    /// returns how many were deleted.
    async fn purge_sessions(&self, before: DateTime<Utc>, batch: i64) -> RepoResult<u64>;
    /// Deletes stored idempotency keys (and their responses) created before `before`, at most
    /// `batch` of them; returns how many were deleted.
    async fn purge_idempotency_keys(&self, before: DateTime<Utc>, batch: i64) -> RepoResult<u64>;
}

/// The idempotency port (section 7 of the spec): the end of a write made under an idempotency
/// key. The write's transaction is still open: the caller renders the response from the
/// record, and completing stores that response under the claimed key and commits both, so a
/// replay answers byte for byte what was first sent. Dropping it uncompleted rolls the write
/// back. A write made without a key is already committed, and completing it does nothing.
#[async_trait]
pub trait Completion: Send {
    /// Stores `response` (JSON text) under the claimed key and commits the write.
    ///
    /// # Errors
    /// `Unavailable`/`Unexpected` when the commit fails; then nothing was written.
    async fn complete(self: Box<Self>, response: String) -> RepoResult<()>;
}

/// A write that is already committed: completing it does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Committed;

#[async_trait]
impl Completion for Committed {
    async fn complete(self: Box<Self>, _response: String) -> RepoResult<()> {
        Ok(())
    }
}

/// A record just written, what happened, and how to finish the write (see [`Completion`]).
pub struct Written<T> {
    pub record: T,
    /// What the write caused, in order.
    pub events: Vec<ConversationEvent>,
    pub completion: Box<dyn Completion>,
}

impl<T> Written<T> {
    /// A write that is already committed.
    pub fn committed(record: T, events: Vec<ConversationEvent>) -> Self {
        Self {
            record,
            events,
            completion: Box::new(Committed),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Written<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Written")
            .field("record", &self.record)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Conversations and their messages, read and changed through a [`Viewer`]'s eyes: every
/// method sees only what the viewer may see. The methods that change state return the
/// [`ConversationEvent`]s they caused.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ConversationRepository: Send + Sync {
    /// Stores a conversation and its first message atomically; the record is the conversation
    /// as the guest sees it, the event `Created`. Under an idempotency key the key is claimed
    /// in the same transaction, which stays open until the [`Completion`] stores the rendered
    /// response; a key seen before with the same request replays the stored response and
    /// creates nothing.
    ///
    /// # Errors
    /// `IdempotencyKeyReused` (same key, other request).
    async fn create_conversation(
        &self,
        conversation: NewConversation,
        idempotency: Option<IdempotentRequest>,
    ) -> RepoResult<Created<Written<Conversation>>>;
    /// The viewer's conversations, most recent activity first, each with only its last
    /// message and the viewer's unread count.
    ///
    /// # Errors
    /// None of the domain's.
    async fn list_conversations(
        &self,
        viewer: &Viewer,
        page: Page,
    ) -> RepoResult<Vec<Conversation>>;
    /// One conversation the viewer may see, with its messages oldest first: the given page of
    /// them, or all.
    ///
    /// # Errors
    /// `ConversationNotFound` (unknown, or not the viewer's).
    async fn get_conversation(
        &self,
        viewer: &Viewer,
        code: &str,
        messages: Option<Page>,
    ) -> RepoResult<Conversation>;
    /// One conversation the viewer may see, without its messages.
    ///
    /// # Errors
    /// `ConversationNotFound` (unknown, or not the viewer's).
    async fn find_conversation(&self, viewer: &Viewer, code: &str) -> RepoResult<Conversation>;
    /// Every message of the guest's conversations, by creation time then sequence.
    ///
    /// # Errors
    /// None of the domain's.
    async fn list_messages(
        &self,
        viewer: &Viewer,
        page: Page,
        descending: bool,
    ) -> RepoResult<Vec<Message>>;
    /// Appends a message with the next sequence number of the conversation; the event is
    /// `MessageAdded`. A closed conversation first goes as
    /// [`ConversationStatus::on_message`] says: a guest's message reopens it (events
    /// `Reopened` then `MessageAdded`, in one transaction), a staff message is refused. Idempotent under a key as
    /// [`ConversationRepository::create_conversation`].
    ///
    /// # Errors
    /// `ConversationNotFound`, `ConversationClosed` (staff only), `IdempotencyKeyReused`.
    async fn add_message(
        &self,
        viewer: &Viewer,
        code: &str,
        message: NewMessage,
        idempotency: Option<IdempotentRequest>,
    ) -> RepoResult<Created<Written<Message>>>;
    /// Moves the viewer's read position up to the message with `message_code` (or the last
    /// message), never back; the event `Read` when it moved, none when it did not.
    ///
    /// # Errors
    /// `ConversationNotFound`, `MessageNotFound`.
    async fn mark_read(
        &self,
        viewer: &Viewer,
        code: &str,
        message_code: Option<String>,
    ) -> RepoResult<Vec<ConversationEvent>>;
    /// Moves the status to `status` as the viewer's side may
    /// ([`ConversationStatus::change_to`]); the event `Closed` or `Reopened` when it changed,
    /// none when it already had that status.
    ///
    /// # Errors
    /// `ConversationNotFound`, and what [`ConversationStatus::change_to`] refuses.
    async fn set_status(
        &self,
        viewer: &Viewer,
        code: &str,
        status: ConversationStatus,
        at: DateTime<Utc>,
    ) -> RepoResult<Vec<ConversationEvent>>;
}

/// The service centre's side: staff keys, the staff list of conversations, unread counts. None
/// of its methods returns a domain error; an unknown or disabled key is `None`.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait StaffRepository: Send + Sync {
    /// The enabled staff key with this hash, if any.
    async fn find_staff_key(&self, key_hash: SecretHash) -> RepoResult<Option<StaffKey>>;
    /// The scope's conversations, most recent activity first, after `cursor`, at most `limit`.
    async fn list_staff_conversations(
        &self,
        scope: &StaffScope,
        filter: &StaffConversationFilter,
        cursor: Option<StaffCursor>,
        limit: i64,
    ) -> RepoResult<Vec<Conversation>>;
    /// Unread counts per active outlet of the scope, in display order.
    async fn unread_by_outlet(&self, scope: &StaffScope) -> RepoResult<Vec<OutletUnread>>;
}

/// The service-centre workflow (section 14): staff members, who owns a conversation, internal
/// notes and quick replies. Everything here is staff-only.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WorkflowRepository: Send + Sync {
    /// The enabled key of the property whose member code is `code` (exact match), if any.
    ///
    /// # Errors
    /// None of the domain's.
    async fn find_staff_member(
        &self,
        property_id: PropertyId,
        code: &str,
    ) -> RepoResult<Option<StaffMember>>;
    /// Makes `assignee` (`None`: nobody) the owner of a conversation the viewer may see; the
    /// event `Assigned` when the owner changed, none when it already was that one.
    ///
    /// # Errors
    /// `ConversationNotFound`.
    async fn assign(
        &self,
        viewer: &Viewer,
        code: &str,
        assignee: Option<StaffMember>,
    ) -> RepoResult<Vec<ConversationEvent>>;
    /// Adds an internal note to a conversation the viewer may see, whatever its status; the
    /// event is `NoteCreated`. Idempotent under a key as
    /// [`ConversationRepository::create_conversation`].
    ///
    /// # Errors
    /// `ConversationNotFound`, `IdempotencyKeyReused`.
    async fn add_note(
        &self,
        viewer: &Viewer,
        code: &str,
        note: NewNote,
        idempotency: Option<IdempotentRequest>,
    ) -> RepoResult<Created<Written<Note>>>;
    /// Every quick reply of the property, in no particular order.
    ///
    /// # Errors
    /// None of the domain's.
    async fn quick_replies(&self, property_id: PropertyId) -> RepoResult<Vec<QuickReply>>;
}

/// Loads reference data (properties, tokens, outlets, stays, orders, staff keys).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ReferenceDataRepository: Send + Sync {
    /// Upserts everything by code in one transaction: all or nothing.
    ///
    /// # Errors
    /// `InvalidRequest` naming the entry when a reference does not resolve (an order's outlet,
    /// a key's outlet) or the database refuses a value (a named constraint).
    async fn load_reference_data(&self, data: &ReferenceData) -> RepoResult<LoadSummary>;
}

/// The reply clock's job (section 14): finding the waiting conversations whose reply fell due
/// and recording `conversation.overdue` for each, once per waiting period, whichever instance
/// asks.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OverdueRepository: Send + Sync {
    /// Marks at most `batch` conversations whose reply is due at or before `now` and not yet
    /// notified as notified, and records their `Overdue` event in the same transaction;
    /// returns those events. A conversation another instance or a writer is handling now is
    /// left for a later call. None of the domain's errors.
    async fn notify_overdue(
        &self,
        now: DateTime<Utc>,
        batch: i64,
    ) -> RepoResult<Vec<ConversationEvent>>;
}
