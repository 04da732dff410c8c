//! Server-Sent Event streams of the event log (API section 11): the per-process hub (wake-ups,
//! stream limits, shutdown) and the stream itself.
//!
//! A stream holds no database connection while it waits: it reads a batch (a pooled
//! connection for one query), writes it, and waits for its property's wake-up (a `NOTIFY`
//! relayed by the server's listener), a 500 ms poll, the heartbeat, or the end.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use actix_web::web::Bytes;
use bellhop_domain::{
    conversation::{Conversation, MessageType, Viewer},
    events::{Event, EventCursor, EventLog, EventPayload},
    session::SessionId,
};
use futures_util::Stream;
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify};

use crate::dto::{ConversationDto, MessageDto, StaffConversationDto};

/// How often a stream reads the log even without a wake-up.
const POLL: Duration = Duration::from_millis(500);
/// Events read per query.
const BATCH: i64 = 200;

/// Stream settings from configuration.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub heartbeat: Duration,
    pub max_streams: usize,
    pub max_per_session: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(15),
            max_streams: 10_000,
            max_per_session: 5,
        }
    }
}

/// A session's open streams in this process, oldest first: (stream id, its closer).
type SessionStreams = VecDeque<(u64, Arc<Notify>)>;

/// What every stream of a process shares.
pub struct Hub {
    pub limits: StreamLimits,
    wake: Mutex<HashMap<i64, watch::Sender<u64>>>,
    shutdown: watch::Sender<bool>,
    open: AtomicUsize,
    next_id: AtomicU64,
    sessions: Mutex<HashMap<SessionId, SessionStreams>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("open", &self.open_streams())
            .finish()
    }
}

impl Hub {
    pub fn new(limits: StreamLimits) -> Self {
        Self {
            limits,
            wake: Mutex::default(),
            shutdown: watch::channel(false).0,
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            sessions: Mutex::default(),
        }
    }

