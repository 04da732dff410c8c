//! Prometheus metrics: requests by route template and status, latency histograms, the
//! database pool, and conversations and messages created. Labels are route templates
//! (`/API/V40/Interactive/Messages/Conversations/{code}`), never raw paths with codes. The
//! process's own metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_open_fds`...) come from the standard collector, under their standard names.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// The pool's numbers at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
    /// Requests waiting for a connection right now.
    pub waiting: u32,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// The `process_*` metrics, kept out of `registry` so that they do not get its `bellhop_`
    /// prefix: dashboards and alerts expect the standard names.
    process: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub conversations_created: IntCounter,
    pub messages_created: IntCounterVec,
    pool: IntGaugeVec,
    pool_max: IntGauge,
    /// Webhook attempts by outcome (`delivered`, `retry`, `failed`): section 12.
    webhook_attempts: IntCounterVec,
    /// The age of the oldest pending webhook delivery, as the delivery worker last saw it.
    pub webhook_oldest_pending: Gauge,
}

impl Metrics {
    /// A fresh registry with every Bellhop metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("bellhop".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route template and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method and route template",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let conversations_created =
            IntCounter::new("conversations_created_total", "Conversations created")?;
        let messages_created = IntCounterVec::new(
            Opts::new("messages_created_total", "Messages created, by author"),
            &["author"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections by state (idle, in_use, waiting)",
            ),
            &["state"],
        )?;
        let pool_max = IntGauge::new(
            "db_pool_max_connections",
            "Configured size of the database pool",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(conversations_created.clone()))?;
        registry.register(Box::new(messages_created.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        let webhook_attempts = IntCounterVec::new(
            Opts::new(
                "webhook_attempts_total",
                "Webhook delivery attempts by outcome (delivered, retry, failed)",
            ),
            &["outcome"],
        )?;
        let webhook_oldest_pending = Gauge::new(
            "webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook delivery",
        )?;
        registry.register(Box::new(webhook_attempts.clone()))?;
        registry.register(Box::new(webhook_oldest_pending.clone()))?;
        let process = Registry::new();
        #[cfg(target_os = "linux")]
        process.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            process,
            requests,
            latency,
            conversations_created,
            messages_created,
            pool,
            pool_max,
            webhook_attempts,
            webhook_oldest_pending,
        })
    }

    /// Counts a webhook attempt: `delivered`, `retry` (failed, another attempt scheduled) or
    /// `failed` (failed, the last).
    pub fn webhook_attempt(&self, outcome: &'static str) {
        self.webhook_attempts.with_label_values(&[outcome]).inc();
    }

    /// A conversation and its first message were created by `author` (`guest` or `staff`).
    pub fn conversation_created(&self, author: &str) {
        self.conversations_created.inc();
        self.message_created(author);
    }

    pub fn message_created(&self, author: &str) {
        self.messages_created.with_label_values(&[author]).inc();
    }

    /// Counts a request. Every label value comes from a closed set, so no client can grow
    /// the exposition: the method is a standard one or `other`, the route a template of the
    /// route table or `unmatched`, the status a three-digit number.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        let status = if (100..=599).contains(&status) {
            status
        } else {
            0
        };
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The text exposition, with the pool gauges set from `pool`.
    pub fn render(&self, pool: PoolStats) -> String {
        self.pool
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle));
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(pool.size.saturating_sub(pool.idle)));
        self.pool
            .with_label_values(&["waiting"])
            .set(i64::from(pool.waiting));
        self.pool_max.set(i64::from(pool.max));
        let mut buffer = Vec::new();
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        if let Err(error) = TextEncoder::new().encode(&families, &mut buffer) {
            tracing::error!(error = %error, "could not encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The method as a label: one of HTTP's standard methods, else `other`.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        let metrics = Metrics::new().unwrap();
        for i in 0..50 {
            metrics.observe_request(
                &format!("X{i}{}", "Y".repeat(1000)),
                "unmatched",
                405,
                0.001,
            );
        }
        let text = metrics.render(PoolStats::default());
        assert!(text.contains(
            r#"bellhop_http_requests_total{method="other",route="unmatched",status="405"} 50"#
        ));
        assert!(!text.contains("YYYY"));
    }

    #[test]
    fn a_request_is_counted_under_its_route_template() {
        let metrics = Metrics::new().unwrap();
        metrics.observe_request("GET", "/staff/v1/conversations/{code}", 200, 0.002);
        let text = metrics.render(PoolStats {
            size: 3,
            idle: 1,
            max: 8,
            waiting: 0,
        });
        assert!(text.contains(
            r#"bellhop_http_requests_total{method="GET",route="/staff/v1/conversations/{code}",status="200"} 1"#
        ));
        assert!(text.contains(r#"bellhop_db_pool_connections{state="in_use"} 2"#));
        assert!(text.contains("bellhop_db_pool_max_connections 8"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_metrics_keep_their_standard_names() {
        let text = Metrics::new().unwrap().render(PoolStats::default());
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(
                text.contains(&format!("\n{name} ")),
                "{name} missing: {text}"
            );
        }
        assert!(!text.contains("bellhop_process_"));
    }
}
