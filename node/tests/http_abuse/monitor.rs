//! The honest client, the memory sampler, and the tally of answers.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{HONEST_MAX, HONEST_P99, RSS_GROWTH_BOUND_KIB, TRUST_QUERY};

/// Asks trust and status questions in a loop until stopped, timing each.
pub(crate) struct Honest {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Vec<Duration>, Vec<String>)>,
}

impl Honest {
    pub(crate) fn start(base: &str) -> Honest {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let base = base.to_string();
        let handle = std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into();
            let mut latencies = Vec::new();
            let mut failures = Vec::new();
            let mut i = 0u64;
            while !flag.load(Ordering::Relaxed) || latencies.is_empty() {
                i += 1;
                let path = if i.is_multiple_of(2) {
                    TRUST_QUERY
                } else {
                    "/v1/status"
                };
                let started = Instant::now();
                let outcome = agent
                    .get(format!("{base}{path}"))
                    .call()
                    .map_err(|e| e.to_string())
                    .and_then(|mut r| {
                        let status = r.status().as_u16();
                        let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
                        Ok((status, text))
                    });
                latencies.push(started.elapsed());
                match outcome {
                    Ok((200, text))
                        if path == "/v1/status" || text.contains("\"authorized\":true") => {}
                    Ok((status, text)) => failures.push(format!("{path}: {status} {text}")),
                    Err(e) => failures.push(format!("{path}: {e}")),
                }
                // An honest client asks about fifty questions a second.
                std::thread::sleep(Duration::from_millis(20));
            }
            (latencies, failures)
        });
        Honest { stop, handle }
    }

    /// Stops the client; asserts every answer was right and p99/max latency bounded.
    pub(crate) fn finish(self) -> HonestStats {
        self.stop.store(true, Ordering::Relaxed);
        let (mut lat, failures) = self
            .handle
            .join()
            .unwrap_or_else(|_| panic!("honest client panicked"));
        lat.sort();
        let total = lat.len();
        let p99 = lat[(total * 99).div_ceil(100).saturating_sub(1)];
        let max = lat[total - 1];
        assert!(failures.is_empty(), "honest requests failed: {failures:?}");
        assert!(p99 < HONEST_P99, "honest p99 {p99:?} over {HONEST_P99:?}");
        assert!(max < HONEST_MAX, "honest max {max:?} over {HONEST_MAX:?}");
        HonestStats {
            ok: total - failures.len(),
            total,
            p99,
            max,
        }
    }
}

pub(crate) struct HonestStats {
    ok: usize,
    total: usize,
    p99: Duration,
    max: Duration,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples the node's resident memory every 50 ms, keeping the peak.
pub(crate) struct RssWatch {
    start: u64,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
    pid: u32,
}

impl RssWatch {
    pub(crate) fn start(pid: u32) -> RssWatch {
        let start = rss_kib(pid);
        let peak = Arc::new(AtomicU64::new(start));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssWatch {
            start,
            peak,
            stop,
            handle,
            pid,
        }
    }

    /// (start, peak, end) in KiB; asserts the peak growth is bounded.
    pub(crate) fn finish(self) -> (u64, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        let end = rss_kib(self.pid);
        let peak = self.peak.load(Ordering::Relaxed).max(end);
        assert!(self.start > 0, "cannot read the node's VmRSS");
        assert!(
            peak - self.start < RSS_GROWTH_BOUND_KIB,
            "resident memory grew from {} KiB to {peak} KiB",
            self.start
        );
        (self.start, peak, end)
    }
}

/// Statuses seen, by code.
#[derive(Default, Clone)]
pub(crate) struct Tally(pub(crate) Arc<Mutex<BTreeMap<u16, u64>>>);

impl Tally {
    pub(crate) fn add(&self, status: u16) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(status).or_default() += 1;
        }
    }

    pub(crate) fn cases(&self) -> u64 {
        self.0.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    pub(crate) fn describe(&self) -> String {
        self.0
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(s, n)| format!("{s}x{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }

    fn assert_no_5xx(&self) {
        let m = self.0.lock().map(|m| m.clone()).unwrap_or_default();
        assert!(m.keys().all(|s| *s < 500), "a 5xx answer was seen: {m:?}");
    }
}

/// Everything an abuse test reports at its end.
pub(crate) fn summary(
    name: &str,
    tally: &Tally,
    honest: HonestStats,
    rss: (u64, u64, u64),
    extra: &str,
) {
    tally.assert_no_5xx();
    let (start, peak, end) = rss;
    // Written to the stderr handle rather than with eprintln!, so the line shows even
    // when the test harness captures output.
    let _ = writeln!(
        std::io::stderr(),
        "http-abuse {name}: {} cases, statuses {{{}}}, honest {}/{} ok, p99 {} ms, max {} ms, \
         RSS {} MiB -> peak {} MiB (+{} MiB), end {} MiB{extra}",
        tally.cases(),
        tally.describe(),
        honest.ok,
        honest.total,
        honest.p99.as_millis(),
        honest.max.as_millis(),
        start / 1024,
        peak / 1024,
        (peak - start) / 1024,
        end / 1024,
    );
}
