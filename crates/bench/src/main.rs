//! `bellhop-bench`: starts the release server against a fresh database loaded with the demo
//! data plus a generated data set, drives `POST .../Messages/Conversations` at a fixed
//! concurrency for a fixed time, measures the database's floor with pgbench doing the same SQL
//! work, and writes JSON and Markdown results under `bench/results/`.
//!
//! Everything runs on this machine, against 127.0.0.1 only, and stops by itself.

mod client;
mod history;
mod hostile;
mod reply_clock;
mod stats;
mod streams;
mod webhooks;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use clap::Parser;
use serde::Serialize;
use serde_json::{json, Value};
use stats::{summarise, Summary};
use tokio::process::{Child, Command};

use crate::client::Connection;

const CREATE: &str = "/API/V40/Interactive/Messages/Conversations";
const SECRET: &str = "bellhop-benchmark-secret-0123456789abcdef";
const INTERFACE_TOKEN: &str = "bench-interface-token";

#[derive(Parser, Debug, Clone, Serialize)]
#[command(about = "Load benchmark of Bellhop's create-conversation endpoint")]
struct Args {
    /// How long each load phase runs (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    #[serde(serialize_with = "as_secs")]
    duration: Duration,
    /// Concurrent connections of the load generator (and pgbench clients).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Generated properties (besides the demo one).
    #[arg(long, default_value_t = 1)]
    properties: usize,
    /// Generated outlets per property.
    #[arg(long, default_value_t = 20)]
    outlets: usize,
    /// Generated checked-in stays in all (one session each).
    #[arg(long, default_value_t = 5000)]
    stays: usize,
    /// The server's port on 127.0.0.1.
    #[arg(long, default_value_t = 18080)]
    port: u16,
    /// PostgreSQL server URL (the benchmark database is created on it, and dropped first).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// Name of the throwaway benchmark database.
    #[arg(long, default_value = "bellhop_bench")]
    database: String,
    /// Use the release binary as it is (do not run cargo build).
    #[arg(long)]
    skip_build: bool,
    /// Benchmark this server binary instead of the workspace's release build (implies
    /// --skip-build); for comparing commits.
    #[arg(long)]
    server_binary: Option<PathBuf>,
    /// Skip the pgbench comparison.
    #[arg(long)]
    no_pgbench: bool,
    /// Where results go.
    #[arg(long, default_value = "bench/results")]
    results: PathBuf,
    /// The server's BELLHOP_DB_POOL_SIZE; default: one connection per concurrent client, as
    /// pgbench has (so both sides get the same group commit).
    #[arg(long)]
    pool_size: Option<u32>,
    /// Soak instead: mixed traffic (create, reply, read, get) for --duration at --rate,
    /// sampling the server's memory every 10 s.
    #[arg(long)]
    soak: bool,
    /// Requests per second of the soak; default 70 % of a 10 s create-conversation peak.
    #[arg(long)]
    rate: Option<f64>,
    /// With --soak: staff event streams held open through the soak; each must receive every
    /// event written meanwhile (checked against the log at the end).
    #[arg(long, default_value_t = 0)]
    soak_streams: usize,
    /// Only measure the worst-case decoding of a 64 KB form, query string and JSON body
    /// (no server, no database) and exit.
    #[arg(long)]
    decode: bool,
    /// Instead of the load: open this many connections that send part of a request and
    /// stall, and report the server's memory before, during and after they time out.
    #[arg(long)]
    slow_clients: Option<usize>,
    /// Instead of the load: measure every guest and staff read route and create (200
    /// sequential requests each) on the demo property, then bulk-load this many old
    /// conversations into it and measure again.
    #[arg(long)]
    history: Option<i64>,
    /// Instead of the load: open this many idle staff event streams and report the server's
    /// memory and pool connections in use, then time events from a write's answer to a
    /// stream (--stream-writes at --rate per second, default 20).
    #[arg(long)]
    idle_streams: Option<usize>,
    /// Writes timed by --idle-streams.
    #[arg(long, default_value_t = 500)]
    stream_writes: usize,
    /// With --idle-streams: guest create-conversation requests per second (open loop, from
    /// --concurrency connections) while the writes are timed, e.g. half the create peak.
    #[arg(long)]
    background_rate: Option<f64>,
    /// Instead of the load: create-conversation throughput for --duration without webhooks,
    /// then with one active webhook per property to a local receiver that answers at once,
    /// and the deliveries per second that receiver got (same run).
    #[arg(long)]
    webhooks: bool,
    /// Instead of the load: time the overdue job's run (section 14) with 1,000 and then this
    /// many open conversations waiting for a reply, and show its claim's plan (no server).
    #[arg(long)]
    reply_clock: Option<i64>,
}

fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {raw}"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        "ms" => Ok(Duration::from_millis(value)),
        _ => Err(format!("unknown unit in {raw}: use s, m or ms")),
    }
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// The generated reference data: properties with open outlets and checked-in stays.
fn reference_file(args: &Args) -> Value {
    let now = chrono::Utc::now();
    let check_in = (now - chrono::Duration::days(1)).to_rfc3339();
    let check_out = (now + chrono::Duration::days(3)).to_rfc3339();
    let per_property = args.stays.div_ceil(args.properties.max(1));
    let properties: Vec<Value> = (0..args.properties.max(1))
        .map(|p| {
            let outlets: Vec<Value> = (0..args.outlets.max(1))
                .map(|o| {
                    json!({"code": format!("OUT-{o:02}"), "name": format!("Outlet {o}"), "displayOrder": o + 1,
                           "allowGuestMessages": true, "serviceCenterName": format!("Team {o}")})
                })
                .collect();
            let stays: Vec<Value> = (0..per_property)
                .map(|s| {
                    json!({"code": format!("S-{s}"), "roomNumber": format!("{}", 1000 + s), "firstName": "Bench",
                           "lastName": format!("Guest{s}"), "languageCode": "en", "checkIn": check_in, "checkOut": check_out})
                })
                .collect();
            json!({"code": format!("BENCH-{p}"), "name": format!("Bench Hotel {p}"), "brandCode": "BENCH",
                   "groupCode": "BENCH", "timeZone": "Europe/London", "defaultLanguage": "en",
                   "interfaceTokens": [{"token": INTERFACE_TOKEN}], "outlets": outlets, "stays": stays,
                   "staffKeys": [{"key": format!("bench-staff-key-{p}"), "displayName": "Bench Staff"}]})
        })
        .collect();
    json!({ "properties": properties })
}

struct Server {
    child: Child,
    pid: u32,
    address: String,
}

impl Server {
    fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return 0.0;
        };
        // Fields after the command name (which may contain spaces) start after ") ".
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split(' ').collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / clock_ticks()
    }

    fn memory_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

