//! Typed configuration from the environment (section 9 of the spec), checked at start-up.

use std::{fmt, net::SocketAddr, time::Duration};

use secrecy::{ExposeSecret, SecretString};

/// The development secret `--demo` signs tokens with when none is configured. Never for production.
const DEMO_SESSION_SECRET: &str = "bellhop-demo-secret-not-for-production-use-0001";
const MIN_SECRET_BYTES: usize = 32;

/// Every environment variable [`Settings::from_lookup`] reads, with its default and meaning:
/// `bellhop --help` prints them (a test keeps this list and the reads in step).
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/bellhop",
        "the database (created if missing)",
    ),
    ("BELLHOP_BIND", "127.0.0.1:8080", "listen address"),
    (
        "BELLHOP_SESSION_SECRET",
        "none, required; serve --demo uses a development secret",
        "token signing secret, 32 random bytes or more",
    ),
    (
        "BELLHOP_SESSION_SECRET_PREVIOUS",
        "unset",
        "the previous secret, still accepted (rotation)",
    ),
    (
        "BELLHOP_SESSION_IDLE_SECS",
        "86400",
        "idle expiry of a session",
    ),
    (
        "BELLHOP_SESSION_REFRESH_AFTER_SECS",
        "900",
        "token age after which a response carries a fresh one (0: every response)",
    ),
    (
        "BELLHOP_CHECKOUT_GRACE_SECS",
        "21600",
        "how long after check-out a verified session lives",
    ),
    ("BELLHOP_MAX_PAGE_LENGTH", "500", "the paging cap"),
    ("BELLHOP_MAX_BODY_BYTES", "65536", "request body limit"),
    (
        "BELLHOP_RATE_LIMIT_PER_SESSION",
        "120",
        "requests per minute per session (0: off)",
    ),
    (
        "BELLHOP_RATE_LIMIT_PER_ADDRESS",
        "1200",
        "requests per minute per client address (0: off)",
    ),
    (
        "BELLHOP_DB_POOL_SIZE",
        "8 per core, between 8 and 64",
        "database connections per process",
    ),
    (
        "BELLHOP_DB_ACQUIRE_TIMEOUT_MS",
        "2000",
        "wait for a connection before answering 503",
    ),
    (
        "BELLHOP_DB_STATEMENT_TIMEOUT_MS",
        "5000",
        "statement_timeout and lock_timeout of every connection (then 503)",
    ),
    (
        "BELLHOP_REQUEST_READ_TIMEOUT_MS",
        "10000",
        "time a client has to send a request's head and body (then 408)",
    ),
    (
        "BELLHOP_LOGIN_FAILURES_PER_ROOM",
        "10",
        "failed room verifications per room in 15 minutes before 429; 0 turns it off",
    ),
    (
        "BELLHOP_EVENTS_HEARTBEAT_SECS",
        "15",
        "keep-alive comment interval of event streams",
    ),
    (
        "BELLHOP_EVENT_RETENTION_SECS",
        "604800",
        "how long events stay replayable (7 days)",
    ),
    (
        "BELLHOP_MAX_STREAMS",
        "10000",
        "open event streams per process (then 503)",
    ),
    (
        "BELLHOP_MAX_STREAMS_PER_SESSION",
        "5",
        "open event streams per guest session in one process",
    ),
    (
        "BELLHOP_WEBHOOK_TIMEOUT_MS",
        "10000",
        "time a webhook receiver has to answer an attempt",
    ),
    (
        "BELLHOP_WEBHOOK_RETRY_SCHEDULE",
        "5,300,1800,7200,18000,36000,36000",
        "seconds between a webhook delivery's attempts, comma-separated",
    ),
    ("BELLHOP_LOG_FORMAT", "pretty", "pretty or json"),
    ("RUST_LOG", "info", "log filter (tracing EnvFilter syntax)"),
];

