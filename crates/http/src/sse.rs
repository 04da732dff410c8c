//! Server-Sent Event streams of the event log (API section 11): the per-process hub (wake-ups,
//! stream limits, shutdown) and the stream itself.
//!
//! Idle streams cost no query, and an event costs one query per process, not one per stream.
//! While a property has open streams in this process, one watcher task reads that property's
//! new events (below the readable horizon, one index range) every 500 ms, and when a `NOTIFY`
//! for the property arrives (relayed by the server's listener) at once and then every 25 ms
//! for 500 ms, since an event becomes readable only when the transactions older than its
//! commit have ended. What it reads it hands to the property's streams as one [`Batch`]; each
//! stream keeps what its viewer may see (`Event::visible_to`: its audience, and never a
//! staff-only event for a guest). A waiting stream holds no
//! connection. `NOTIFY` only wakes the watcher: the table is the truth, so a lost notification
//! delays delivery by at most the poll interval.
//!
//! Nothing is skipped and nothing sent twice: a batch holds every event of the property in
//! `(from, to]`. A stream standing at or after `from` takes the events after its cursor and
//! stands at `to`; a stream standing before it (it resumed from an old cursor, or started
//! before the watcher did, or fell more than 64 batches behind) reads the table itself, which
//! covers the batch, then stands at `to`. A stream also reads the table once per heartbeat, so
//! a watcher that failed cannot hold it back for good.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, Instant},
};

use actix_web::web::Bytes;
use bellhop_domain::{
    conversation::{Conversation, ConversationStatus, MessageType, Viewer},
    event::ConversationEvent,
    events::{Event, EventCursor, EventLog},
    ports::RepoResult,
    session::SessionId,
    staff::StaffScope,
};
use futures_util::Stream;
use serde_json::{json, Map, Value};
use tokio::sync::{broadcast, watch, Notify};

use crate::{
    dto::{
        AssigneeDto, ConversationDto, MessageDto, NoteDto, StaffConversationDto, StaffMessageDto,
    },
    wire::envelope::wire_date,
};

/// How often a property's watcher reads its new events without a wake-up.
const POLL: Duration = Duration::from_millis(500);
/// How often a watcher reads for [`POLL`] after a `NOTIFY`. A notification comes
/// at the writer's commit, but its event only becomes readable once every transaction that
/// started before that commit has ended (on a busy cluster there nearly always is one): the
/// first read often comes too early, and the next poll would cost up to [`POLL`].
const EAGER: Duration = Duration::from_millis(25);
/// Batches a stream may fall behind by before it reads the table itself.
const BATCHES: usize = 64;
/// Events read per query.
const BATCH: i64 = 200;

/// Stream settings from configuration.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub heartbeat: Duration,
    /// How long events stay replayable: a cursor older than this gets `reset`.
    pub retention: Duration,
    pub max_streams: usize,
    pub max_per_session: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(15),
            retention: Duration::from_secs(604_800),
            max_streams: 10_000,
            max_per_session: 5,
        }
    }
}

/// A session's open streams in this process, oldest first: (stream id, its closer).
type SessionStreams = VecDeque<(u64, Arc<Notify>)>;

/// Every event of a property in `(from, to]`, in log order, as its watcher read them once
/// for all the property's streams in this process.
pub struct Batch {
    from: EventCursor,
    to: EventCursor,
    events: Vec<Event>,
    /// Each event's frame, rendered once per side for all the streams that take it.
    guest_frames: OnceLock<Vec<Bytes>>,
    staff_frames: OnceLock<Vec<Bytes>>,
}

impl Batch {
    fn new(from: EventCursor, to: EventCursor, events: Vec<Event>) -> Self {
        Self {
            from,
            to,
            events,
            guest_frames: OnceLock::new(),
            staff_frames: OnceLock::new(),
        }
    }

    fn frames(&self, side: &Side) -> &[Bytes] {
        let cell = match side {
            Side::Guest => &self.guest_frames,
            Side::Staff => &self.staff_frames,
        };
        cell.get_or_init(|| {
            self.events
                .iter()
                .map(|event| {
                    let data = render(event, side);
                    frame(Some(event.cursor), event.payload.type_name(), &data)
                })
                .collect()
        })
    }
}

/// A property's watcher, as the hub keeps it while the property has streams here.
struct PropertyWatch {
    /// The property's new events; the streams hold its receivers.
    batches: broadcast::Sender<Arc<Batch>>,
    /// Makes the watcher read now (a `NOTIFY` arrived).
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

