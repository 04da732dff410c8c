//! Server-Sent Event streams of the event log (API section 11): the per-process hub (wake-ups,
//! stream limits, shutdown) and the stream itself.
//!
//! Idle streams cost no query. While a property has open streams in this process, one
//! watcher task reads that property's log head ([`EventLog::head`], one index entry) every
//! 500 ms, and when a `NOTIFY` for the property arrives (relayed by the server's listener) at
//! once and then every 25 ms for 500 ms, since the event becomes readable only when the
//! transactions older than its commit have ended; when the head moves it bumps the property's generation, and only then do the
//! property's streams read their events (a pooled connection for one query each). A waiting
//! stream holds no connection. `NOTIFY` only wakes the watcher: the table is the truth, so a
//! lost notification delays delivery by at most the poll interval. Each stream also reads
//! once per heartbeat on its own, so a watcher that failed cannot hold a stream back for good.
//!
//! Nothing is skipped: a stream notes the generation *before* it reads, and its read takes a
//! later snapshot than the head the watcher saw, so whatever the watcher saw the stream reads;
//! whatever becomes readable after the read moves the head and bumps the generation again.

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
    ports::RepoResult,
    session::SessionId,
};
use futures_util::Stream;
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify};

use crate::dto::{ConversationDto, MessageDto, StaffConversationDto};

/// How often a property's watcher reads its log head without a wake-up.
const POLL: Duration = Duration::from_millis(500);
/// How often a watcher reads the head for [`POLL`] after a `NOTIFY`. A notification comes
/// at the writer's commit, but its event only becomes readable once every transaction that
/// started before that commit has ended (on a busy cluster there nearly always is one): the
/// first read often comes too early, and the next poll would cost up to [`POLL`].
const EAGER: Duration = Duration::from_millis(25);
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

/// A property's watcher, as the hub keeps it while the property has streams here.
struct PropertyWatch {
    /// Bumped when the property's log head moved; the streams hold its receivers.
    generation: Arc<watch::Sender<u64>>,
    /// Makes the watcher read the head now (a `NOTIFY` arrived).
    poke: Arc<Notify>,
}