async fn run_bellhop(
    binary: &Path,
    args: &Args,
    db_url: &str,
    extra: &[&str],
) -> anyhow::Result<()> {
    let status = Command::new(binary)
        .args(extra)
        .env("DATABASE_URL", db_url)
        .env("BELLHOP_SESSION_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .status()
        .await
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !status.success() {
        bail!("bellhop {extra:?} failed ({status}); args {args:?}");
    }
    Ok(())
}

async fn start_server(binary: &Path, args: &Args, db_url: &str) -> anyhow::Result<Server> {
    let address = format!("127.0.0.1:{}", args.port);
    let child = Command::new(binary)
        .args(["serve", "--demo"])
        .env("DATABASE_URL", db_url)
        .env("BELLHOP_BIND", &address)
        .env("BELLHOP_SESSION_SECRET", SECRET)
        .env("BELLHOP_RATE_LIMIT_PER_SESSION", "0")
        .env("BELLHOP_RATE_LIMIT_PER_ADDRESS", "0")
        .env("BELLHOP_LOG_FORMAT", "json")
        .env(
            "BELLHOP_DB_POOL_SIZE",
            args.pool_size
                .unwrap_or(args.concurrency as u32)
                .to_string(),
        )
        .env(
            "BELLHOP_MAX_STREAMS",
            (args.idle_streams.unwrap_or(0) + 10_000).to_string(),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the server")?;
    let pid = child.id().context("the server exited at once")?;
    let server = Server {
        child,
        pid,
        address,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut connection = Connection::new(&server.address);
        if let Ok((200, _)) = connection.send(&client::get("/health/ready")).await {
            return Ok(server);
        }
        if Instant::now() > deadline {
            bail!("the server did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Opens one verified session per stay, `concurrency` at a time.
async fn open_sessions(address: &str, args: &Args) -> anyhow::Result<Vec<String>> {
    let per_property = args.stays.div_ceil(args.properties.max(1));
    let guests: Vec<(usize, usize)> = (0..args.properties.max(1))
        .flat_map(|p| (0..per_property).map(move |s| (p, s)))
        .take(args.stays)
        .collect();
    let guests = Arc::new(guests);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (guests, next, address) = (guests.clone(), next.clone(), address.to_owned());
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::new(&address);
            let mut tokens = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((p, s)) = guests.get(i) else { break };
                let body = json!({"propertyCode": format!("BENCH-{p}"), "interfaceToken": INTERFACE_TOKEN,
                                  "roomNumber": format!("{}", 1000 + s), "lastName": format!("Guest{s}")});
                let (status, body) =
                    connection.send(&client::post_json("/API/V40/System/Session/InitialiseByRoom", &body.to_string())).await?;
                if status != 200 {
                    bail!("InitialiseByRoom answered {status}: {}", String::from_utf8_lossy(&body));
                }
                let reply: Value = serde_json::from_slice(&body)?;
                tokens.push(reply["sessionToken"].as_str().unwrap_or_default().to_owned());
            }
            Ok::<_, anyhow::Error>(tokens)
        }));
    }
    let mut tokens = Vec::new();
    for worker in workers {
        tokens.extend(worker.await??);
    }
    Ok(tokens)
}

fn create_request(token: &str, n: u64) -> Vec<u8> {
    let body = json!({"message": format!("Benchmark request {n}: two towels, please."), "conversationType": "guest",
                      "sessionToken": token});
    client::post_json(CREATE, &body.to_string())
}

/// Requests that add a guest message to an open conversation: one conversation each for up to
/// 1,000 guests (created here), the `n`th request by guest `n % guests`.
async fn add_message_requests(
    address: &str,
    tokens: &[String],
    concurrency: usize,
) -> anyhow::Result<Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>> {
    let guests = tokens.len().min(1000);
    let mut workers = Vec::new();
    for worker in 0..concurrency.max(1) {
        let (address, mine) = (
            address.to_owned(),
            tokens[..guests]
                .iter()
                .skip(worker)
                .step_by(concurrency.max(1))
                .cloned()
                .collect::<Vec<_>>(),
        );
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::new(&address);
            let mut made = Vec::new();
            for token in mine {
                let code = client::create_conversation(&mut connection, &create_request(&token, 0))
                    .await?;
                made.push((token, code));
            }
            Ok::<_, anyhow::Error>(made)
        }));
    }
    let mut conversations = Vec::new();
    for worker in workers {
        conversations.extend(worker.await??);
    }
    Ok(Arc::new(move |n| {
        let (token, code) = &conversations[(n as usize) % conversations.len()];
        let body = json!({"message": format!("Benchmark message {n}: and a toothbrush."),
                          "sessionToken": token});
        client::post_json(&format!("{CREATE}/{code}/Messages"), &body.to_string())
    }))
}

