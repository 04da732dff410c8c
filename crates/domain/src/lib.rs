//! Bellhop's domain: the entities of guest messaging (properties, outlets, stays, orders,
//! sessions, conversations, messages), the business rules that govern them as pure functions,
//! and the repository ports the outer layers implement.
//!
//! This crate performs no I/O and depends on no database, web or runtime crate; CI checks it.

pub mod clock;
pub mod conversation;
pub mod error;
pub mod event;
pub mod events;
pub mod form_details;
pub mod idempotency;
pub mod message;
pub mod naming;
pub mod note;
pub mod order;
pub mod outlet;
pub mod outlet_selection;
pub mod paging;
pub mod ports;
pub mod property;
pub mod quick_reply;
pub mod reference;
pub mod reply_clock;
pub mod session;
pub mod staff;
pub mod stay;
pub mod text;
pub mod verification;
pub mod webhook;

#[cfg(test)]
mod testing;

pub use error::{DomainError, ErrorCode, RepositoryError};
