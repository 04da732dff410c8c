//! The reply clock's background use case (section 14): emitting `conversation.overdue` for the
//! waiting conversations whose reply fell due. The rules (when a reply is due, when a waiting
//! period starts and ends) live in the domain's `reply_clock`; the use cases that add messages
//! apply them as they write.

mod notify_overdue;

use std::sync::Arc;

use bellhop_domain::{clock::Clock, ports::OverdueRepository};

/// How many conversations one claim marks at most: small, so a claim's transaction is short.
pub const BATCH: i64 = 100;

#[derive(Clone)]
pub struct OverdueService {
    repository: Arc<dyn OverdueRepository>,
    clock: Arc<dyn Clock>,
}

impl OverdueService {
    pub fn new(repository: Arc<dyn OverdueRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repository, clock }
    }
}
