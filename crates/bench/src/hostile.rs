//! Attack-shaped measurements (issue #12): the worst-case 64 KB field decoding, and the
//! server's memory before, during and after a burst of clients that send part of a request
//! and stall.

use std::time::{Duration, Instant};

use bellhop_http::wire::body::{decode_body, decode_form};
use serde::Serialize;
use tokio::{io::AsyncWriteExt, net::TcpStream};

/// The most fields the shortest names fit in 64 KB: `0&1&…&zz&100&…`.
fn worst_case_form(bytes: usize) -> Vec<u8> {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(bytes);
    let mut i = 0usize;
    loop {
        let mut name = vec![DIGITS[i % 36]];
        let mut rest = i / 36;
        while rest > 0 {
            name.push(DIGITS[rest % 36]);
            rest /= 36;
        }
        if out.len() + name.len() + 1 > bytes {
            return out;
        }
        if !out.is_empty() {
            out.push(b'&');
        }
        out.extend_from_slice(&name);
        i += 1;
    }
}

/// A JSON object of as many distinct one-number fields as fit in `bytes`.
fn worst_case_json(bytes: usize) -> Vec<u8> {
    let mut out = b"{".to_vec();
    let mut i = 0usize;
    loop {
        let entry = format!("{}\"{i:x}\":0", if i == 0 { "" } else { "," });
        if out.len() + entry.len() + 1 > bytes {
            out.push(b'}');
            return out;
        }
        out.extend_from_slice(entry.as_bytes());
        i += 1;
    }
}

#[derive(Debug, Serialize)]
pub struct DecodeReport {
    pub input_bytes: usize,
    pub form_fields_in_input: usize,
    pub form_body_median_us: f64,
    pub query_string_median_us: f64,
    pub json_body_median_us: f64,
    pub json_fields_in_input: usize,
    pub runs: usize,
}

fn median_us(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Decodes the worst-case 64 KB inputs `runs` times each (all of them are refused: more than
/// 256 fields) and reports the median time of one decoding.
pub fn decode(runs: usize) -> DecodeReport {
    let bytes = 65_536;
    let form = worst_case_form(bytes);
    let json = worst_case_json(bytes);
    let fields = form.split(|b| *b == b'&').count();
    let json_fields = json.split(|b| *b == b',').count();
    let form_type = Some("application/x-www-form-urlencoded");
    let json_type = Some("application/json");
    assert_refused(decode_body(form_type, &form).is_err());
    assert_refused(decode_form(&form).is_err());
    assert_refused(decode_body(json_type, &json).is_err());
    DecodeReport {
        input_bytes: bytes,
        form_fields_in_input: fields,
        form_body_median_us: median_us(runs, || {
            let _ = std::hint::black_box(decode_body(form_type, &form));
        }),
        query_string_median_us: median_us(runs, || {
            let _ = std::hint::black_box(decode_form(&form));
        }),
        json_body_median_us: median_us(runs, || {
            let _ = std::hint::black_box(decode_body(json_type, &json));
        }),
        json_fields_in_input: json_fields,
        runs,
    }
}

fn assert_refused(refused: bool) {
    if !refused {
        eprintln!("warning: a worst-case input was accepted");
    }
}

#[derive(Debug, Serialize)]
pub struct SlowClientsReport {
    pub clients: usize,
    pub opened: usize,
    pub rss_before_mib: f64,
    pub rss_during_mib: f64,
    /// 5 s after the last connection closed.
    pub rss_after_mib: f64,
    /// 20 s after the last connection closed (allocators return memory with a delay).
    pub rss_after_20s_mib: f64,
    pub closed_by_server: usize,
    pub seconds_until_all_closed: f64,
}

/// Opens `clients` connections that each send a request head and part of its body, then
/// stall; samples the server's memory (`rss` reads it, in KiB) before, while they are open,
/// and after the server has timed them all out and closed them.
pub async fn slow_clients(
    address: &str,
    clients: usize,
    rss_kib: impl Fn() -> u64,
) -> anyhow::Result<SlowClientsReport> {
    let mib = |kib: u64| kib as f64 / 1024.0;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = mib(rss_kib());
    let head = "POST /API/V40/System/Session/Initialise HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n";
    let partial = format!("{head}{{\"propertyCode\":\"{}", "x".repeat(30_000));
    let started = Instant::now();
    let mut streams = Vec::with_capacity(clients);
    for _ in 0..clients {
        match TcpStream::connect(address).await {
            Ok(mut stream) => {
                if stream.write_all(partial.as_bytes()).await.is_ok() {
                    streams.push(stream);
                }
            }
            Err(error) => eprintln!("  connect failed: {error}"),
        }
    }
    let opened = streams.len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = mib(rss_kib());
    // Wait for the server to close every stalled connection (read timeout).
    let mut closed = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    for mut stream in streams {
        let mut buffer = vec![0u8; 4096];
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(
                remaining,
                tokio::io::AsyncReadExt::read(&mut stream, &mut buffer),
            )
            .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue,
                Err(_) => break,
            }
        }
    }
    let all_closed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = mib(rss_kib());
    tokio::time::sleep(Duration::from_secs(15)).await;
    let after_20s = mib(rss_kib());
    Ok(SlowClientsReport {
        clients,
        opened,
        rss_before_mib: before,
        rss_during_mib: during,
        rss_after_mib: after,
        rss_after_20s_mib: after_20s,
        closed_by_server: closed,
        seconds_until_all_closed: all_closed,
    })
}
