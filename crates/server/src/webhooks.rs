//! The webhook delivery worker (API section 12): a background task in every server process.
//!
//! It wakes on the events `NOTIFY` channel (a delivery is inserted with its event) and polls
//! anyway, so a lost notification only delays. Each endpoint with due deliveries gets its own
//! task, which claims at most [`PER_ENDPOINT`] deliveries at a time (leased and committed
//! before sending: see `bellhop_persistence::webhooks`), sends them at once and records the
//! outcomes, until none is due: a hanging endpoint holds its own task and nothing else.
//! Database failures are logged and retried after a back-off; a delivery whose outcome could
//! not be recorded is sent again when its lease ends (at least once, never lost).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use bellhop_application::webhooks::signature;
use bellhop_domain::webhook::{is_success, kept_response, RetrySchedule, KEPT_RESPONSE_BYTES};
use bellhop_http::Metrics;
use bellhop_persistence::{
    events::CHANNEL,
    webhooks::{ClaimedDelivery, Endpoint, EndpointKey, Outcome},
    PgStore,
};
use futures_util::future::join_all;
use sqlx::{postgres::PgListener, PgPool};
use tokio::{
    sync::{watch, Notify},
    task::{JoinHandle, JoinSet},
};

use crate::config::Settings;

/// Deliveries of one endpoint in flight at once, per process.
pub const PER_ENDPOINT: usize = 8;
/// How often the worker looks for due deliveries without a wake-up.
const POLL: Duration = Duration::from_millis(500);
/// Added to the timeout for a claim's lease, so that a lease never ends while its attempt
/// may still be running.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// How long stopping waits for the attempts in flight before cutting them (a cut attempt is
/// sent again when its lease ends).
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How often delivered deliveries older than the retention are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What the worker needs from configuration.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub timeout: Duration,
    pub schedule: RetrySchedule,
    /// Delivered deliveries are deleted after this long (the event retention).
    pub keep_delivered: Duration,
}

impl From<&Settings> for WorkerSettings {
    fn from(settings: &Settings) -> Self {
        Self {
            timeout: settings.webhook_timeout,
            schedule: settings.webhook_retry_schedule.clone(),
            keep_delivered: settings.event_retention,
        }
    }
}

/// A running worker; [`WebhookWorker::stop`] ends it.
pub struct WebhookWorker {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

struct Shared {
    store: PgStore,
    client: reqwest::Client,
    settings: WorkerSettings,
    metrics: Option<Metrics>,
    running: Mutex<HashSet<EndpointKey>>,
    stop: watch::Receiver<bool>,
}

impl WebhookWorker {
    /// Starts the worker on `pool` (its connections are used briefly: none is held while a
    /// receiver is called). `metrics` gets the attempts and the oldest pending age.
    pub fn spawn(
        pool: PgPool,
        settings: WorkerSettings,
        metrics: Option<Metrics>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // Deliveries go where the endpoint says, never through a proxy from the environment.
            .no_proxy()
            .user_agent(concat!("bellhop-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the webhook client: {e}"))?;
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            store: PgStore::new(pool.clone()),
            client,
            settings,
            metrics,
            running: Mutex::default(),
            stop: stop_rx,
        });
        let handle = tokio::spawn(run(pool, shared));
        Ok(Self { stop, handle })
    }

    /// Stops claiming, lets the attempts in flight finish (for [`STOP_GRACE`] at most), then
    /// ends. An attempt cut short is sent again when its lease ends.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let mut handle = self.handle;
        // Aborting the task drops its endpoint tasks too (a dropped `JoinSet` aborts them).
        if tokio::time::timeout(STOP_GRACE, &mut handle).await.is_err() {
            handle.abort();
        }
    }
}

