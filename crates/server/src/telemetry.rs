//! Logging with `tracing`: pretty for people, JSON for production.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Logs go to stdout for the server (where log collectors read them) and to stderr for the
/// operator commands, whose stdout is their result.
pub fn init(format: LogFormat, filter: &str, to_stderr: bool) {
    // sqlx reports PostgreSQL notices (such as "already exists, skipping") at info level;
    // quiet them unless the filter says otherwise about sqlx.
    let filter = if filter.contains("sqlx") {
        filter.to_owned()
    } else {
        format!("{filter},sqlx=warn")
    };
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let writer = if to_stderr {
        fmt::writer::BoxMakeWriter::new(std::io::stderr)
    } else {
        fmt::writer::BoxMakeWriter::new(std::io::stdout)
    };
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    // A second initialisation (tests) is harmless and ignored.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}
