//! A minimal HTTP/1.1 keep-alive client: the load generator should cost as little CPU as
//! possible on a machine it shares with the server and PostgreSQL.

use std::io;

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

pub struct Connection {
    address: String,
    stream: Option<BufReader<TcpStream>>,
}

/// A request ready to send: the bytes of an HTTP/1.1 request.
pub fn post_json(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

impl Connection {
    pub fn new(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            stream: None,
        }
    }

    /// Sends a request and reads the response's status and body, reconnecting once if the
    /// kept-alive connection was closed.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        match self.try_send(request).await {
            Ok(response) => Ok(response),
            Err(_) => {
                self.stream = None;
                self.try_send(request).await
            }
        }
    }

    async fn try_send(&mut self, request: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.address).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(BufReader::new(stream));
        }
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::other("no connection"))?;
        stream.get_mut().write_all(request).await?;
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value
                        .trim()
                        .parse()
                        .map_err(|_| io::Error::other("bad content-length"))?;
                }
            }
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

/// Sends a create-conversation request and returns the new conversation's code; anything but
/// a 200 with a code is an error.
pub async fn create_conversation(
    connection: &mut Connection,
    request: &[u8],
) -> anyhow::Result<String> {
    let (status, body) = connection.send(request).await?;
    if status != 200 {
        anyhow::bail!(
            "create answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let reply: serde_json::Value = serde_json::from_slice(&body)?;
    reply["responses"][0]["createConversationResponse"]["content"]["conversation"]["code"]
        .as_str()
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("create answered without a conversation code"))
}