async fn run(pool: PgPool, shared: Arc<Shared>) {
    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(listen(pool, wake.clone()));
    let mut stop = shared.stop.clone();
    let mut endpoints = JoinSet::new();
    let mut failures: u32 = 0;
    let mut purged_at: Option<tokio::time::Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        if purged_at.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            purged_at = Some(tokio::time::Instant::now());
            purge_delivered(&shared).await;
        }
        match shared.store.due_webhook_endpoints().await {
            Ok(due) => {
                failures = 0;
                for key in due {
                    let fresh = shared
                        .running
                        .lock()
                        .map(|mut running| running.insert(key))
                        .unwrap_or(false);
                    if fresh {
                        endpoints.spawn(work_endpoint(shared.clone(), key));
                    }
                }
                if let Some(metrics) = &shared.metrics {
                    if let Ok(age) = shared.store.oldest_pending_webhook_secs().await {
                        metrics.webhook_oldest_pending.set(age);
                    }
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, "cannot look for due webhook deliveries");
            }
        }
        // Reap finished endpoint tasks.
        while endpoints.try_join_next().is_some() {}
        // After failures, back off (up to 10 s) so that an outage is not hammered.
        let pause = if failures == 0 {
            POLL
        } else {
            POLL.saturating_mul(2u32.saturating_pow(failures.min(5)))
                .min(Duration::from_secs(10))
        };
        tokio::select! {
            // Stopped, or the worker's owner is gone.
            changed = stop.changed() => if changed.is_err() { break },
            () = wake.notified(), if failures == 0 => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
    listener.abort();
    while endpoints.join_next().await.is_some() {}
}

/// Deletes what was delivered longer ago than the retention, in batches; failed and pending
/// deliveries stay. Several instances may do it at once: each batch skips what another took.
async fn purge_delivered(shared: &Shared) {
    let keep = chrono::Duration::from_std(shared.settings.keep_delivered)
        .unwrap_or(chrono::Duration::days(7));
    let before = chrono::Utc::now() - keep;
    loop {
        match shared.store.purge_delivered_webhooks(before, 5_000).await {
            Ok(5_000) => continue,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot purge delivered webhook deliveries");
                return;
            }
        }
    }
}

/// Relays `NOTIFY bellhop_events` to the worker; reconnects after a failure.
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(error) = listener.listen(CHANNEL).await {
                    tracing::warn!(%error, "the webhook worker cannot listen for events");
                } else {
                    wake.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(_) => wake.notify_one(),
                            Err(error) => {
                                tracing::warn!(%error, "the webhook worker's listener failed");
                                break;
                            }
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "the webhook worker cannot connect its listener");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Sends an endpoint's due deliveries, [`PER_ENDPOINT`] at a time, until none is due.
async fn work_endpoint(shared: Arc<Shared>, key: EndpointKey) {
    let result = async {
        loop {
            if *shared.stop.borrow() {
                return Ok(());
            }
            let Some(endpoint) = shared.store.webhook_endpoint(key).await? else {
                return Ok(());
            };
            let lease = shared.settings.timeout + LEASE_MARGIN;
            let claimed = shared
                .store
                .claim_webhook_deliveries(key, PER_ENDPOINT as i64, lease)
                .await?;
            if claimed.is_empty() {
                return Ok(());
            }
            let outcomes = join_all(
                claimed
                    .iter()
                    .map(|delivery| attempt(&shared, &endpoint, key, delivery)),
            )
            .await;
            record(&shared, &claimed, &outcomes).await;
        }
    }
    .await;
    if let Err(error) = result {
        let error: bellhop_domain::RepositoryError = error;
        tracing::warn!(%error, endpoint = key.endpoint_id, "webhook deliveries paused by a database error");
    }
    if let Ok(mut running) = shared.running.lock() {
        running.remove(&key);
    }
}

