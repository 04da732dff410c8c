//! `API/V40/Interactive/Messages/Conversations...`: the guest's conversations.

pub mod close;
pub mod create;
pub mod get;
pub mod list;
pub mod read;
pub mod reply;