/// Drives requests from `concurrency` connections for `duration`. With `rate`, each
/// connection sends on a fixed schedule (open loop; latency counted from the scheduled time);
/// without, as fast as answers come back.
async fn drive(
    address: &str,
    concurrency: usize,
    duration: Duration,
    rate: Option<f64>,
    request: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
) -> Summary {
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let interval = rate.map(|r| Duration::from_secs_f64(concurrency as f64 / r.max(1.0)));
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (address, counter, errors, request) = (
            address.to_owned(),
            counter.clone(),
            errors.clone(),
            request.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::new(&address);
            let mut latencies = Vec::with_capacity(100_000);
            let offset = interval
                .map(|i| i.mul_f64(worker as f64 / concurrency as f64))
                .unwrap_or_default();
            let mut k = 0u32;
            loop {
                let scheduled = match interval {
                    Some(i) => {
                        let at = started + offset + i * k;
                        k += 1;
                        if let Some(wait) = at.checked_duration_since(Instant::now()) {
                            tokio::time::sleep(wait).await;
                        }
                        at
                    }
                    None => Instant::now(),
                };
                if scheduled.duration_since(started) >= duration {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                match connection.send(&request(n)).await {
                    Ok((200, _)) => {
                        latencies.push(
                            u32::try_from(scheduled.elapsed().as_micros()).unwrap_or(u32::MAX),
                        );
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap_or_default());
    }
    summarise(
        all,
        errors.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    )
}

fn pgbench_binary() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

async fn pgbench(db_url: &str, script: &Path, args: &Args, guests: usize) -> anyhow::Result<f64> {
    let binary = pgbench_binary().context("pgbench not found under /usr/lib/postgresql/*/bin")?;
    let output = Command::new(binary)
        // Prepared statements, as the server's driver uses them: a fair floor.
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &args.concurrency.to_string(),
            "-j",
            "2",
            "-T",
            &args.duration.as_secs().max(1).to_string(),
        ])
        .args(["-D", &format!("guests={guests}"), "-f"])
        .arg(script)
        .arg(db_url)
        .output()
        .await?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {text}"))
}

#[derive(Serialize)]
struct Results {
    commit: String,
    started_at: String,
    cores: usize,
    args: Args,
    create_peak: Summary,
    create_half_rate: Summary,
    /// A guest's message to their open conversation (`POST .../Conversations/{code}/Messages`),
    /// at full speed.
    add_message_peak: Summary,
    get_messages_200: Summary,
    server_cpu_seconds_peak_phase: f64,
    server_peak_rss_mib: f64,
    server_rss_mib_with_1000_idle_connections: f64,
    pgbench_interactive_tps: Option<f64>,
    pgbench_single_statement_tps: Option<f64>,
    ratio_to_interactive: Option<f64>,
    ratio_to_single_statement: Option<f64>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.decode {
        let report = hostile::decode(200);
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let root = workspace_root();
    let started_at = chrono::Utc::now();
    if !args.skip_build && args.server_binary.is_none() {
        eprintln!("building the release server…");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "-p", "bellhop-server"])
            .current_dir(&root)
            .status()
            .await?;
        if !status.success() {
            bail!("cargo build failed");
        }
    }
    let binary = args
        .server_binary
        .clone()
        .unwrap_or_else(|| root.join("target/release/bellhop"));
    let db_url = format!("{}/{}", args.postgres.trim_end_matches('/'), args.database);

    eprintln!("fresh database {}…", args.database);
    let admin =
        sqlx::PgPool::connect(&format!("{}/postgres", args.postgres.trim_end_matches('/'))).await?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        args.database
    ))
    .execute(&admin)
    .await?;
    admin.close().await;

    let data_file = root.join(format!("target/bench-reference-{}.json", args.database));
    std::fs::create_dir_all(root.join("target"))?;
    std::fs::write(&data_file, serde_json::to_vec(&reference_file(&args))?)?;
    run_bellhop(
        &binary,
        &args,
        &db_url,
        &["load", &data_file.to_string_lossy()],
    )
    .await?;

    if let Some(count) = args.reply_clock {
        let report = reply_clock::run(&db_url, count).await?;
        write_report(&root.join(&args.results), "reply-clock", &report)?;
        return Ok(());
    }
    let mut server = start_server(&binary, &args, &db_url).await?;
    let address = server.address.clone();
    if let Some(count) = args.history {
        let report = history::run(&address, &db_url, count).await?;
        let _ = server.child.kill().await;
        let dir = root.join(&args.results);
        let markdown = history::markdown(&report, &current_commit(&root));
        write_report(&dir, "history", &report)?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        std::fs::write(dir.join(format!("history-{stamp}.md")), &markdown)?;
        println!("{markdown}");
        return Ok(());
    }
    eprintln!("opening {} sessions…", args.stays);
    let tokens = Arc::new(open_sessions(&address, &args).await?);

    let tokens_for_create = tokens.clone();
    let create: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync> = Arc::new(move |n| {
        let token = &tokens_for_create[(n as usize) % tokens_for_create.len()];
        create_request(token, n)
    });
    if let Some(clients) = args.slow_clients {
        eprintln!("{clients} clients send part of a request and stall…");
        let report =
            hostile::slow_clients(&address, clients, || server.memory_kib("VmRSS:")).await?;
        let _ = server.child.kill().await;
        return write_report(&root.join(&args.results), "slow-clients", &report);
    }
    if let Some(idle) = args.idle_streams {
        eprintln!("{idle} idle event streams, then event delivery…");
        let rate = args.rate.unwrap_or(20.0);
        let background = args.background_rate.map(|per_second| {
            let (address, create, concurrency) =
                (address.clone(), create.clone(), args.concurrency);
            Box::new(move |duration: Duration| {
                tokio::spawn(async move {
                    drive(&address, concurrency, duration, Some(per_second), create).await
                })
            }) as streams::Background
        });
        let report = streams::measure(
            &address,
            idle,
            args.stream_writes,
            rate,
            || server.memory_kib("VmRSS:"),
            background,
        )
        .await?;
        let _ = server.child.kill().await;
        return write_report(&root.join(&args.results), "streams", &report);
    }
    if args.webhooks {
        let report = webhooks_run(&binary, &args, &db_url, &address, create.clone()).await?;
        let _ = server.child.kill().await;
        return write_report(&root.join(&args.results), "webhooks", &report);
    }
    if args.soak {
        let report = soak(&server, &args, &db_url, tokens.clone(), create.clone()).await?;
        let _ = server.child.kill().await;
        return write_report(&root.join(&args.results), "soak", &report);
    }
    eprintln!("warming up…");
    drive(
        &address,
        args.concurrency,
        Duration::from_secs(2),
        None,
        create.clone(),
    )
    .await;

    eprintln!("create-conversation at full speed for {:?}…", args.duration);
    let cpu_before = server.cpu_seconds();
    let create_peak = drive(
        &address,
        args.concurrency,
        args.duration,
        None,
        create.clone(),
    )
    .await;
    let cpu = server.cpu_seconds() - cpu_before;
    eprintln!(
        "  {:.0} req/s, p99 {:.1} ms, {} errors",
        create_peak.requests_per_second, create_peak.p99_ms, create_peak.errors
    );

    let half = create_peak.requests_per_second / 2.0;
    eprintln!("create-conversation at half that rate ({half:.0} req/s)…");
    let create_half_rate = drive(
        &address,
        args.concurrency,
        args.duration,
        Some(half),
        create.clone(),
    )
    .await;
    eprintln!(
        "  p99 {:.1} ms, {} errors",
        create_half_rate.p99_ms, create_half_rate.errors
    );

    eprintln!("add-message at full speed for {:?}…", args.duration);
    let add_message_peak = drive(
        &address,
        args.concurrency,
        args.duration,
        None,
        add_message_requests(&address, &tokens, args.concurrency).await?,
    )
    .await;
    eprintln!(
        "  {:.0} req/s, p99 {:.1} ms, {} errors",
        add_message_peak.requests_per_second, add_message_peak.p99_ms, add_message_peak.errors
    );

    eprintln!("GET Messages for a guest with 200 messages…");
    let reader = tokens[0].clone();
    let mut connection = Connection::new(&address);
    let existing = {
        let (_, body) = connection
            .send(&client::get(&format!(
                "/API/V40/Interactive/Messages?PageLength=500&SessionToken={reader}"
            )))
            .await?;
        serde_json::from_slice::<Value>(&body)?["responses"][0]["getMessagesResponse"]["content"]
            ["messages"]
            .as_array()
            .map_or(0, Vec::len)
    };
    for n in existing..200 {
        connection.send(&create_request(&reader, n as u64)).await?;
    }
    let get_path = format!("/API/V40/Interactive/Messages?PageLength=200&SessionToken={reader}");
    let get_request = Arc::new(move |_| client::get(&get_path));
    let get_messages_200 = drive(
        &address,
        args.concurrency,
        args.duration.min(Duration::from_secs(10)),
        None,
        get_request,
    )
    .await;
    eprintln!("  {:.0} req/s", get_messages_200.requests_per_second);

    let peak_rss = server.memory_kib("VmHWM:") as f64 / 1024.0;
    eprintln!("1000 idle keep-alive connections…");
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let mut connection = Connection::new(&address);
        if connection.send(&client::get("/health/live")).await.is_ok() {
            idle.push(connection);
        }
    }
    let idle_rss = server.memory_kib("VmRSS:") as f64 / 1024.0;
    eprintln!(
        "  {} connections open, server RSS {idle_rss:.1} MiB",
        idle.len()
    );
    drop(idle);
    let _ = server.child.kill().await;

    let (mut interactive, mut single) = (None, None);
    if !args.no_pgbench {
        let pool = sqlx::PgPool::connect(&db_url).await?;
        sqlx::raw_sql(
            "DROP TABLE IF EXISTS bench_guests;
             CREATE TABLE bench_guests AS
               SELECT row_number() OVER (ORDER BY s.created_at, s.id) AS n, s.property_id, s.id AS session_id
                 FROM sessions s WHERE s.kind = 'verified' AND s.ended_at IS NULL;
             CREATE UNIQUE INDEX ON bench_guests (n);
             ANALYZE;",
        )
        .execute(&pool)
        .await?;
        let guests: i64 = sqlx::query_scalar("SELECT count(*) FROM bench_guests")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        let guests = usize::try_from(guests).unwrap_or(0);
        eprintln!("pgbench (a): interactive transaction…");
        interactive = Some(
            pgbench(
                &db_url,
                &root.join("bench/pgbench/interactive.sql"),
                &args,
                guests,
            )
            .await?,
        );
        eprintln!("pgbench (b): single statement…");
        single = Some(
            pgbench(
                &db_url,
                &root.join("bench/pgbench/single_statement.sql"),
                &args,
                guests,
            )
            .await?,
        );
    }

    let commit = current_commit(&root);
    let rps = create_peak.requests_per_second;
    let results = Results {
        commit,
        started_at: started_at.to_rfc3339(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        args: args.clone(),
        ratio_to_interactive: interactive.map(|tps| rps / tps),
        ratio_to_single_statement: single.map(|tps| rps / tps),
        create_peak,
        create_half_rate,
        add_message_peak,
        get_messages_200,
        server_cpu_seconds_peak_phase: cpu,
        server_peak_rss_mib: peak_rss,
        server_rss_mib_with_1000_idle_connections: idle_rss,
        pgbench_interactive_tps: interactive,
        pgbench_single_statement_tps: single,
    };
    write_results(&root.join(&args.results), &results)?;
    Ok(())
}