/// Records what came of a claim's attempts, in one statement once all of them are done
/// (each within the timeout, so within the lease). An outcome that cannot be recorded leaves
/// its delivery to be sent again when the lease ends: at least once, never lost.
async fn record(shared: &Shared, claimed: &[ClaimedDelivery], outcomes: &[(String, Outcome)]) {
    let attempts: Vec<_> = claimed
        .iter()
        .zip(outcomes)
        .map(|(delivery, (body, outcome))| (delivery, body.as_str(), outcome))
        .collect();
    match shared.store.record_webhook_attempts(&attempts).await {
        Ok(recorded) => {
            for delivery in claimed.iter().filter(|d| !recorded.contains(&d.id)) {
                tracing::warn!(
                    delivery = delivery.id,
                    "a webhook attempt outlived its lease; its outcome was not recorded"
                );
            }
        }
        Err(error) => tracing::warn!(
            %error,
            deliveries = claimed.len(),
            "cannot record webhook attempts; they will be sent again"
        ),
    }
}

/// One attempt: send, and say what came of it (with the body sent).
async fn attempt(
    shared: &Shared,
    endpoint: &Endpoint,
    key: EndpointKey,
    delivery: &ClaimedDelivery,
) -> (String, Outcome) {
    let body = delivery
        .body
        .clone()
        .unwrap_or_else(|| bellhop_http::webhook::body(&delivery.event));
    let result = send(&shared.client, endpoint, &delivery.webhook_id(), &body).await;
    let failure = |status: Option<u16>, error: String, response: Option<String>| {
        let attempt = u32::try_from(delivery.attempt).unwrap_or(u32::MAX);
        Outcome::Failed {
            status,
            error,
            response,
            retry_after: shared.settings.schedule.after_failure(attempt),
        }
    };
    let outcome = match result {
        Ok((status, _)) if is_success(status) => Outcome::Delivered { status },
        Ok((status, response)) => failure(
            Some(status),
            format!("HTTP status {status}"),
            Some(kept_response(&response)),
        ),
        Err(error) => failure(None, error, None),
    };
    if let Some(metrics) = &shared.metrics {
        metrics.webhook_attempt(match &outcome {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Failed {
                retry_after: Some(_),
                ..
            } => "retry",
            Outcome::Failed { .. } => "failed",
        });
    }
    if let Outcome::Failed { error, .. } = &outcome {
        tracing::info!(
            endpoint = key.endpoint_id,
            delivery = delivery.id,
            attempt = delivery.attempt,
            error = error.as_str(),
            "webhook attempt failed"
        );
    }
    (body, outcome)
}

/// Posts the body, signed; the answer's status and at most 1 KiB of its body, or what went
/// wrong in words that carry neither the url nor the secret.
async fn send(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    id: &str,
    body: &str,
) -> Result<(u16, Vec<u8>), String> {
    let timestamp = chrono::Utc::now().timestamp();
    let request = client
        .post(&endpoint.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature(&endpoint.secret, id, timestamp, body),
        )
        .body(body.to_owned());
    let mut response = request.send().await.map_err(describe)?;
    let status = response.status().as_u16();
    let mut kept = Vec::new();
    if !is_success(status) {
        while kept.len() < KEPT_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
    }
    Ok((status, kept))
}

fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else if error.is_redirect() {
        "redirected".into()
    } else if error.is_builder() {
        "invalid url".into()
    } else {
        format!("request failed: {}", error.without_url())
    }
}

/// `bellhop webhooks status`: one line per endpoint. Secrets are not in its input at all.
pub fn status_table(endpoints: &[bellhop_persistence::webhooks::EndpointStatus]) -> String {
    let mut out = String::new();
    if endpoints.is_empty() {
        out.push_str("no webhook endpoints\n");
        return out;
    }
    for e in endpoints {
        let age = e
            .oldest_pending_secs
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.0}s"));
        out.push_str(&format!(
            "{property} {url}{disabled}\n  pending {pending}  delivered {delivered}  failed {failed}  oldest pending {age}  last error {error}\n",
            property = e.property_code,
            url = e.url,
            disabled = if e.enabled { "" } else { " (disabled)" },
            pending = e.pending,
            delivered = e.delivered,
            failed = e.failed,
            error = e.last_error.as_deref().unwrap_or("-"),
        ));
    }
    out
}
