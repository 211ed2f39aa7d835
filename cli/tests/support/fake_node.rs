//! A stand-in for a node's HTTP API: a loopback listener answering each request with
//! whatever a test's handler returns, so the CLI's online paths can be tested without
//! the real node. One request per connection (`Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

/// `(method, path with query, body) -> (status, JSON body)`.
pub type Handler = dyn Fn(&str, &str, &[u8]) -> (u16, String) + Send + Sync;

/// A running fake node; it lives as long as the test process.
pub struct FakeNode {
    pub url: String,
}

impl FakeNode {
    pub fn start(handler: Arc<Handler>) -> Result<FakeNode, std::io::Error> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let handler = handler.clone();
                std::thread::spawn(move || {
                    let _ = serve(&mut stream, &*handler);
                });
            }
        });
        Ok(FakeNode { url })
    }
}

fn serve(stream: &mut std::net::TcpStream, handler: &Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let (status, text) = handler(&method, &path, &body);
    let kind = if status >= 400 {
        "application/problem+json"
    } else {
        "application/json"
    };
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    )?;
    stream.flush()
}
