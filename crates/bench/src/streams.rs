//! Event streams (issue #15): what idle streams cost a server process, and how long an event
//! takes from its write's answer to a staff stream.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
};

use crate::client::{self, Connection};

const STAFF_KEY: &str = "demo-staff-key";

#[derive(Serialize)]
pub struct StreamsReport {
    pub idle_streams: usize,
    pub server_rss_mib_before: f64,
    pub server_rss_mib_with_idle_streams: f64,
    /// `bellhop_db_pool_connections{state="in_use"}` with the streams open and idle.
    pub pool_in_use_with_idle_streams: f64,
    pub writes: usize,
    pub write_rate_per_second: f64,
    pub delivery_ms_p50: f64,
    pub delivery_ms_p99: f64,
    pub delivery_ms_max: f64,
    /// Events that never arrived within 5 s.
    pub lost: usize,
    /// Guest create-conversation load running while the writes were timed (its events reach
    /// every open stream too), if any: as achieved.
    pub background_load: Option<crate::stats::Summary>,
}

/// Starts the background load when the timed writes begin; its summary comes back at the end.
pub type Background =
    Box<dyn FnOnce(Duration) -> tokio::task::JoinHandle<crate::stats::Summary> + Send>;

/// Opens a staff stream and waits for its `ready`.
async fn open_stream(address: &str) -> std::io::Result<TcpStream> {
    open_stream_with(address, STAFF_KEY).await
}

/// Opens a staff stream with `key` and waits for its `ready`.
async fn open_stream_with(address: &str, key: &str) -> std::io::Result<TcpStream> {
    let mut socket = TcpStream::connect(address).await?;
    socket
        .write_all(
            format!(
                "GET /staff/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                 Authorization: Bearer {key}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("event: ready") {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&seen).into_owned(),
            ));
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(socket)
}