#[derive(Serialize)]
struct WebhooksReport {
    concurrency: usize,
    seconds_per_phase: f64,
    create_without_webhook: Summary,
    create_with_webhook: Summary,
    /// Distinct deliveries the receiver got for the conversations created with the webhook.
    deliveries: usize,
    /// Requests the receiver got (more than `deliveries` would mean duplicates).
    delivery_requests: u64,
    /// Deliveries per second, from the first to the last one the receiver got.
    deliveries_per_second: f64,
    /// Seconds from the end of the load until the last delivery arrived.
    drain_seconds_after_load: f64,
}

/// `--webhooks`: create-conversation throughput without, then with, an active webhook on
/// every property (loaded with `bellhop load`, as an operator would), and the deliveries per
/// second of a local receiver that answers at once.
async fn webhooks_run(
    binary: &Path,
    args: &Args,
    db_url: &str,
    address: &str,
    create: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
) -> anyhow::Result<WebhooksReport> {
    eprintln!("warming up…");
    drive(
        address,
        args.concurrency,
        Duration::from_secs(2),
        None,
        create.clone(),
    )
    .await;
    eprintln!(
        "create-conversation without webhooks for {:?}…",
        args.duration
    );
    let without = drive(
        address,
        args.concurrency,
        args.duration,
        None,
        create.clone(),
    )
    .await;

    let (url, tally) = webhooks::start_receiver().await?;
    let mut file = reference_file(args);
    if let Some(properties) = file["properties"].as_array_mut() {
        for property in properties {
            property["webhooks"] = json!([{
                "url": url,
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "events": ["conversation.created"],
            }]);
        }
    }
    let root = workspace_root();
    let data_file = root.join(format!("target/bench-webhooks-{}.json", args.database));
    std::fs::write(&data_file, serde_json::to_vec(&file)?)?;
    run_bellhop(
        binary,
        args,
        db_url,
        &["load", &data_file.to_string_lossy()],
    )
    .await?;

    eprintln!(
        "create-conversation with a webhook for {:?}…",
        args.duration
    );
    let with = drive(address, args.concurrency, args.duration, None, create).await;
    let load_ended = Instant::now();
    let expected = usize::try_from(with.requests).unwrap_or(usize::MAX);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = tally.lock().map(|t| t.ids.len()).unwrap_or(0);
        if got >= expected || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tally = tally
        .lock()
        .map_err(|_| anyhow::anyhow!("the receiver's tally is poisoned"))?;
    let span = match (tally.first, tally.last) {
        (Some(first), Some(last)) => last.duration_since(first).as_secs_f64(),
        _ => 0.0,
    };
    Ok(WebhooksReport {
        concurrency: args.concurrency,
        seconds_per_phase: args.duration.as_secs_f64(),
        create_without_webhook: without,
        create_with_webhook: with,
        deliveries: tally.ids.len(),
        delivery_requests: tally.requests,
        deliveries_per_second: if span > 0.0 {
            tally.ids.len() as f64 / span
        } else {
            0.0
        },
        drain_seconds_after_load: tally.last.map_or(0.0, |last| {
            last.saturating_duration_since(load_ended).as_secs_f64()
        }),
    })
}

