//! The `bellhop` binary's library: configuration, database bootstrap, wiring of the layers
//! and the HTTP server. Integration tests build the same application through [`build_state`].

pub mod config;
pub mod database;
pub mod notifier;
pub mod telemetry;
pub mod webhooks;

use std::sync::{Arc, Mutex};

use actix_web::web;
use async_trait::async_trait;
use bellhop_application::{
    conversations::ConversationService, outlets::OutletService, sessions::SessionService,
    staff::StaffService, tokens::TokenCodec,
};
use bellhop_domain::{clock::Clock, session::SessionPolicy};
use bellhop_http::{state::RateLimits, AppState, Limits, Metrics, PoolStats, Readiness};
use bellhop_persistence::PgStore;
use sqlx::{postgres::PgConnectOptions, PgPool};

use crate::config::Settings;

/// Every store (one per HTTP worker) of this process.
type Stores = Arc<Mutex<Vec<Arc<PgStore>>>>;

struct DatabaseReadiness(Stores);

impl DatabaseReadiness {
    fn stores(&self) -> Vec<Arc<PgStore>> {
        self.0
            .lock()
            .map(|stores| stores.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl Readiness for DatabaseReadiness {
    async fn is_ready(&self) -> bool {
        match self.stores().first() {
            Some(store) => bellhop_persistence::is_ready(store.pool()).await,
            None => false,
        }
    }

    /// The process's pools together.
    fn pool_stats(&self) -> PoolStats {
        self.stores()
            .iter()
            .fold(PoolStats::default(), |total, store| {
                let pool = store.pool();
                PoolStats {
                    size: total.size + pool.size(),
                    idle: total.idle + u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                    max: total.max + pool.options().get_max_connections(),
                    waiting: total.waiting + store.waiting(),
                }
            })
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
        login_failures_per_room: settings.login_failures_per_room,
    }
}

/// Wires one Postgres store into every service.
fn assemble(
    store: Arc<PgStore>,
    settings: &Settings,
    clock: Arc<dyn Clock>,
    shared: &Shared,
) -> web::Data<AppState> {
    let tokens = TokenCodec::new(
        settings.session_secret.clone(),
        settings.session_secret_previous.clone(),
    );
    web::Data::new(AppState {
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
        staff: StaffService::new(
            store.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
            clock,
        ),
        events: bellhop_http::sse::Events {
            log: store,
            hub: shared.hub.clone(),
        },
        limits: Limits {
            max_body_bytes: settings.max_body_bytes,
            max_page_length: settings.max_page_length,
            request_read_timeout: settings.request_read_timeout,
        },
        readiness: Arc::new(DatabaseReadiness(shared.stores.clone())),
        metrics: shared.metrics.clone(),
        rate_limits: shared.rate_limits.clone(),
    })
}

/// What every worker of a process shares: metrics, rate limits, and the list of pools.
struct Shared {
    metrics: Metrics,
    rate_limits: Arc<RateLimits>,
    stores: Stores,
    /// The event streams of the process (section 11).
    hub: Arc<bellhop_http::sse::Hub>,
}

impl Shared {
    fn new(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            metrics: Metrics::new().map_err(|e| anyhow::anyhow!("cannot register metrics: {e}"))?,
            rate_limits: Arc::new(RateLimits::new(
                settings.rate_limit_per_session,
                settings.rate_limit_per_address,
            )),
            stores: Stores::default(),
            hub: Arc::new(bellhop_http::sse::Hub::new(settings.stream_limits())),
        })
    }

    fn add(&self, store: Arc<PgStore>) {
        if let Ok(mut stores) = self.stores.lock() {
            stores.push(store);
        }
    }
}

/// The application state over one pool (tests, and any single-runtime host).
pub fn build_state(
    pool: PgPool,
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<web::Data<AppState>> {
    let shared = Shared::new(settings)?;
    let store = Arc::new(PgStore::new(pool));
    shared.add(store.clone());
    Ok(assemble(store, settings, clock, &shared))
}

/// The HTTP server on `listener`, with `workers` workers, each built with its own state from
/// `state`. A request's head must arrive within the read timeout (else 408 and the connection
/// is closed; its body has the same limit, see the extractors), and a client that does not
/// close after a response gets a second at most: no slow client holds a connection long.
pub fn http_server<F>(
    settings: &Settings,
    listener: std::net::TcpListener,
    workers: usize,
    state: F,
) -> std::io::Result<actix_web::dev::Server>
where
    F: Fn() -> web::Data<bellhop_http::AppState> + Send + Clone + 'static,
{
    Ok(
        actix_web::HttpServer::new(move || bellhop_http::build_app(state()))
            .workers(workers)
            .client_request_timeout(settings.request_read_timeout)
            .client_disconnect_timeout(std::time::Duration::from_secs(1))
            .shutdown_timeout(30)
            .listen(listener)?
            .run(),
    )
}

/// Builds one application state per HTTP worker. Each actix worker runs its own
/// single-threaded runtime, and a connection is cheapest on the runtime that opened it (its
/// socket's events come from that runtime), so every worker gets its own pool (the configured
/// size split between them) while metrics and rate limits stay process-wide.
pub struct WorkerStates {
    settings: Settings,
    clock: Arc<dyn Clock>,
    options: PgConnectOptions,
    pool_size: u32,
    shared: Shared,
}

impl WorkerStates {
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>, workers: usize) -> anyhow::Result<Self> {
        let workers = u32::try_from(workers.max(1)).unwrap_or(1);
        let options = database::connect_options(settings)?;
        bellhop_http::outage::set_database_target(database::describe(&options));
        Ok(Self {
            settings: settings.clone(),
            clock,
            options,
            pool_size: settings.db_pool_size.div_ceil(workers),
            shared: Shared::new(settings)?,
        })
    }

    /// A worker's state, with its own lazily opened pool.
    pub fn worker_state(&self) -> web::Data<AppState> {
        let pool = database::pool_with(self.options.clone(), self.pool_size, &self.settings);
        let store = Arc::new(PgStore::new(pool));
        self.shared.add(store.clone());
        assemble(store, &self.settings, self.clock.clone(), &self.shared)
    }

    /// The event streams of this process: the listener wakes them, shutdown ends them.
    pub fn hub(&self) -> Arc<bellhop_http::sse::Hub> {
        self.shared.hub.clone()
    }

    /// The process's metrics (the webhook worker reports into them).
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics.clone()
    }

    /// Closes every worker's pool (graceful shutdown).
    pub async fn close(&self) {
        let stores = self
            .shared
            .stores
            .lock()
            .map(|stores| stores.clone())
            .unwrap_or_default();
        for store in stores {
            store.pool().close().await;
        }
    }
}