/// The environment section of `bellhop --help`, rendered from [`VARIABLES`].
pub fn environment_help() -> String {
    let width = VARIABLES
        .iter()
        .map(|(name, _, _)| name.len())
        .max()
        .unwrap_or(0);
    let mut help = String::from("Environment variables:\n");
    for (name, default, meaning) in VARIABLES {
        help.push_str(&format!(
            "  {name:width$}  {meaning} [default: {default}]\n"
        ));
    }
    help
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone)]
pub struct Settings {
    pub database_url: SecretString,
    pub bind: SocketAddr,
    /// Empty only when read for a command that never signs tokens and none is configured.
    pub session_secret: SecretString,
    pub session_secret_previous: Option<SecretString>,
    /// True when `--demo` supplied the development secret.
    pub using_demo_secret: bool,
    pub session_idle: Duration,
    pub session_refresh_after: Duration,
    pub checkout_grace: Duration,
    pub max_page_length: u32,
    pub max_body_bytes: usize,
    pub rate_limit_per_session: u32,
    pub rate_limit_per_address: u32,
    pub db_pool_size: u32,
    pub db_acquire_timeout: Duration,
    /// `statement_timeout` and `lock_timeout` of every database connection.
    pub db_statement_timeout: Duration,
    /// Time a client has to send a request's head and body.
    pub request_read_timeout: Duration,
    /// Failed room verifications per room in 15 minutes before 429 (0: no limit).
    pub login_failures_per_room: u32,
    /// Keep-alive interval of event streams (section 11).
    pub events_heartbeat: Duration,
    /// How long events stay replayable.
    pub event_retention: Duration,
    pub max_streams: usize,
    pub max_streams_per_session: usize,
    /// Time a webhook receiver has to answer (section 12).
    pub webhook_timeout: Duration,
    /// Delays between a webhook delivery's attempts.
    pub webhook_retry_schedule: bellhop_domain::webhook::RetrySchedule,
    pub log_format: LogFormat,
    pub log_filter: String,
}

/// What reading the settings does when `BELLHOP_SESSION_SECRET` is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingSecret {
    /// Refuse: the command signs tokens (`serve`).
    Refuse,
    /// Use the development secret (`--demo`).
    UseDemo,
    /// Leave it empty: the command never signs tokens (`migrate`, `load`, `check-config`,
    /// `sessions purge`).
    NotNeeded,
}

/// `true` is `--demo`.
impl From<bool> for MissingSecret {
    fn from(demo: bool) -> Self {
        if demo {
            Self::UseDemo
        } else {
            Self::Refuse
        }
    }
}

/// A setting that is missing or wrong: one clear line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// The default pool size: eight connections per core, between 8 and 64. Requests hold a
/// connection only for their statements, but enough concurrent commits let PostgreSQL flush
/// them to the WAL together (group commit), which is what bounds write throughput.
pub fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from((cores * 8).clamp(8, 64)).unwrap_or(16)
}

fn parse<T: std::str::FromStr>(
    name: &str,
    raw: Option<String>,
    default: T,
    check: impl Fn(&T) -> bool,
    rule: &str,
) -> Result<T, ConfigError> {
    match raw.filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<T>() {
            Ok(value) if check(&value) => Ok(value),
            _ => Err(ConfigError(format!("{name}={raw:?} is not valid: {rule}"))),
        },
    }
}

fn secret(name: &str, raw: String) -> Result<SecretString, ConfigError> {
    if raw.trim().is_empty() {
        return Err(ConfigError(format!("{name} must not be blank")));
    }
    Ok(SecretString::from(raw))
}

