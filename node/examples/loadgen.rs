//! A small HTTP/1.1 load generator for the node's benchmarks (built by
//! `scripts/bench-http.sh`, so the benchmark needs nothing installed).
//!
//! Two modes, both over keep-alive connections to one `host:port`, cycling through a file
//! of request paths (one per line):
//! - `max`: each connection sends its next request as soon as the previous answer arrives
//!   (closed loop): the throughput ceiling.
//! - `rate R`: requests are scheduled at a fixed total rate R, request `n` at
//!   `start + n / R` on connection `n % CONNECTIONS` (open loop). A pacer thread of its own
//!   releases each request at its time (sleeping with the OS's high-resolution timers, so
//!   requests go out evenly spaced, not in the bursts that tokio's 1 ms timer wheel would
//!   make). When the server is still answering the connection's previous request at a
//!   request's scheduled time, its latency counts from the *scheduled* time, so a stalled
//!   server cannot hide its stall (no coordinated omission). When the connection was idle,
//!   it counts from the actual send: lateness of the pacer belongs to the generator, not
//!   the server.
//!
//! A line of the paths file is a path to GET, or `POST PATH BODY_FILE [CONTENT_TYPE]`: the
//! file's bytes are the body of every such request (read once, at start).
//!
//! Usage: `loadgen ADDR PATHS_FILE SECONDS CONNECTIONS max|RATE`; prints one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// One request of the paths file: `GET path`, or `POST path` with its body.
struct Line {
    path: String,
    post: Option<(Vec<u8>, String)>,
}

fn line(l: &str) -> Result<Line, String> {
    let Some(rest) = l.strip_prefix("POST ") else {
        return Ok(Line {
            path: l.to_string(),
            post: None,
        });
    };
    let mut parts = rest.split_whitespace();
    let (Some(path), Some(file)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "{l:?}: expected POST PATH BODY_FILE [CONTENT_TYPE]"
        ));
    };
    let body = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
    let content_type = parts.next().unwrap_or("application/json").to_string();
    Ok(Line {
        path: path.to_string(),
        post: Some((body, content_type)),
    })
}

struct Args {
    addr: String,
    paths: Arc<Vec<Line>>,
    seconds: u64,
    connections: usize,
    rate: Option<f64>,
}

fn parse() -> Result<Args, String> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 5 {
        return Err("usage: loadgen ADDR PATHS_FILE SECONDS CONNECTIONS max|RATE".into());
    }
    let text = std::fs::read_to_string(&a[1]).map_err(|e| format!("{}: {e}", a[1]))?;
    let paths: Vec<Line> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(line)
        .collect::<Result<_, _>>()?;
    if paths.is_empty() {
        return Err(format!("{}: no paths", a[1]));
    }
    Ok(Args {
        addr: a[0].clone(),
        paths: Arc::new(paths),
        seconds: a[2].parse().map_err(|_| "SECONDS must be a number")?,
        connections: a[3].parse().map_err(|_| "CONNECTIONS must be a number")?,
        rate: if a[4] == "max" {
            None
        } else {
            Some(a[4].parse().map_err(|_| "RATE must be a number or max")?)
        },
    })
}

