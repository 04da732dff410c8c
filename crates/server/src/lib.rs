//! The `bellhop` binary's library: configuration, database bootstrap, wiring of the layers
//! and the HTTP server. Integration tests build the same application through [`build_state`].

pub mod config;
pub mod database;
pub mod telemetry;

use std::sync::Arc;

use actix_web::web;
use async_trait::async_trait;
use bellhop_application::{
    conversations::ConversationService, outlets::OutletService, sessions::SessionService,
    staff::StaffService, tokens::TokenCodec,
};
use bellhop_domain::{clock::Clock, session::SessionPolicy};
use bellhop_http::{state::RateLimits, AppState, Limits, Metrics, PoolStats, Readiness};
use bellhop_persistence::PgStore;
use sqlx::PgPool;

use crate::config::Settings;

struct DatabaseReadiness(PgPool, Arc<PgStore>);

#[async_trait]
impl Readiness for DatabaseReadiness {
    async fn is_ready(&self) -> bool {
        bellhop_persistence::is_ready(&self.0).await
    }

    fn pool_stats(&self) -> PoolStats {
        let options = self.0.options();
        PoolStats {
            size: self.0.size(),
            idle: u32::try_from(self.0.num_idle()).unwrap_or(u32::MAX),
            max: options.get_max_connections(),
            waiting: self.1.waiting(),
        }
    }
}

/// The session lifetime rules from configuration.
pub fn session_policy(settings: &Settings) -> SessionPolicy {
    let secs = |d: std::time::Duration| {
        chrono::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 1000))
    };
    SessionPolicy {
        idle_timeout: secs(settings.session_idle),
        checkout_grace: secs(settings.checkout_grace),
        refresh_after: secs(settings.session_refresh_after),
    }
}

/// Wires the Postgres store into every service.
pub fn build_state(
    pool: PgPool,
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<web::Data<AppState>> {
    let store = Arc::new(PgStore::new(pool.clone()));
    let store_for_metrics = store.clone();
    let tokens = TokenCodec::new(
        settings.session_secret.clone(),
        settings.session_secret_previous.clone(),
    );
    let metrics = Metrics::new().map_err(|e| anyhow::anyhow!("cannot register metrics: {e}"))?;
    Ok(web::Data::new(AppState {
        sessions: SessionService::new(
            store.clone(),
            store.clone(),
            store.clone(),
            tokens,
            session_policy(settings),
            clock.clone(),
        ),
        conversations: ConversationService::new(
            store.clone(),
            store.clone(),
            store.clone(),
            clock.clone(),
        ),
        outlets: OutletService::new(store.clone(), clock.clone()),
        staff: StaffService::new(store.clone(), store.clone(), store.clone(), store, clock),
        limits: Limits {
            max_body_bytes: settings.max_body_bytes,
            max_page_length: settings.max_page_length,
        },
        readiness: Arc::new(DatabaseReadiness(pool, store_for_metrics)),
        metrics,
        rate_limits: Arc::new(RateLimits::new(
            settings.rate_limit_per_session,
            settings.rate_limit_per_address,
        )),
    }))
}
