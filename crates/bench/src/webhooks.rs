//! Webhooks (issue #16): a local receiver that answers every delivery at once with 204, and
//! counts what it got, for the deliveries-per-second line of `--webhooks`.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Instant,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// The deliveries a receiver got: distinct `webhook-id`s, the number of requests, and when
/// the first and the last came.
#[derive(Default)]
pub struct Tally {
    pub ids: HashSet<String>,
    pub requests: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

/// Starts the receiver on 127.0.0.1 (any free port); returns its url and its tally.
pub async fn start_receiver() -> anyhow::Result<(String, Arc<Mutex<Tally>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let shared = tally.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, shared.clone()));
        }
    });
    Ok((url, tally))
}

/// Answers the requests of one keep-alive connection.
async fn serve(mut socket: TcpStream, tally: Arc<Mutex<Tally>>) {
    let mut buffer: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        // The head, then as many body bytes as Content-Length says.
        let head_end = loop {
            if let Some(at) = find(&buffer, b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let header = |name: &str| {
            head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        if let Ok(mut tally) = tally.lock() {
            let now = Instant::now();
            tally.requests += 1;
            tally.first.get_or_insert(now);
            tally.last = Some(now);
            if let Some(id) = header("webhook-id") {
                tally.ids.insert(id);
            }
        }
        buffer.drain(..head_end + length);
        if socket
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
