//! Raw HTTP/1.1 over TCP, so requests can be as malformed as a hostile client makes them.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// What came back on a raw connection: status 0 when the connection closed without an
/// answer.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: String,
}

impl Raw {
    pub(crate) fn is_problem(&self) -> bool {
        self.content_type == "application/problem+json"
            && serde_json::from_str::<serde_json::Value>(&self.body)
                .is_ok_and(|p| p["status"] == self.status)
    }
}

pub(crate) fn parse_reply(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Raw {
            status: 0,
            content_type: String::new(),
            body: text.into_owned(),
        };
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut content_type = String::new();
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-type" {
                content_type = value.to_string();
            }
            if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Raw {
        status,
        content_type,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub(crate) fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Reads until the server closes the connection (or resets it).
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    buf
}

/// Sends `head` then `body` (from another thread, so a server that answers early and
/// stops reading cannot block us) and reads the answer.
pub(crate) fn exchange(addr: &str, head: &[u8], body: Vec<u8>) -> Raw {
    let mut s = connect(addr);
    let _ = s.write_all(head);
    let writer = s.try_clone().map(|mut w| {
        std::thread::spawn(move || {
            let _ = w.write_all(&body);
        })
    });
    let reply = parse_reply(&read_to_close(&mut s));
    let _ = s.shutdown(Shutdown::Both);
    if let Ok(w) = writer {
        let _ = w.join();
    }
    reply
}

/// A POST with a Content-Length that matches the body.
pub(crate) fn post(addr: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Raw {
    let ct = content_type
        .map(|c| format!("Content-Type: {c}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{ct}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    exchange(addr, head.as_bytes(), body.to_vec())
}

/// A request whose target is raw bytes (possibly not UTF-8).
pub(crate) fn get_raw_target(addr: &str, method: &str, target: &[u8]) -> Raw {
    let mut head = format!("{method} ").into_bytes();
    head.extend_from_slice(target);
    head.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    exchange(addr, &head, Vec::new())
}
