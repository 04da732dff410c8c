//! Logging with `tracing`: pretty for people, JSON for production. In JSON, every line logged
//! while a request is served carries its `request_id` as a top-level field, so that log
//! collectors can index and join on it without digging into span objects.

use std::fmt;

use tracing::{
    field::{Field, Visit},
    span::{Attributes, Id},
    Event, Subscriber,
};
use tracing_subscriber::{
    fmt::{
        format::{self, FormatEvent, FormatFields, Writer},
        FmtContext, MakeWriter,
    },
    layer::{Context, SubscriberExt},
    registry::LookupSpan,
    util::SubscriberInitExt,
    EnvFilter, Layer,
};

use crate::config::LogFormat;

/// Logs go to stdout for the server (where log collectors read them) and to stderr for the
/// operator commands, whose stdout is their result. `filter` has been checked by the
/// configuration already.
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
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr)
    } else {
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout)
    };
    // A second initialisation (tests) is harmless and ignored.
    let _ = match format {
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_writer(writer)
            .try_init()
            .is_ok(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(filter)
            .with(json_layer(writer))
            .try_init()
            .is_ok(),
    };
}

/// The JSON log lines: one object per event, its fields at the top level, `request_id` of the
/// enclosing request span (when there is one) at the top level too.
pub fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let lines = tracing_subscriber::fmt::layer()
        .json()
        .event_format(JsonWithRequestId(
            tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_target(false),
        ))
        .with_writer(writer);
    RequestIdLayer.and_then(lines)
}

/// A span's `request_id`, kept in the span's extensions by [`RequestIdLayer`].
struct RequestId(String);

/// Remembers the `request_id` field of every span that has one.
struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut visitor = RequestIdVisitor(None);
        attrs.record(&mut visitor);
        if let (Some(request_id), Some(span)) = (visitor.0, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(request_id));
        }
    }
}

struct RequestIdVisitor(Option<String>);

impl Visit for RequestIdVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "request_id" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `request_id = %id` arrives here; its Debug form is the Display text.
        if field.name() == "request_id" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// tracing-subscriber's JSON format, with `"request_id"` first in the object.
struct JsonWithRequestId(format::Format<format::Json>);

impl<S, N> FormatEvent<S, N> for JsonWithRequestId
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let request_id = ctx.event_scope().and_then(|scope| {
            scope
                .into_iter()
                .find_map(|span| span.extensions().get::<RequestId>().map(|id| id.0.clone()))
        });
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match (request_id, line.strip_prefix('{')) {
            (Some(request_id), Some(rest)) => {
                let request_id = serde_json::to_string(&request_id).map_err(|_| fmt::Error)?;
                write!(writer, "{{\"request_id\":{request_id},{rest}")
            }
            _ => writer.write_str(&line),
        }
    }
}