fn current_commit(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Writes a report as `<dir>/<kind>-<time>.json` and prints it.
fn write_report(dir: &Path, kind: &str, report: &impl Serialize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = format!("{kind}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(dir.join(format!("{name}.json")), &text)?;
    println!("{text}");
    Ok(())
}

fn write_results(dir: &Path, r: &Results) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let name = format!("{stamp}-{}", r.commit);
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(r)?,
    )?;
    let opt =
        |v: Option<f64>, digits: usize| v.map_or("—".to_owned(), |v| format!("{v:.digits$}"));
    let check = |ok: bool| if ok { "met" } else { "NOT met" };
    let markdown = format!(
        "# Bellhop benchmark {name}\n\n\
         Commit `{commit}`, {cores} cores, {concurrency} connections, {secs} s per phase, {stays} stays, \
         {outlets} outlets per property; server, PostgreSQL and load generator on one machine.\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | create-conversation throughput | {rps:.0} req/s | |\n\
         | latency p50 / p90 / p99 / max at peak | {p50:.1} / {p90:.1} / {p99:.1} / {max:.1} ms | |\n\
         | errors (peak, half rate) | {e1}, {e2} | 0: {errors_ok} |\n\
         | p99 at half the peak rate ({half:.0} req/s) | {hp99:.1} ms | < 20 ms: {p99_ok} |\n\
         | add-message throughput (errors) | {add:.0} req/s, p99 {addp99:.1} ms ({adde}) | |\n\
         | server CPU during the peak phase | {cpu:.1} s | |\n\
         | server peak RSS | {rss:.1} MiB | < 100 MiB: {rss_ok} |\n\
         | server RSS with 1000 idle keep-alive connections | {idle:.1} MiB | |\n\
         | GET Messages (200 messages) | {get:.0} req/s, p99 {getp99:.1} ms | |\n\
         | pgbench (a) interactive transaction | {a} tps | |\n\
         | pgbench (b) single statement | {b} tps | |\n\
         | endpoint / (a) | {ra} | ≥ 1.0: {ra_ok} |\n\
         | endpoint / (b) | {rb} | ≥ 0.6: {rb_ok} |\n",
        commit = r.commit,
        cores = r.cores,
        concurrency = r.args.concurrency,
        secs = r.args.duration.as_secs(),
        stays = r.args.stays,
        outlets = r.args.outlets,
        rps = r.create_peak.requests_per_second,
        p50 = r.create_peak.p50_ms,
        p90 = r.create_peak.p90_ms,
        p99 = r.create_peak.p99_ms,
        max = r.create_peak.max_ms,
        e1 = r.create_peak.errors,
        e2 = r.create_half_rate.errors,
        errors_ok = check(r.create_peak.errors + r.create_half_rate.errors == 0),
        half = r.create_peak.requests_per_second / 2.0,
        hp99 = r.create_half_rate.p99_ms,
        p99_ok = check(r.create_half_rate.p99_ms < 20.0),
        add = r.add_message_peak.requests_per_second,
        addp99 = r.add_message_peak.p99_ms,
        adde = r.add_message_peak.errors,
        cpu = r.server_cpu_seconds_peak_phase,
        rss = r.server_peak_rss_mib,
        rss_ok = check(r.server_peak_rss_mib < 100.0),
        idle = r.server_rss_mib_with_1000_idle_connections,
        get = r.get_messages_200.requests_per_second,
        getp99 = r.get_messages_200.p99_ms,
        a = opt(r.pgbench_interactive_tps, 0),
        b = opt(r.pgbench_single_statement_tps, 0),
        ra = opt(r.ratio_to_interactive, 2),
        rb = opt(r.ratio_to_single_statement, 2),
        ra_ok = check(r.ratio_to_interactive.is_some_and(|v| v >= 1.0)),
        rb_ok = check(r.ratio_to_single_statement.is_some_and(|v| v >= 0.6)),
    );
    std::fs::write(dir.join(format!("{name}.md")), &markdown)?;
    println!("{markdown}");
    eprintln!(
        "results written to {}",
        dir.join(format!("{name}.{{json,md}}")).display()
    );
    Ok(())
}