    /// Wakes the streams of a property (a `NOTIFY` arrived).
    pub fn wake(&self, property_id: i64) {
        if let Ok(wake) = self.wake.lock() {
            if let Some(sender) = wake.get(&property_id) {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Wakes every stream (the listener reconnected and may have missed notifications).
    pub fn wake_all(&self) {
        if let Ok(wake) = self.wake.lock() {
            for sender in wake.values() {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Ends every stream (the server is stopping).
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn subscribe(&self, property_id: i64) -> watch::Receiver<u64> {
        match self.wake.lock() {
            Ok(mut wake) => wake
                .entry(property_id)
                .or_insert_with(|| watch::channel(0).0)
                .subscribe(),
            Err(_) => watch::channel(0).1,
        }
    }

    /// Counts a new stream, or `None` when the process holds its maximum already. A guest
    /// session's stream beyond its limit closes that session's oldest one.
    pub fn open(self: &Arc<Self>, session: Option<SessionId>) -> Option<Slot> {
        let before = self.open.fetch_add(1, Ordering::SeqCst);
        if before >= self.limits.max_streams {
            self.open.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let close = Arc::new(Notify::new());
        if let (Some(session), Ok(mut sessions)) = (session, self.sessions.lock()) {
            let streams = sessions.entry(session).or_default();
            streams.push_back((id, close.clone()));
            while streams.len() > self.limits.max_per_session.max(1) {
                if let Some((_, oldest)) = streams.pop_front() {
                    oldest.notify_one();
                }
            }
        }
        Some(Slot {
            hub: self.clone(),
            id,
            session,
            close,
        })
    }
}

/// One open stream's place in the hub; dropping it (the stream ended) frees it.
pub struct Slot {
    hub: Arc<Hub>,
    id: u64,
    session: Option<SessionId>,
    close: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.hub.open.fetch_sub(1, Ordering::SeqCst);
        if let (Some(session), Ok(mut sessions)) = (self.session, self.hub.sessions.lock()) {
            if let Some(streams) = sessions.get_mut(&session) {
                streams.retain(|(id, _)| *id != self.id);
                if streams.is_empty() {
                    sessions.remove(&session);
                }
            }
        }
    }
}

/// The log and the hub, as the handlers reach them.
#[derive(Clone)]
pub struct Events {
    pub log: Arc<dyn EventLog>,
    pub hub: Arc<Hub>,
}

/// Whose stream: which side's shapes, and how its right to listen is re-checked.
pub enum Side {
    Guest,
    Staff,
}

/// Re-checks, once per heartbeat, that the subscriber may still listen (and, for a guest,
/// counts as session activity): `false` ends the stream with `session.ended`. Errors of the
/// database count as "still may".
pub type Recheck = Box<dyn Fn() -> futures_util::future::LocalBoxFuture<'static, bool>>;

/// Where a stream starts, from the cursor the client sent (if any).
pub enum Start {
    Ready,
    Reset,
    After(EventCursor),
}

impl Start {
    pub async fn resolve(log: &dyn EventLog, property_id: i64, cursor: Option<&str>) -> Self {
        let Some(raw) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
            return Self::Ready;
        };
        match EventCursor::parse(raw) {
            Some(cursor) => match log.cursor_is_valid(property_id, cursor).await {
                Ok(true) => Self::After(cursor),
                _ => Self::Reset,
            },
            None => Self::Reset,
        }
    }
}

struct StreamState {
    events: Events,
    viewer: Viewer,
    side: Side,
    recheck: Recheck,
    cursor: EventCursor,
    pending: VecDeque<Bytes>,
    wake: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    slot: Slot,
    last_sent: Instant,
    last_check: Instant,
    done: bool,
}

fn frame(id: Option<EventCursor>, event: &str, data: &Value) -> Bytes {
    let mut out = String::with_capacity(128);
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(&id.encode());
        out.push('\n');
    }
    out.push_str("event: ");
    out.push_str(event);
    out.push_str("\ndata: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
    Bytes::from(out)
}

/// The `data` of an event for a side: `type`, `conversationCode`, and the type's fields in
/// that side's REST shapes.
pub fn render(event: &Event, side: &Side) -> Value {
    let mut data = Map::new();
    data.insert("type".into(), json!(event.payload.type_name()));
    data.insert("conversationCode".into(), json!(event.conversation_code));
    let to_value = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
    match &event.payload {
        EventPayload::ConversationCreated(c) => {
            let conversation = match side {
                Side::Guest => to_value(serde_json::to_value(ConversationDto::from(c.clone()))),
                Side::Staff => {
                    let mut c: Conversation = c.clone();
                    c.unread_count = c
                        .messages
                        .iter()
                        .filter(|m| m.message_type == MessageType::Guest && !m.is_read)
                        .count() as i64;
                    to_value(serde_json::to_value(StaffConversationDto::from(c)))
                }
            };
            data.insert("conversation".into(), conversation);
        }
        EventPayload::MessageCreated(m) => {
            data.insert(
                "message".into(),
                to_value(serde_json::to_value(MessageDto::from(m.clone()))),
            );
        }
        EventPayload::ConversationRead {
            read_by,
            last_read_message_code,
        } => {
            data.insert("readBy".into(), json!(read_by.as_str()));
            data.insert("lastReadMessageCode".into(), json!(last_read_message_code));
        }
        EventPayload::StatusChanged(status) => {
            data.insert("conversationStatus".into(), json!(status.as_str()));
        }
    }
    Value::Object(data)
}

/// The body of a stream that starts at `start`.
pub async fn stream(
    events: Events,
    viewer: Viewer,
    side: Side,
    start: Start,
    recheck: Recheck,
    slot: Slot,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let mut pending = VecDeque::new();
    pending.push_back(Bytes::from_static(b"retry: 3000\n\n"));
    let cursor = match start {
        Start::After(cursor) => cursor,
        Start::Ready | Start::Reset => {
            let (name, now) = match start {
                Start::Ready => ("ready", events.log.current_cursor().await),
                _ => ("reset", events.log.current_cursor().await),
            };
            // Without the database, the stream cannot promise anything: it says `reset`
            // from the start of time, which a client treats as "reload".
            let now = now.unwrap_or(EventCursor { xid: 0, id: 0 });
            pending.push_back(frame(Some(now), name, &json!({ "type": name })));
            now
        }
    };
    let wake = events.hub.subscribe(viewer.property_id());
    let shutdown = events.hub.shutdown.subscribe();
    let now = Instant::now();
    let state = StreamState {
        events,
        viewer,
        side,
        recheck,
        cursor,
        pending,
        wake,
        shutdown,
        slot,
        last_sent: now,
        last_check: now,
        done: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(chunk) = s.pending.pop_front() {
                return Some((Ok(chunk), s));
            }
            if s.done || *s.shutdown.borrow() {
                return None;
            }
            let heartbeat = s.events.hub.limits.heartbeat;
            if s.last_check.elapsed() >= heartbeat {
                s.last_check = Instant::now();
                if !(s.recheck)().await {
                    s.done = true;
                    s.pending.push_back(Bytes::from_static(
                        b"event: session.ended\ndata: {\"type\":\"session.ended\"}\n\n",
                    ));
                    continue;
                }
            }
            s.wake.borrow_and_update();
            if let Ok(batch) = s.events.log.read_events(&s.viewer, s.cursor, BATCH).await {
                if let Some(last) = batch.last() {
                    s.cursor = last.cursor;
                    for event in &batch {
                        let data = render(event, &s.side);
                        s.pending.push_back(frame(
                            Some(event.cursor),
                            event.payload.type_name(),
                            &data,
                        ));
                    }
                    s.last_sent = Instant::now();
                    continue;
                }
            }
            if s.last_sent.elapsed() >= heartbeat {
                s.last_sent = Instant::now();
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), s));
            }
            let until_heartbeat = heartbeat.saturating_sub(s.last_sent.elapsed());
            let until_check = heartbeat.saturating_sub(s.last_check.elapsed());
            let wait = POLL.min(until_heartbeat).min(until_check);
            let close = s.slot.close.clone();
            tokio::select! {
                _ = s.wake.changed() => {}
                _ = s.shutdown.changed() => {}
                () = close.notified() => { s.done = true; }
                () = actix_web::rt::time::sleep(wait) => {}
            }
        }
    })
}