impl Settings {
    /// Reads every variable from the process environment.
    pub fn from_env(missing_secret: impl Into<MissingSecret>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok(), missing_secret)
    }

    /// Reads every variable through `lookup` (tests pass a map).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        missing_secret: impl Into<MissingSecret>,
    ) -> Result<Self, ConfigError> {
        let database_url = lookup("DATABASE_URL")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/bellhop".to_owned());
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError("DATABASE_URL must be a postgres:// URL".into()));
        }
        let bind = parse(
            "BELLHOP_BIND",
            lookup("BELLHOP_BIND"),
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            |_| true,
            "an address such as 127.0.0.1:8080",
        )?;
        let (session_secret, using_demo_secret) =
            match lookup("BELLHOP_SESSION_SECRET").filter(|v| !v.is_empty()) {
                Some(raw) => (secret("BELLHOP_SESSION_SECRET", raw)?, false),
                None => match missing_secret.into() {
                    MissingSecret::UseDemo => (SecretString::from(DEMO_SESSION_SECRET), true),
                    MissingSecret::NotNeeded => (SecretString::from(String::new()), false),
                    MissingSecret::Refuse => {
                        return Err(ConfigError(
                            "BELLHOP_SESSION_SECRET is required (or run with --demo)".into(),
                        ))
                    }
                },
            };
        let session_secret_previous = lookup("BELLHOP_SESSION_SECRET_PREVIOUS")
            .filter(|v| !v.is_empty())
            .map(|raw| secret("BELLHOP_SESSION_SECRET_PREVIOUS", raw))
            .transpose()?;
        let positive = |v: &u64| *v > 0;
        let seconds = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            parse(
                name,
                lookup(name),
                default,
                positive,
                "a whole number of seconds above 0",
            )
            .map(Duration::from_secs)
        };
        let log_format = match lookup("BELLHOP_LOG_FORMAT")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError(format!(
                    "BELLHOP_LOG_FORMAT={other:?} is not valid: pretty or json"
                )))
            }
        };
        let log_filter = lookup("RUST_LOG")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "info".to_owned());
        // Refused rather than replaced by a default: a typo would otherwise silence the logs.
        if let Err(error) = tracing_subscriber::EnvFilter::builder().parse(&log_filter) {
            return Err(ConfigError(format!(
                "RUST_LOG={log_filter:?} is not valid: {error}"
            )));
        }
        Ok(Self {
            database_url: SecretString::from(database_url),
            bind,
            session_secret,
            session_secret_previous,
            using_demo_secret,
            session_idle: seconds("BELLHOP_SESSION_IDLE_SECS", 86_400)?,
            // 0 is allowed: every response then carries a fresh token.
            session_refresh_after: parse(
                "BELLHOP_SESSION_REFRESH_AFTER_SECS",
                lookup("BELLHOP_SESSION_REFRESH_AFTER_SECS"),
                900u64,
                |_| true,
                "a whole number of seconds",
            )
            .map(Duration::from_secs)?,
            checkout_grace: parse(
                "BELLHOP_CHECKOUT_GRACE_SECS",
                lookup("BELLHOP_CHECKOUT_GRACE_SECS"),
                21_600u64,
                |_| true,
                "a whole number of seconds",
            )
            .map(Duration::from_secs)?,
            max_page_length: parse(
                "BELLHOP_MAX_PAGE_LENGTH",
                lookup("BELLHOP_MAX_PAGE_LENGTH"),
                500u32,
                |v| (1..=100_000).contains(v),
                "1 to 100000",
            )?,
            max_body_bytes: parse(
                "BELLHOP_MAX_BODY_BYTES",
                lookup("BELLHOP_MAX_BODY_BYTES"),
                65_536usize,
                |v| (1..=16 * 1024 * 1024).contains(v),
                "1 to 16777216 bytes",
            )?,
            rate_limit_per_session: parse(
                "BELLHOP_RATE_LIMIT_PER_SESSION",
                lookup("BELLHOP_RATE_LIMIT_PER_SESSION"),
                120u32,
                |_| true,
                "requests per minute, 0 for off",
            )?,
            rate_limit_per_address: parse(
                "BELLHOP_RATE_LIMIT_PER_ADDRESS",
                lookup("BELLHOP_RATE_LIMIT_PER_ADDRESS"),
                1200u32,
                |_| true,
                "requests per minute, 0 for off",
            )?,
            db_pool_size: parse(
                "BELLHOP_DB_POOL_SIZE",
                lookup("BELLHOP_DB_POOL_SIZE"),
                default_pool_size(),
                |v| (1..=1000).contains(v),
                "1 to 1000 connections",
            )?,
            db_acquire_timeout: parse(
                "BELLHOP_DB_ACQUIRE_TIMEOUT_MS",
                lookup("BELLHOP_DB_ACQUIRE_TIMEOUT_MS"),
                2000u64,
                positive,
                "milliseconds above 0",
            )
            .map(Duration::from_millis)?,
            db_statement_timeout: parse(
                "BELLHOP_DB_STATEMENT_TIMEOUT_MS",
                lookup("BELLHOP_DB_STATEMENT_TIMEOUT_MS"),
                5000u64,
                |v| (1..=3_600_000).contains(v),
                "milliseconds, 1 to 3600000",
            )
            .map(Duration::from_millis)?,
            request_read_timeout: parse(
                "BELLHOP_REQUEST_READ_TIMEOUT_MS",
                lookup("BELLHOP_REQUEST_READ_TIMEOUT_MS"),
                10_000u64,
                |v| (1..=3_600_000).contains(v),
                "milliseconds, 1 to 3600000",
            )
            .map(Duration::from_millis)?,
            login_failures_per_room: parse(
                "BELLHOP_LOGIN_FAILURES_PER_ROOM",
                lookup("BELLHOP_LOGIN_FAILURES_PER_ROOM"),
                10u32,
                |_| true,
                "failures per room in 15 minutes, 0 for off",
            )?,
            events_heartbeat: parse(
                "BELLHOP_EVENTS_HEARTBEAT_SECS",
                lookup("BELLHOP_EVENTS_HEARTBEAT_SECS"),
                15u64,
                |v| (1..=3600).contains(v),
                "seconds, 1 to 3600",
            )
            .map(Duration::from_secs)?,
            event_retention: parse(
                "BELLHOP_EVENT_RETENTION_SECS",
                lookup("BELLHOP_EVENT_RETENTION_SECS"),
                604_800u64,
                |v| (1..=31_536_000).contains(v),
                "seconds, 1 to 31536000",
            )
            .map(Duration::from_secs)?,
            max_streams: parse(
                "BELLHOP_MAX_STREAMS",
                lookup("BELLHOP_MAX_STREAMS"),
                10_000usize,
                |v| (1..=1_000_000).contains(v),
                "streams, 1 to 1000000",
            )?,
            webhook_timeout: parse(
                "BELLHOP_WEBHOOK_TIMEOUT_MS",
                lookup("BELLHOP_WEBHOOK_TIMEOUT_MS"),
                10_000u64,
                |v| (1..=300_000).contains(v),
                "milliseconds, 1 to 300000",
            )
            .map(Duration::from_millis)?,
            webhook_retry_schedule: {
                let raw = lookup("BELLHOP_WEBHOOK_RETRY_SCHEDULE")
                    .filter(|v| !v.trim().is_empty())
                    .unwrap_or_else(|| bellhop_domain::webhook::RetrySchedule::DEFAULT.to_owned());
                bellhop_domain::webhook::RetrySchedule::parse(&raw)
                    .map_err(|why| ConfigError(format!("BELLHOP_WEBHOOK_RETRY_SCHEDULE: {why}")))?
            },
            max_streams_per_session: parse(
                "BELLHOP_MAX_STREAMS_PER_SESSION",
                lookup("BELLHOP_MAX_STREAMS_PER_SESSION"),
                5usize,
                |v| (1..=1000).contains(v),
                "streams, 1 to 1000",
            )?,
            log_format,
            log_filter,
        })
    }

    /// The event-stream limits (section 11).
    pub fn stream_limits(&self) -> bellhop_http::sse::StreamLimits {
        bellhop_http::sse::StreamLimits {
            heartbeat: self.events_heartbeat,
            retention: self.event_retention,
            max_streams: self.max_streams,
            max_per_session: self.max_streams_per_session,
        }
    }

    /// Whether a signing secret is shorter than the 32 bytes HMAC-SHA256 deserves (worth a
    /// warning at start-up, not a refusal).
    pub fn secret_is_short(&self) -> bool {
        !self.using_demo_secret
            && (self.session_secret.expose_secret().len() < MIN_SECRET_BYTES
                || self
                    .session_secret_previous
                    .as_ref()
                    .is_some_and(|s| s.expose_secret().len() < MIN_SECRET_BYTES))
    }

    /// The database URL with any password replaced by `***`, for printing.
    pub fn masked_database_url(&self) -> String {
        mask_url(self.database_url.expose_secret())
    }
}

fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{credentials}@{host}"),
        },
        None => url.to_owned(),
    }
}

impl fmt::Display for Settings {
    /// Every setting, secrets masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |present: bool| if present { "set (hidden)" } else { "unset" };
        writeln!(
            f,
            "DATABASE_URL                        {}",
            self.masked_database_url()
        )?;
        writeln!(f, "BELLHOP_BIND                        {}", self.bind)?;
        writeln!(
            f,
            "BELLHOP_SESSION_SECRET              {}",
            if self.using_demo_secret {
                "demo development secret"
            } else if self.session_secret.expose_secret().is_empty() {
                "unset (serve requires it)"
            } else {
                "set (hidden)"
            }
        )?;
        writeln!(
            f,
            "BELLHOP_SESSION_SECRET_PREVIOUS     {}",
            set(self.session_secret_previous.is_some())
        )?;
        writeln!(
            f,
            "BELLHOP_SESSION_IDLE_SECS           {}",
            self.session_idle.as_secs()
        )?;
        writeln!(
            f,
            "BELLHOP_SESSION_REFRESH_AFTER_SECS  {}",
            self.session_refresh_after.as_secs()
        )?;
        writeln!(
            f,
            "BELLHOP_CHECKOUT_GRACE_SECS         {}",
            self.checkout_grace.as_secs()
        )?;
        writeln!(
            f,
            "BELLHOP_MAX_PAGE_LENGTH             {}",
            self.max_page_length
        )?;
        writeln!(
            f,
            "BELLHOP_MAX_BODY_BYTES              {}",
            self.max_body_bytes
        )?;
        writeln!(
            f,
            "BELLHOP_RATE_LIMIT_PER_SESSION      {}",
            self.rate_limit_per_session
        )?;
        writeln!(
            f,
            "BELLHOP_RATE_LIMIT_PER_ADDRESS      {}",
            self.rate_limit_per_address
        )?;
        writeln!(
            f,
            "BELLHOP_DB_POOL_SIZE                {}",
            self.db_pool_size
        )?;
        writeln!(
            f,
            "BELLHOP_DB_ACQUIRE_TIMEOUT_MS       {}",
            self.db_acquire_timeout.as_millis()
        )?;
        writeln!(
            f,
            "BELLHOP_DB_STATEMENT_TIMEOUT_MS     {}",
            self.db_statement_timeout.as_millis()
        )?;
        writeln!(
            f,
            "BELLHOP_REQUEST_READ_TIMEOUT_MS     {}",
            self.request_read_timeout.as_millis()
        )?;
        writeln!(
            f,
            "BELLHOP_LOGIN_FAILURES_PER_ROOM     {}",
            self.login_failures_per_room
        )?;
        writeln!(
            f,
            "BELLHOP_EVENTS_HEARTBEAT_SECS       {}",
            self.events_heartbeat.as_secs()
        )?;
        writeln!(
            f,
            "BELLHOP_EVENT_RETENTION_SECS        {}",
            self.event_retention.as_secs()
        )?;
        writeln!(
            f,
            "BELLHOP_MAX_STREAMS                 {}",
            self.max_streams
        )?;
        writeln!(
            f,
            "BELLHOP_WEBHOOK_TIMEOUT_MS          {}",
            self.webhook_timeout.as_millis()
        )?;
        writeln!(
            f,
            "BELLHOP_WEBHOOK_RETRY_SCHEDULE      {} attempts",
            self.webhook_retry_schedule.attempts()
        )?;
        writeln!(
            f,
            "BELLHOP_MAX_STREAMS_PER_SESSION     {}",
            self.max_streams_per_session
        )?;
        writeln!(
            f,
            "BELLHOP_LOG_FORMAT                  {:?}",
            self.log_format
        )?;
        write!(f, "RUST_LOG                            {}", self.log_filter)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)], demo: bool) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned(), demo)
    }

    #[test]
    fn webhook_settings_default_to_the_spec_and_bad_ones_stop_the_start() {
        let s = settings(&[], true).unwrap();
        assert_eq!(s.webhook_timeout, Duration::from_secs(10));
        assert_eq!(s.webhook_retry_schedule.attempts(), 8);
        assert_eq!(
            s.webhook_retry_schedule.after_failure(2),
            Some(Duration::from_secs(300))
        );
        let short = settings(&[("BELLHOP_WEBHOOK_RETRY_SCHEDULE", "1,2")], true).unwrap();
        assert_eq!(short.webhook_retry_schedule.attempts(), 3);
        for (name, value) in [
            ("BELLHOP_WEBHOOK_RETRY_SCHEDULE", "5,soon"),
            ("BELLHOP_WEBHOOK_RETRY_SCHEDULE", "5,-1"),
            ("BELLHOP_WEBHOOK_TIMEOUT_MS", "0"),
            ("BELLHOP_WEBHOOK_TIMEOUT_MS", "ten"),
        ] {
            let error = settings(&[(name, value)], true).unwrap_err();
            assert!(error.0.starts_with(name), "{}", error.0);
        }
    }

    #[test]
    fn defaults_follow_the_spec() {
        let s = settings(&[], true).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.session_idle.as_secs(), 86_400);
        assert_eq!(s.session_refresh_after.as_secs(), 900);
        assert_eq!(s.checkout_grace.as_secs(), 21_600);
        assert_eq!(s.max_page_length, 500);
        assert_eq!(s.max_body_bytes, 65_536);
        assert_eq!(s.rate_limit_per_session, 120);
        assert_eq!(s.rate_limit_per_address, 1200);
        assert_eq!(s.db_acquire_timeout.as_millis(), 2000);
        assert_eq!(s.db_statement_timeout.as_millis(), 5000);
        assert_eq!(s.request_read_timeout.as_millis(), 10_000);
        assert_eq!(s.login_failures_per_room, 10);
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert!(s.using_demo_secret);
    }

    #[test]
    fn a_secret_is_required_outside_demo_mode() {
        let error = settings(&[], false).unwrap_err();
        assert!(error.0.contains("BELLHOP_SESSION_SECRET is required"));
    }

    #[test]
    fn commands_that_never_sign_tokens_need_no_secret() {
        let map: HashMap<String, String> = HashMap::new();
        let s =
            Settings::from_lookup(|name| map.get(name).cloned(), MissingSecret::NotNeeded).unwrap();
        assert!(!s.using_demo_secret);
        assert!(s.session_secret.expose_secret().is_empty());
        assert!(s.to_string().contains("unset (serve requires it)"));
    }

    #[test]
    fn a_short_secret_is_accepted_but_flagged_and_a_blank_one_refused() {
        let short = settings(&[("BELLHOP_SESSION_SECRET", "short")], false).unwrap();
        assert!(short.secret_is_short());
        assert!(settings(&[("BELLHOP_SESSION_SECRET", "   ")], false).is_err());
        let long = settings(&[("BELLHOP_SESSION_SECRET", &"x".repeat(32))], false).unwrap();
        assert!(!long.secret_is_short());
    }

    #[test]
    fn a_refresh_interval_of_zero_refreshes_every_time() {
        let s = settings(&[("BELLHOP_SESSION_REFRESH_AFTER_SECS", "0")], true).unwrap();
        assert_eq!(s.session_refresh_after.as_secs(), 0);
    }

    #[test]
    fn an_invalid_number_names_the_variable() {
        let error = settings(&[("BELLHOP_MAX_PAGE_LENGTH", "zero")], true).unwrap_err();
        assert!(
            error
                .0
                .starts_with("BELLHOP_MAX_PAGE_LENGTH=\"zero\" is not valid"),
            "{}",
            error.0
        );
    }

    #[test]
    fn an_invalid_log_filter_is_a_configuration_error() {
        let error = settings(&[("RUST_LOG", "info,sqlx=loud")], true).unwrap_err();
        assert!(
            error
                .0
                .starts_with("RUST_LOG=\"info,sqlx=loud\" is not valid"),
            "{}",
            error.0
        );
        assert!(!error.0.contains('\n'), "one line: {}", error.0);
        let fine = settings(&[("RUST_LOG", "warn,bellhop_http=debug")], true).unwrap();
        assert_eq!(fine.log_filter, "warn,bellhop_http=debug");
    }

    #[test]
    fn the_help_lists_every_variable_the_configuration_reads() {
        let read = std::cell::RefCell::new(Vec::new());
        Settings::from_lookup(
            |name| {
                read.borrow_mut().push(name.to_owned());
                None
            },
            true,
        )
        .unwrap();
        let mut read = read.into_inner();
        read.sort();
        read.dedup();
        let mut listed: Vec<String> = VARIABLES.iter().map(|(n, _, _)| (*n).to_owned()).collect();
        listed.sort();
        assert_eq!(read, listed, "VARIABLES and the variables read differ");
        let help = environment_help();
        for name in &listed {
            assert!(
                help.contains(&format!("  {name} ")),
                "{name} is not in the help"
            );
        }
    }

    #[test]
    fn printing_masks_secrets_and_passwords() {
        let s = settings(
            &[
                (
                    "BELLHOP_SESSION_SECRET",
                    "0123456789abcdef0123456789abcdef-very-secret",
                ),
                ("DATABASE_URL", "postgres://app:hunter2@db:5432/bellhop"),
            ],
            false,
        )
        .unwrap();
        let printed = s.to_string();
        assert!(!printed.contains("very-secret"));
        assert!(!printed.contains("hunter2"));
        assert!(printed.contains("postgres://app:***@db:5432/bellhop"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