async fn pool_in_use(address: &str) -> f64 {
    let mut connection = Connection::new(address);
    let Ok((_, body)) = connection.send(&client::get("/metrics")).await else {
        return f64::NAN;
    };
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(r#"bellhop_db_pool_connections{state="in_use"} "#))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Opens `idle` staff streams (64 at a time) and reads the server's memory and pool, then
/// writes `writes` staff replies at `rate` per second and times each one from its 2xx to its
/// `message.created` on one more stream.
pub async fn measure(
    address: &str,
    idle: usize,
    writes: usize,
    rate: f64,
    rss_kib: impl Fn() -> u64,
    background: Option<Background>,
) -> anyhow::Result<StreamsReport> {
    let before = rss_kib() as f64 / 1024.0;
    let mut streams = Vec::with_capacity(idle);
    let mut opened = 0;
    while opened < idle {
        let batch = (idle - opened).min(64);
        let tasks: Vec<_> = (0..batch)
            .map(|_| tokio::spawn(open_stream_owned(address.to_owned())))
            .collect();
        for task in tasks {
            streams.push(task.await??);
        }
        opened += batch;
        if opened % 1000 < 64 {
            eprintln!("  {opened} streams open");
        }
    }
    // Let any start-up reads finish before measuring the resting state.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let with_idle = rss_kib() as f64 / 1024.0;
    let in_use = pool_in_use(address).await;
    eprintln!("  {idle} idle streams: RSS {before:.1} -> {with_idle:.1} MiB, pool in use {in_use}");

    // A conversation with the demo guest of room 101, and a stream that times its events.
    let mut connection = Connection::new(address);
    let body = json!({"roomNumber": "101", "outletCode": "CONCIERGE", "content": "Benchmark"});
    let (status, reply) = connection
        .send(&staff_post("/staff/v1/conversations", &body.to_string()))
        .await?;
    anyhow::ensure!(status == 201, "create answered {status}");
    let reply: Value = serde_json::from_slice(&reply)?;
    let code = reply["conversation"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut timed = open_stream(address).await?;
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel::<(usize, Instant)>();
    let reader = tokio::spawn(async move {
        let mut text = String::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = timed.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let now = Instant::now();
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            while let Some(at) = text.find("bench-event-") {
                let rest = &text[at + 12..];
                let end = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                if end == rest.len() {
                    break;
                }
                if let Ok(n) = rest[..end].parse() {
                    let _ = arrived_tx.send((n, now));
                }
                text.drain(..at + 12 + end);
            }
        }
    });
    let path = format!("/staff/v1/conversations/{code}/messages");
    let mut answered = vec![None; writes];
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let background = background.map(|start| start(interval * writes as u32));
    let mut next = Instant::now();
    for (n, slot) in answered.iter_mut().enumerate() {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        let body = json!({"content": format!("bench-event-{n} ")}).to_string();
        let (status, _) = connection.send(&staff_post(&path, &body)).await?;
        if (200..300).contains(&status) {
            *slot = Some(Instant::now());
        }
    }
    let mut arrivals = vec![None; writes];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while arrivals.iter().any(Option::is_none) {
        match tokio::time::timeout_at(deadline, arrived.recv()).await {
            Ok(Some((n, at))) if n < writes => arrivals[n] = Some(at),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    reader.abort();
    let background_load = match background {
        Some(task) => Some(task.await?),
        None => None,
    };
    let mut delays: Vec<f64> = answered
        .iter()
        .zip(&arrivals)
        .filter_map(|(sent, got)| Some(got.as_ref()?.saturating_duration_since(*sent.as_ref()?)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    delays.sort_by(f64::total_cmp);
    drop(streams);
    Ok(StreamsReport {
        idle_streams: idle,
        server_rss_mib_before: before,
        server_rss_mib_with_idle_streams: with_idle,
        pool_in_use_with_idle_streams: in_use,
        writes,
        write_rate_per_second: rate,
        delivery_ms_p50: percentile(&delays, 50.0),
        delivery_ms_p99: percentile(&delays, 99.0),
        delivery_ms_max: delays.last().copied().unwrap_or(f64::NAN),
        lost: writes - delays.len(),
        background_load,
    })
}

async fn open_stream_owned(address: String) -> std::io::Result<TcpStream> {
    open_stream(&address).await
}

fn staff_post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {STAFF_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Staff streams that count the events they receive (`ready` and heartbeats aside).
pub struct EventCounters {
    counts: Vec<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl EventCounters {
    /// Opens `n` staff streams of `key` (64 at a time), each past its `ready`.
    pub async fn open(address: &str, key: &str, n: usize) -> anyhow::Result<Self> {
        let mut counters = Self {
            counts: Vec::new(),
            readers: Vec::new(),
        };
        let mut opened = 0;
        while opened < n {
            let batch = (n - opened).min(64);
            let tasks: Vec<_> = (0..batch)
                .map(|_| {
                    let (address, key) = (address.to_owned(), key.to_owned());
                    tokio::spawn(async move { open_stream_with(&address, &key).await })
                })
                .collect();
            for task in tasks {
                let mut socket = task.await??;
                let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let counted = count.clone();
                counters.readers.push(tokio::spawn(async move {
                    let mut tail = String::new();
                    let mut buf = [0u8; 16384];
                    while let Ok(read) = socket.read(&mut buf).await {
                        if read == 0 {
                            break;
                        }
                        tail.push_str(&String::from_utf8_lossy(&buf[..read]));
                        let found = tail.matches("\nevent: ").count() as u64;
                        counted.fetch_add(found, std::sync::atomic::Ordering::Relaxed);
                        // Keep what could be the start of a split marker (one byte short of
                        // a whole one, which was counted).
                        let keep = tail.len().saturating_sub(7);
                        let keep = (keep..=tail.len())
                            .find(|&i| tail.is_char_boundary(i))
                            .unwrap_or(tail.len());
                        tail.drain(..keep);
                    }
                }));
                counters.counts.push(count);
            }
            opened += batch;
        }
        Ok(counters)
    }

    /// Waits until every stream has `expected` events (or `patience` passes); returns each
    /// stream's count and closes them.
    pub async fn settle(self, expected: u64, patience: Duration) -> Vec<u64> {
        let deadline = Instant::now() + patience;
        let read = |c: &std::sync::Arc<std::sync::atomic::AtomicU64>| {
            c.load(std::sync::atomic::Ordering::Relaxed)
        };
        while Instant::now() < deadline && self.counts.iter().any(|c| read(c) < expected) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // A moment more, so that a duplicate would show.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let counts = self.counts.iter().map(read).collect();
        for reader in self.readers {
            reader.abort();
        }
        counts
    }
}

/// How many events the log holds for the generated property the soak's guests are in.
pub async fn events_in_log(db_url: &str) -> anyhow::Result<u64> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(db_url).await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events e JOIN properties p ON p.id = e.property_id
          WHERE p.code = 'BENCH-0'",
    )
    .fetch_one(&mut connection)
    .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