    /// Makes the property's watcher read now (a `NOTIFY` arrived).
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

    /// The property's batches, starting its watcher if it has none.
    fn subscribe(
        self: &Arc<Self>,
        log: &Arc<dyn EventLog>,
        property_id: i64,
    ) -> broadcast::Receiver<Arc<Batch>> {
        let Ok(mut watches) = self.watches.lock() else {
            return broadcast::channel(1).1;
        };
        if let Some(watch) = watches.get(&property_id) {
            return watch.batches.subscribe();
        }
        let (sender, receiver) = broadcast::channel(BATCHES);
        let watch = PropertyWatch {
            batches: sender.clone(),
            poke: Arc::new(Notify::new()),
        };
        // A plain tokio task (the watcher is `Send`): it runs on whichever runtime opened the
        // first stream, actix worker or not, and needs no `LocalSet`.
        tokio::spawn(
            self.clone()
                .watch(log.clone(), property_id, sender, watch.poke.clone()),
        );
        watches.insert(property_id, watch);
        receiver
    }

    /// A property's watcher: reads the property's new events every [`POLL`] or when poked,
    /// hands them to its streams as one [`Batch`], and ends (leaving the map) when the
    /// property's last stream has gone.
    async fn watch(
        self: Arc<Self>,
        log: Arc<dyn EventLog>,
        property_id: i64,
        batches: broadcast::Sender<Arc<Batch>>,
        poke: Arc<Notify>,
    ) {
        let mut shutdown = self.shutdown.subscribe();
        let everyone = Viewer::Staff(StaffScope {
            property_id,
            outlet_ids: None,
        });
        // Where the watcher has read up to; `None` until it has asked where the log ends.
        let mut position: Option<EventCursor> = None;
        // Until when to read every [`EAGER`] (a notification arrived).
        let mut eager_until: Option<Instant> = None;
        loop {
            {
                // Under the map's lock, so a stream cannot subscribe between the check and
                // the removal.
                let Ok(mut watches) = self.watches.lock() else {
                    return;
                };
                if batches.receiver_count() == 0 || *shutdown.borrow() {
                    if watches
                        .get(&property_id)
                        .is_some_and(|w| w.batches.same_channel(&batches))
                    {
                        watches.remove(&property_id);
                    }
                    return;
                }
            }
            // An error (the database is away) leaves the position alone: the next poll reads
            // from the same place.
            let mut full = false;
            match position {
                // Everything after "now" comes in batches; a stream that stands before it
                // reads the table once when the first batch comes (`Batch::from`).
                None => position = log.current_cursor().await.ok(),
                Some(from) => {
                    if let Ok(events) = log.read_events(&everyone, from, BATCH).await {
                        if let Some(last) = events.last() {
                            full = events.len() as i64 >= BATCH;
                            let to = last.cursor;
                            position = Some(to);
                            let _ = batches.send(Arc::new(Batch::new(from, to, events)));
                        }
                    }
                }
            }
            if full {
                continue;
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
        retention: Duration,
    ) -> RepoResult<Self> {
        let Some(raw) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(Self::Ready(log.current_cursor().await?));
        };
        if let Some(cursor) = EventCursor::parse(raw) {
            if log.cursor_is_valid(property_id, cursor, retention).await? {
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
    batches: broadcast::Receiver<Arc<Batch>>,
    /// A batch came that starts after the stream's cursor: once a complete read of the
    /// table (which covers the batch) is done, the stream stands at its end.
    sync_to: Option<EventCursor>,
    shutdown: watch::Receiver<bool>,
    slot: Slot,
    last_sent: Instant,
    last_check: Instant,
    /// The log may hold events for this stream it has not read: at the start, after the
    /// batch started after its cursor, after a full read, on the heartbeat, after a failure.
    stale: bool,
    /// The last read failed: retry after [`POLL`] rather than at once.
    failed: bool,
    done: bool,
}

impl StreamState {
    /// Sends the batch's events this stream may see and has not had, when the batch
    /// continues from where the stream stands; else reads the table first.
    fn take(&mut self, batch: &Batch) {
        if self.cursor < batch.from {
            self.stale = true;
            self.sync_to = Some(self.sync_to.map_or(batch.to, |to| to.max(batch.to)));
            return;
        }
        let frames = batch.frames(&self.side);
        for (event, frame) in batch.events.iter().zip(frames) {
            if event.cursor > self.cursor && event.visible_to(&self.viewer) {
                self.pending.push_back(frame.clone());
                self.last_sent = Instant::now();
            }
        }
        self.cursor = self.cursor.max(batch.to);
    }
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
    data.insert("conversationCode".into(), json!(event.conversation_code()));
    let to_value = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
    match &event.payload {
        ConversationEvent::Created { conversation: c } => {
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
        ConversationEvent::MessageAdded { message: m, .. } => {
            let message = match side {
                Side::Guest => serde_json::to_value(MessageDto::from(m.clone())),
                Side::Staff => serde_json::to_value(StaffMessageDto::from(m.clone())),
            };
            data.insert("message".into(), to_value(message));
        }
        ConversationEvent::Read {
            read_by,
            last_read_message_code,
            ..
        } => {
            data.insert("readBy".into(), json!(read_by.as_str()));
            data.insert("lastReadMessageCode".into(), json!(last_read_message_code));
        }
        ConversationEvent::Closed { .. } | ConversationEvent::Reopened { .. } => {
            let status = event.payload.status().map(ConversationStatus::as_str);
            data.insert("conversationStatus".into(), json!(status));
        }
        // Staff only: never delivered to a guest stream (`Event::visible_to`).
        ConversationEvent::Assigned { assignee, .. } => {
            data.insert(
                "assignee".into(),
                to_value(serde_json::to_value(
                    assignee.clone().map(AssigneeDto::from),
                )),
            );
        }
        ConversationEvent::NoteCreated { note, .. } => {
            data.insert(
                "note".into(),
                to_value(serde_json::to_value(NoteDto::from(note.clone()))),
            );
        }
        ConversationEvent::Overdue { reply_due_at, .. } => {
            data.insert("replyDueAt".into(), json!(wire_date(reply_due_at)));
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
    let batches = events.hub.subscribe(&events.log, viewer.property_id());
    let shutdown = events.hub.shutdown.subscribe();
    let now = Instant::now();
    let state = StreamState {
        events,
        viewer,
        side,
        recheck,
        cursor,
        pending,
        batches,
        sync_to: None,
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
                match s.events.log.read_events(&s.viewer, s.cursor, BATCH).await {
                    Ok(batch) => {
                        s.stale = batch.len() as i64 >= BATCH;
                        if !s.stale {
                            // The read saw everything the watcher had seen when it sent the
                            // batch that asked for it.
                            if let Some(to) = s.sync_to.take() {
                                s.cursor = s.cursor.max(to);
                            }
                        }
                        if let Some(last) = batch.last() {
                            s.cursor = s.cursor.max(last.cursor);
                            // The store already filtered by viewer; staff-only events are
                            // checked again so that a guest can never be sent one.
                            for event in batch.iter().filter(|e| e.visible_to(&s.viewer)) {
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
                got = s.batches.recv() => match got {
                    Ok(batch) => s.take(&batch),
                    // Fell behind: the table has what was missed.
                    Err(broadcast::error::RecvError::Lagged(_)) => s.stale = true,
                    Err(broadcast::error::RecvError::Closed) => {
                        // The watcher ended (the process is stopping, or it failed): the
                        // loop's top ends the stream on shutdown, else a new watcher starts.
                        s.stale = true;
                        let property_id = s.viewer.property_id();
                        s.batches = s.events.hub.subscribe(&s.events.log, property_id);
                    }
                },
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
    use bellhop_domain::{
        events::Audience, property::PropertyId, staff::StaffScope, RepositoryError,
    };
    use chrono::{DateTime, Utc};
    use futures_util::StreamExt;

    use super::*;

    /// A log whose events the test appends; it counts the reads.
    #[derive(Default)]
    struct CountingLog {
        reads: AtomicUsize,
        events: Mutex<Vec<Event>>,
        down: AtomicBool,
    }

    impl CountingLog {
        fn check(&self) -> RepoResult<()> {
            if self.down.load(Ordering::SeqCst) {
                return Err(RepositoryError::Unavailable("connection refused".into()));
            }
            Ok(())
        }

        fn append(&self, xid: u64, outlet_id: i64) {
            self.events.lock().unwrap().push(Event {
                cursor: EventCursor {
                    xid,
                    id: i64::try_from(xid).unwrap(),
                },
                created_at: Utc::now(),
                payload: ConversationEvent::Closed {
                    conversation_code: format!("C{xid}"),
                },
                audience: Audience {
                    outlet_id,
                    stay_id: None,
                    guest_identifier: None,
                },
            });
        }
    }

    #[async_trait]
    impl EventLog for CountingLog {
        async fn current_cursor(&self) -> RepoResult<EventCursor> {
            self.check()?;
            Ok(EventCursor { xid: 10, id: 0 })
        }
        async fn cursor_is_valid(
            &self,
            _: PropertyId,
            _: EventCursor,
            _: std::time::Duration,
        ) -> RepoResult<bool> {
            self.check()?;
            Ok(true)
        }
        async fn read_events(
            &self,
            viewer: &Viewer,
            after: EventCursor,
            limit: i64,
        ) -> RepoResult<Vec<Event>> {
            self.check()?;
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.cursor > after && e.audience.admits(viewer))
                .take(usize::try_from(limit).unwrap())
                .cloned()
                .collect())
        }
        async fn purge_events(&self, _: DateTime<Utc>, _: i64) -> RepoResult<u64> {
            Ok(0)
        }
    }

    fn staff(outlet_ids: Option<Vec<i64>>) -> Viewer {
        Viewer::Staff(StaffScope {
            property_id: 1,
            outlet_ids,
        })
    }

    /// Opens `n` streams of `viewer`, each counting the `conversation.closed` it receives.
    fn open_streams(events: &Events, viewer: &Viewer, n: usize) -> Arc<AtomicUsize> {
        let received = Arc::new(AtomicUsize::new(0));
        for _ in 0..n {
            let slot = events.hub.open(None).unwrap();
            let recheck: Recheck = Box::new(|| Box::pin(async { true }));
            let start = Start::Ready(EventCursor { xid: 10, id: 0 });
            let body = stream(
                events.clone(),
                viewer.clone(),
                Side::Staff,
                start,
                recheck,
                slot,
            );
            let received = received.clone();
            actix_web::rt::spawn(async move {
                let mut body = Box::pin(body);
                while let Some(Ok(chunk)) = body.next().await {
                    if chunk.starts_with(b"id: ") {
                        received.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        received
    }

    async fn settle(millis: u64) {
        actix_web::rt::time::sleep(Duration::from_millis(millis)).await;
    }

    #[actix_web::test]
    async fn idle_streams_query_nothing_and_an_event_is_read_once_for_all_of_them() {
        let log = Arc::new(CountingLog::default());
        let hub = Arc::new(Hub::new(StreamLimits {
            heartbeat: Duration::from_secs(60),
            ..StreamLimits::default()
        }));
        let events = Events {
            log: log.clone(),
            hub: hub.clone(),
        };
        let everyone = open_streams(&events, &staff(None), 150);
        let bar = open_streams(&events, &staff(Some(vec![2])), 50);
        settle(1_300).await;
        // One read each to start, and one watcher polling: not 200 pollers.
        let reads = log.reads.load(Ordering::SeqCst);
        assert!((201..=204).contains(&reads), "{reads} reads");
        assert_eq!(hub.watched_properties(), 1);

        log.append(11, 1);
        log.append(12, 2);
        hub.wake(1);
        settle(100).await;
        // `ready`, then each event once, and the bar key only the bar's.
        assert_eq!(everyone.load(Ordering::SeqCst), 150 * 3);
        assert_eq!(bar.load(Ordering::SeqCst), 50 * 2);
        let after = log.reads.load(Ordering::SeqCst);
        // The watcher's reads (every 25 ms after the wake-up), not 200 streams'.
        assert!(after - reads <= 6, "{} reads for one event", after - reads);

        hub.shut_down();
        settle(700).await;
        assert_eq!(hub.open_streams(), 0);
        assert_eq!(hub.watched_properties(), 0);
    }

    #[actix_web::test]
    async fn a_stream_cannot_start_without_the_database() {
        let log = CountingLog::default();
        assert!(matches!(
            Start::resolve(&log, 1, None, Duration::from_secs(60)).await,
            Ok(Start::Ready(_))
        ));
        log.down.store(true, Ordering::SeqCst);
        for cursor in [None, Some("12-3"), Some("garbage")] {
            assert!(matches!(
                Start::resolve(&log, 1, cursor, Duration::from_secs(60)).await,
                Err(RepositoryError::Unavailable(_))
            ));
        }
    }
}