/// What every stream of a process shares.
pub struct Hub {
    pub limits: StreamLimits,
    watches: Mutex<HashMap<i64, PropertyWatch>>,
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
            watches: Mutex::default(),
            shutdown: watch::channel(false).0,
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            sessions: Mutex::default(),
        }
    }

    /// Makes the property's watcher read the log head now (a `NOTIFY` arrived).
    pub fn wake(&self, property_id: i64) {
        if let Ok(watches) = self.watches.lock() {
            if let Some(watch) = watches.get(&property_id) {
                watch.poke.notify_one();
            }
        }
    }

    /// Makes every watcher read now (the listener reconnected and may have missed
    /// notifications).
    pub fn wake_all(&self) {
        if let Ok(watches) = self.watches.lock() {
            for watch in watches.values() {
                watch.poke.notify_one();
            }
        }
    }

    /// How many properties have a watcher in this process (one per property with streams).
    pub fn watched_properties(&self) -> usize {
        self.watches.lock().map_or(0, |w| w.len())
    }

    /// Ends every stream (the server is stopping).
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The property's generation, starting its watcher if it has none.
    fn subscribe(
        self: &Arc<Self>,
        log: &Arc<dyn EventLog>,
        property_id: i64,
    ) -> watch::Receiver<u64> {
        let Ok(mut watches) = self.watches.lock() else {
            return watch::channel(0).1;
        };
        if let Some(watch) = watches.get(&property_id) {
            return watch.generation.subscribe();
        }
        let (sender, receiver) = watch::channel(0);
        let watch = PropertyWatch {
            generation: Arc::new(sender),
            poke: Arc::new(Notify::new()),
        };
        actix_web::rt::spawn(self.clone().watch(
            log.clone(),
            property_id,
            watch.generation.clone(),
            watch.poke.clone(),
        ));
        watches.insert(property_id, watch);
        receiver
    }

    /// A property's watcher: reads the head every [`POLL`] or when poked, bumps the generation
    /// when it moved, and ends (leaving the map) when the property's last stream has gone.
    async fn watch(
        self: Arc<Self>,
        log: Arc<dyn EventLog>,
        property_id: i64,
        generation: Arc<watch::Sender<u64>>,
        poke: Arc<Notify>,
    ) {
        let mut shutdown = self.shutdown.subscribe();
        // `None` until the first read: the first head seen counts as a move.
        let mut last: Option<Option<EventCursor>> = None;
        // Until when to read every [`EAGER`] (a notification arrived).
        let mut eager_until: Option<Instant> = None;
        loop {
            {
                // Under the map's lock, so a stream cannot subscribe between the check and
                // the removal.
                let Ok(mut watches) = self.watches.lock() else {
                    return;
                };
                if generation.receiver_count() == 0 || *shutdown.borrow() {
                    if watches
                        .get(&property_id)
                        .is_some_and(|w| Arc::ptr_eq(&w.generation, &generation))
                    {
                        watches.remove(&property_id);
                    }
                    return;
                }
            }
            // An error (the database is away) leaves the generation alone; streams re-read
            // on their heartbeat, and the next poll tries again.
            if let Ok(head) = log.head(property_id).await {
                if last != Some(head) {
                    last = Some(head);
                    generation.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
            let wait = match eager_until {
                Some(until) if Instant::now() < until => EAGER,
                _ => POLL,
            };
            tokio::select! {
                () = poke.notified() => { eager_until = Some(Instant::now() + POLL); }
                _ = shutdown.changed() => {}
                () = actix_web::rt::time::sleep(wait) => {}
            }
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

/// Where a stream starts, from the cursor the client sent (if any): `ready` or `reset` at
/// the current position, or after the client's cursor.
pub enum Start {
    Ready(EventCursor),
    Reset(EventCursor),
    After(EventCursor),
}

impl Start {
    /// Fails when the database cannot say where "now" is, or whether the cursor is still
    /// good: a stream that starts anyway could promise nothing.
    pub async fn resolve(
        log: &dyn EventLog,
        property_id: i64,
        cursor: Option<&str>,
    ) -> RepoResult<Self> {
        let Some(raw) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(Self::Ready(log.current_cursor().await?));
        };
        if let Some(cursor) = EventCursor::parse(raw) {
            if log.cursor_is_valid(property_id, cursor).await? {
                return Ok(Self::After(cursor));
            }
        }
        Ok(Self::Reset(log.current_cursor().await?))
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
    /// The log may hold events for this stream it has not read: at the start, after the
    /// generation moved, after a full batch, on the heartbeat, and after a failed read.
    stale: bool,
    /// The last read failed: retry after [`POLL`] rather than at once.
    failed: bool,
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
pub fn stream(
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
        Start::Ready(now) => {
            pending.push_back(frame(Some(now), "ready", &json!({ "type": "ready" })));
            now
        }
        Start::Reset(now) => {
            pending.push_back(frame(Some(now), "reset", &json!({ "type": "reset" })));
            now
        }
    };
    let wake = events.hub.subscribe(&events.log, viewer.property_id());
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
        stale: true,
        failed: false,
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
                s.stale = true;
                if !(s.recheck)().await {
                    s.done = true;
                    s.pending.push_back(Bytes::from_static(
                        b"event: session.ended\ndata: {\"type\":\"session.ended\"}\n\n",
                    ));
                    continue;
                }
            }
            if s.stale && !s.failed {
                // Noted before the read: a move after it wakes this stream again.
                s.wake.borrow_and_update();
                match s.events.log.read_events(&s.viewer, s.cursor, BATCH).await {
                    Ok(batch) => {
                        s.stale = batch.len() as i64 >= BATCH;
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
                    Err(_) => s.failed = true,
                }
            }
            if s.last_sent.elapsed() >= heartbeat {
                s.last_sent = Instant::now();
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), s));
            }
            let until_heartbeat = heartbeat.saturating_sub(s.last_sent.elapsed());
            let until_check = heartbeat.saturating_sub(s.last_check.elapsed());
            let mut wait = until_heartbeat.min(until_check);
            if s.failed {
                wait = wait.min(POLL);
            }
            let close = s.slot.close.clone();
            tokio::select! {
                moved = s.wake.changed() => {
                    s.stale = true;
                    if moved.is_err() {
                        // The watcher ended (the process is stopping, or it failed): the
                        // loop's top ends the stream on shutdown, else a new watcher starts.
                        let property_id = s.viewer.property_id();
                        s.wake = s.events.hub.subscribe(&s.events.log, property_id);
                    }
                }
                _ = s.shutdown.changed() => {}
                () = close.notified() => { s.done = true; }
                () = actix_web::rt::time::sleep(wait) => { s.failed = false; }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use async_trait::async_trait;
    use bellhop_domain::{property::PropertyId, staff::StaffScope, RepositoryError};
    use chrono::{DateTime, Utc};
    use futures_util::StreamExt;

    use super::*;

    /// A log with no events that counts its queries; its head is set by the test.
    #[derive(Default)]
    struct CountingLog {
        heads: AtomicUsize,
        reads: AtomicUsize,
        head: Mutex<Option<EventCursor>>,
        down: AtomicBool,
    }

    impl CountingLog {
        fn check(&self) -> RepoResult<()> {
            if self.down.load(Ordering::SeqCst) {
                return Err(RepositoryError::Unavailable("connection refused".into()));
            }
            Ok(())
        }
    }

    #[async_trait]
    impl EventLog for CountingLog {
        async fn current_cursor(&self) -> RepoResult<EventCursor> {
            self.check()?;
            Ok(EventCursor { xid: 10, id: 0 })
        }
        async fn cursor_is_valid(&self, _: PropertyId, _: EventCursor) -> RepoResult<bool> {
            self.check()?;
            Ok(true)
        }
        async fn read_events(&self, _: &Viewer, _: EventCursor, _: i64) -> RepoResult<Vec<Event>> {
            self.check()?;
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }
        async fn head(&self, _: PropertyId) -> RepoResult<Option<EventCursor>> {
            self.check()?;
            self.heads.fetch_add(1, Ordering::SeqCst);
            Ok(*self.head.lock().unwrap())
        }
        async fn purge_events(&self, _: DateTime<Utc>, _: i64) -> RepoResult<u64> {
            Ok(0)
        }
    }

    fn staff(property_id: PropertyId) -> Viewer {
        Viewer::Staff(StaffScope {
            property_id,
            outlet_ids: None,
        })
    }

    fn open_streams(events: &Events, property_id: PropertyId, n: usize) {
        for _ in 0..n {
            let slot = events.hub.open(None).unwrap();
            let recheck: Recheck = Box::new(|| Box::pin(async { true }));
            let start = Start::Ready(EventCursor { xid: 10, id: 0 });
            let body = stream(
                events.clone(),
                staff(property_id),
                Side::Staff,
                start,
                recheck,
                slot,
            );
            actix_web::rt::spawn(async move {
                let mut body = Box::pin(body);
                while body.next().await.is_some() {}
            });
        }
    }

    async fn settle(millis: u64) {
        actix_web::rt::time::sleep(Duration::from_millis(millis)).await;
    }

    #[actix_web::test]
    async fn idle_streams_query_nothing_and_read_once_each_when_the_head_moves() {
        let log = Arc::new(CountingLog::default());
        let hub = Arc::new(Hub::new(StreamLimits {
            heartbeat: Duration::from_secs(60),
            ..StreamLimits::default()
        }));
        let events = Events {
            log: log.clone(),
            hub: hub.clone(),
        };
        open_streams(&events, 1, 200);
        settle(1_300).await;
        // One read each to start, and one watcher polling the head: not 200 pollers.
        assert_eq!(log.reads.load(Ordering::SeqCst), 200);
        let heads = log.heads.load(Ordering::SeqCst);
        assert!((2..=5).contains(&heads), "{heads} head queries");
        assert_eq!(hub.watched_properties(), 1);

        *log.head.lock().unwrap() = Some(EventCursor { xid: 11, id: 1 });
        hub.wake(1);
        settle(100).await;
        assert_eq!(log.reads.load(Ordering::SeqCst), 400);

        hub.shut_down();
        settle(700).await;
        assert_eq!(hub.open_streams(), 0);
        assert_eq!(hub.watched_properties(), 0);
    }

    #[actix_web::test]
    async fn a_stream_cannot_start_without_the_database() {
        let log = CountingLog::default();
        assert!(matches!(
            Start::resolve(&log, 1, None).await,
            Ok(Start::Ready(_))
        ));
        log.down.store(true, Ordering::SeqCst);
        for cursor in [None, Some("12-3"), Some("garbage")] {
            assert!(matches!(
                Start::resolve(&log, 1, cursor).await,
                Err(RepositoryError::Unavailable(_))
            ));
        }
    }
}
