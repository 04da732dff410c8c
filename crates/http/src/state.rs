//! What every handler can reach: the use-case services and the request limits.

use std::sync::Arc;

use async_trait::async_trait;

use std::net::IpAddr;

use bellhop_domain::session::SessionId;

use crate::{
    metrics::{Metrics, PoolStats},
    rate_limit::RateLimiter,
};
use bellhop_application::{
    conversations::ConversationService, outlets::OutletService, sessions::SessionService,
    staff::StaffService,
};

/// Request limits from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_page_length: u32,
    /// Time a client has to send a request's body (the head has its own limit, set on the
    /// server, of the same length).
    pub request_read_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 65_536,
            max_page_length: 500,
            request_read_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// What the HTTP layer needs to know of the database: whether the service can take traffic
/// (reachable and migrated), and the pool's numbers for `/metrics`.
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn is_ready(&self) -> bool;
    fn pool_stats(&self) -> PoolStats;
}

#[derive(Clone)]
pub struct AppState {
    pub sessions: SessionService,
    pub conversations: ConversationService,
    pub outlets: OutletService,
    pub staff: StaffService,
    pub limits: Limits,
    pub readiness: Arc<dyn Readiness>,
    pub metrics: Metrics,
    pub rate_limits: Arc<RateLimits>,
    /// The event log and this process's streams (section 11).
    pub events: crate::sse::Events,
}

/// The per-session and per-address limiters; `None` where turned off.
#[derive(Debug, Default)]
pub struct RateLimits {
    pub per_session: Option<RateLimiter<SessionId>>,
    pub per_address: Option<RateLimiter<IpAddr>>,
}

impl RateLimits {
    /// From the configured requests per minute (0 turns a limit off).
    pub fn new(per_session: u32, per_address: u32) -> Self {
        Self {
            per_session: RateLimiter::new(per_session),
            per_address: RateLimiter::new(per_address),
        }
    }
}