/// Sends one request and reads the whole answer; returns the status code.
async fn request(conn: &mut TcpStream, buf: &mut Vec<u8>, line: &Line) -> std::io::Result<u16> {
    let path = &line.path;
    match &line.post {
        None => {
            let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
            conn.write_all(req.as_bytes()).await?;
        }
        Some((body, content_type)) => {
            let mut req = format!(
                "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(body);
            conn.write_all(&req).await?;
        }
    }
    buf.clear();
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no content-length"))?;
    while buf.len() < header_end + len {
        let mut chunk = [0u8; 16 * 1024];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

struct Outcome {
    latencies_us: Vec<u64>,
    errors: u64,
    non_2xx: u64,
}

/// Releases request `n` at `start + n / rate` to connection `n % connections`, until
/// `start + seconds`; then closes every channel.
fn pace(args: &Args, rate: f64, start: Instant, permits: Vec<mpsc::UnboundedSender<Instant>>) {
    let end = start + Duration::from_secs(args.seconds);
    let step = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut n: u64 = 0;
    loop {
        let due = start + step.mul_f64(n as f64);
        if due >= end {
            break;
        }
        let now = Instant::now();
        if due > now + Duration::from_micros(50) {
            std::thread::sleep(due - now);
        }
        let _ = permits[(n % permits.len() as u64) as usize].send(due);
        n += 1;
    }
}

/// One connection: sends when released (open loop) or back to back (closed loop).
async fn worker(
    args: Arc<Args>,
    index: usize,
    start: Instant,
    mut permits: Option<mpsc::UnboundedReceiver<Instant>>,
) -> Outcome {
    let mut out = Outcome {
        latencies_us: Vec::new(),
        errors: 0,
        non_2xx: 0,
    };
    let Ok(mut conn) = TcpStream::connect(&args.addr).await else {
        out.errors += 1;
        return out;
    };
    let _ = conn.set_nodelay(true);
    let mut buf = Vec::with_capacity(16 * 1024);
    let end = start + Duration::from_secs(args.seconds);
    let mut k = index;
    let mut prev_done = start;
    loop {
        let scheduled = match permits.as_mut() {
            Some(rx) => match rx.recv().await {
                Some(t) => t,
                None => break,
            },
            None => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                now
            }
        };
        let origin = if prev_done <= scheduled {
            Instant::now()
        } else {
            scheduled
        };
        let path = &args.paths[k % args.paths.len()];
        k += args.connections;
        match request(&mut conn, &mut buf, path).await {
            Ok(status) => {
                if !(200..300).contains(&status) {
                    out.non_2xx += 1;
                }
                prev_done = Instant::now();
                out.latencies_us
                    .push(prev_done.duration_since(origin).as_micros() as u64);
            }
            Err(_) => {
                out.errors += 1;
                match TcpStream::connect(&args.addr).await {
                    Ok(c) => conn = c,
                    Err(_) => return out,
                }
            }
        }
    }
    out
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = match parse() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now() + Duration::from_millis(50);
    let mut receivers: Vec<Option<mpsc::UnboundedReceiver<Instant>>> = Vec::new();
    let pacer = match args.rate {
        Some(rate) => {
            let (senders, rxs): (Vec<_>, Vec<_>) = (0..args.connections)
                .map(|_| mpsc::unbounded_channel())
                .unzip();
            receivers = rxs.into_iter().map(Some).collect();
            let args = args.clone();
            Some(std::thread::spawn(move || {
                pace(&args, rate, start, senders)
            }))
        }
        None => None,
    };
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| {
            let permits = receivers.get_mut(i).and_then(Option::take);
            tokio::spawn(worker(args.clone(), i, start, permits))
        })
        .collect();
    let mut all = Vec::new();
    let (mut errors, mut non_2xx) = (0, 0);
    for t in tasks {
        if let Ok(o) = t.await {
            all.extend(o.latencies_us);
            errors += o.errors;
            non_2xx += o.non_2xx;
        }
    }
    if let Some(p) = pacer {
        let _ = p.join();
    }
    all.sort_unstable();
    let secs = args.seconds as f64;
    println!(
        "{{\"mode\":\"{}\",\"connections\":{},\"seconds\":{},\"requests\":{},\"rps\":{:.0},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"errors\":{},\"non_2xx\":{}}}",
        args.rate.map_or("max".to_string(), |r| format!("rate {r:.0}")),
        args.connections,
        args.seconds,
        all.len(),
        all.len() as f64 / secs,
        percentile(&all, 0.50),
        percentile(&all, 0.90),
        percentile(&all, 0.99),
        percentile(&all, 0.999),
        all.last().copied().unwrap_or(0),
        errors,
        non_2xx
    );
}