#[derive(Serialize)]
struct SoakReport {
    rate: f64,
    seconds: f64,
    requests: u64,
    errors: u64,
    p99_ms: f64,
    rss_mib_samples: Vec<f64>,
    rss_mib_first: f64,
    rss_mib_last: f64,
    rss_mib_max: f64,
    /// Staff streams open through the soak, the events the log got meanwhile, and what the
    /// streams missed or got twice (summed over the streams).
    streams: usize,
    events_written: u64,
    events_lost_over_all_streams: u64,
    events_received_twice_over_all_streams: u64,
}

/// Mixed traffic at a fixed rate: per connection, for one guest after another, create a
/// conversation, add a message to it, mark it read, and read the guest's latest messages.
async fn soak(
    server: &Server,
    args: &Args,
    db_url: &str,
    tokens: Arc<Vec<String>>,
    create: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
) -> anyhow::Result<SoakReport> {
    let rate = match args.rate {
        Some(rate) => rate,
        None => {
            eprintln!("measuring the peak for 10 s…");
            let peak = drive(
                &server.address,
                args.concurrency,
                Duration::from_secs(10),
                None,
                create,
            )
            .await;
            peak.requests_per_second * 0.7
        }
    };
    let watchers =
        streams::EventCounters::open(&server.address, "bench-staff-key-0", args.soak_streams)
            .await?;
    let events_before = streams::events_in_log(db_url).await?;
    eprintln!("soaking at {rate:.0} req/s for {:?}…", args.duration);
    let interval = Duration::from_secs_f64(args.concurrency as f64 / rate.max(1.0));
    let started = Instant::now();
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    let concurrency = args.concurrency;
    for worker in 0..concurrency {
        let (address, tokens, errors, duration) = (
            server.address.clone(),
            tokens.clone(),
            errors.clone(),
            args.duration,
        );
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::new(&address);
            let mut latencies = Vec::new();
            let mut code = String::new();
            let offset = interval.mul_f64(worker as f64 / concurrency as f64);
            for k in 0u32.. {
                let scheduled = started + offset + interval * k;
                if scheduled.duration_since(started) >= duration {
                    break;
                }
                if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                    tokio::time::sleep(wait).await;
                }
                // Every four requests a new guest: traffic spreads over all sessions, as a
                // hotel's does, instead of piling thousands of messages on a few guests.
                let cycle = (k / 4) as usize;
                let token = &tokens[(worker + cycle * concurrency) % tokens.len()];
                if k % 4 == 0 {
                    code.clear();
                }
                let request = match (k % 4, code.is_empty()) {
                    (0, _) | (_, true) => create_request(token, u64::from(k)),
                    (1, false) => client::post_json(
                        &format!("{CREATE}/{code}/Messages"),
                        &json!({"message": "And some water, please.", "sessionToken": token}).to_string(),
                    ),
                    (2, false) => client::post_json(
                        &format!("{CREATE}/{code}/Read"),
                        &json!({"sessionToken": token}).to_string(),
                    ),
                    _ => client::get(&format!("/API/V40/Interactive/Messages?PageLength=50&DescendingOrder=true&SessionToken={token}")),
                };
                match connection.send(&request).await {
                    Ok((200, body)) => {
                        latencies.push(u32::try_from(scheduled.elapsed().as_micros()).unwrap_or(u32::MAX));
                        if k % 4 == 0 || code.is_empty() {
                            if let Ok(reply) = serde_json::from_slice::<Value>(&body) {
                                if let Some(c) = reply["responses"][0]["createConversationResponse"]["content"]["conversation"]["code"].as_str() {
                                    code = c.to_owned();
                                }
                            }
                        }
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut samples = Vec::new();
    while started.elapsed() < args.duration {
        samples.push(server.memory_kib("VmRSS:") as f64 / 1024.0);
        tokio::time::sleep(Duration::from_secs(10).min(args.duration)).await;
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap_or_default());
    }
    samples.push(server.memory_kib("VmRSS:") as f64 / 1024.0);
    // Every stream must have received every event written during the soak.
    let written = streams::events_in_log(db_url).await? - events_before;
    let received = watchers.settle(written, Duration::from_secs(10)).await;
    let lost = received.iter().map(|&n| written.saturating_sub(n)).sum();
    let extra = received.iter().map(|&n| n.saturating_sub(written)).sum();
    let summary = summarise(
        all,
        errors.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    );
    Ok(SoakReport {
        rate,
        seconds: summary.seconds,
        requests: summary.requests,
        errors: summary.errors,
        p99_ms: summary.p99_ms,
        rss_mib_first: samples.first().copied().unwrap_or_default(),
        rss_mib_last: samples.last().copied().unwrap_or_default(),
        rss_mib_max: samples.iter().copied().fold(0.0, f64::max),
        rss_mib_samples: samples,
        streams: args.soak_streams,
        events_written: written,
        events_lost_over_all_streams: lost,
        events_received_twice_over_all_streams: extra,
    })
}
