//! Prometheus metrics, kept in atomics and written out by hand in the text format.
//!
//! Counters and the request-latency histogram live here; gauges (entries, pending,
//! height) are read from the registry and the ledger head when `/metrics` is scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use p2p::NetCounters;
use registry_core::registry::Evictions;

/// The latency label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// What became of a submission, for `registry_submissions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    Accepted,
    /// Already accepted; the copy brought signatures.
    Merged,
    Duplicate,
    Pending,
    Rejected,
    /// Queue full, storage failure or shutdown.
    Error,
}

const SUBMISSIONS: [(Submission, &str); 6] = [
    (Submission::Accepted, "accepted"),
    (Submission::Merged, "merged"),
    (Submission::Duplicate, "duplicate"),
    (Submission::Pending, "pending"),
    (Submission::Rejected, "rejected"),
    (Submission::Error, "error"),
];

/// Which API answered a trust question, for `registry_queries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryApi {
    Trust,
    Authorization,
    Recognition,
    /// `POST /v1/credentials/verify`: authorized means the credential was valid.
    Credential,
}

const APIS: [(QueryApi, &str); 4] = [
    (QueryApi::Trust, "trust"),
    (QueryApi::Authorization, "authorization"),
    (QueryApi::Recognition, "recognition"),
    (QueryApi::Credential, "credential"),
];

#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative; the last slot is above every bound).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Values read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub entries: u64,
    pub pending: usize,
    pub height: u64,
    pub pending_capacity: usize,
    /// Sources (HTTP client addresses, peers) holding pending entries.
    pub pending_sources: usize,
    /// The most pending entries one source holds.
    pub pending_largest_share: usize,
    pub pending_evictions: Evictions,
}

/// Every counter and histogram of the node.
#[derive(Debug)]
pub struct Metrics {
    submissions: [AtomicU64; SUBMISSIONS.len()],
    /// `[api][0 = authorized, 1 = denied]`.
    queries: [[AtomicU64; 2]; APIS.len()],
    /// Route templates, one per slot of `http`; the last is `unmatched`.
    routes: Vec<&'static str>,
    http: Vec<Histogram>,
    /// Durable entries the writer could not hand to the network (its stream was full).
    gossip_dropped: Arc<AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new(std::iter::empty())
    }
}

impl Metrics {
    /// Metrics whose latency histogram has one slot per route template of `routes`, plus
    /// `unmatched`.
    pub fn new(routes: impl IntoIterator<Item = &'static str>) -> Metrics {
        let routes: Vec<&'static str> = routes.into_iter().chain([UNMATCHED]).collect();
        Metrics {
            submissions: Default::default(),
            queries: Default::default(),
            http: routes.iter().map(|_| Histogram::default()).collect(),
            routes,
            gossip_dropped: Arc::default(),
        }
    }

    /// The counter of entries dropped from the writer's gossip stream, which the stream
    /// increments ([`crate::writer::Gossip::channel`]).
    pub fn gossip_dropped(&self) -> Arc<AtomicU64> {
        self.gossip_dropped.clone()
    }

    pub fn submission(&self, outcome: Submission) {
        if let Some(i) = SUBMISSIONS.iter().position(|(o, _)| *o == outcome) {
            self.submissions[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn query(&self, api: QueryApi, authorized: bool) {
        if let Some(i) = APIS.iter().position(|(a, _)| *a == api) {
            self.queries[i][usize::from(!authorized)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The histogram slot of a route template (`None` or unknown: `unmatched`).
    pub fn route_index(&self, route: Option<&str>) -> usize {
        let label = route.unwrap_or(UNMATCHED);
        self.routes
            .iter()
            .position(|r| *r == label)
            .unwrap_or(self.routes.len() - 1)
    }

    /// Records one request's latency in the slot of its route ([`Metrics::route_index`]).
    pub fn observe_index(&self, i: usize, elapsed: Duration) {
        let Some(h) = self.http.get(i) else {
            return;
        };
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BUCKETS.len());
        h.buckets[slot].fetch_add(1, Ordering::Relaxed);
        h.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        h.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        gauge(
            &mut out,
            "registry_entries",
            "Accepted entries in the ledger.",
            g.entries,
        );
        let pending = g.pending as u64;
        gauge(
            &mut out,
            "registry_pending",
            "Entries waiting for a reference.",
            pending,
        );
        gauge(
            &mut out,
            "registry_height",
            "Height of the local ledger.",
            g.height,
        );
        gauge(
            &mut out,
            "registry_pending_capacity",
            "Bound of the pending pool.",
            g.pending_capacity as u64,
        );
        gauge(
            &mut out,
            "registry_pending_sources",
            "Sources (HTTP client addresses, peers) holding pending entries.",
            g.pending_sources as u64,
        );
        gauge(
            &mut out,
            "registry_pending_largest_share",
            "The most pending entries one source holds.",
            g.pending_largest_share as u64,
        );
        let e = g.pending_evictions;
        let _ = writeln!(
            out,
            "# HELP registry_pending_dropped_total Pending entries dropped because the pool was full.\n\
             # TYPE registry_pending_dropped_total counter\n\
             registry_pending_dropped_total {}\n\
             # HELP registry_pending_evicted_total Pending entries dropped because the pool was full, by reason: \
             same_source (their source offered another while holding the most), largest_source \
             (another source offered one while theirs held the most).\n\
             # TYPE registry_pending_evicted_total counter\n\
             registry_pending_evicted_total{{reason=\"same_source\"}} {}\n\
             registry_pending_evicted_total{{reason=\"largest_source\"}} {}",
            e.total(),
            e.same_source,
            e.largest_source
        );
        let _ = writeln!(
            out,
            "# HELP registry_submissions_total Entries submitted over HTTP, by outcome.\n\
             # TYPE registry_submissions_total counter"
        );
        for ((_, name), n) in SUBMISSIONS.iter().zip(&self.submissions) {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(out, "registry_submissions_total{{outcome=\"{name}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP registry_queries_total Trust questions answered, by API and outcome.\n\
             # TYPE registry_queries_total counter"
        );
        for ((_, api), counts) in APIS.iter().zip(&self.queries) {
            for (outcome, n) in ["authorized", "denied"].iter().zip(counts) {
                let n = n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "registry_queries_total{{api=\"{api}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        self.render_http(&mut out);
        out
    }

    /// The network's gauges and counters, appended to the exposition.
    pub fn render_network(&self, out: &mut String, peers: usize, c: &NetCounters) {
        gauge(out, "registry_peers", "Connected peers.", peers as u64);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP registry_gossip_dropped_total Durable entries not published because the \
             stream to the network was full (sync delivers them).\n\
             # TYPE registry_gossip_dropped_total counter\n\
             registry_gossip_dropped_total {}",
            load(&self.gossip_dropped)
        );
        let _ = writeln!(
            out,
            "# HELP registry_gossip_messages_total Gossiped entries received, by validation result.\n\
             # TYPE registry_gossip_messages_total counter\n\
             registry_gossip_messages_total{{result=\"accepted\"}} {}\n\
             registry_gossip_messages_total{{result=\"ignored\"}} {}\n\
             registry_gossip_messages_total{{result=\"rejected\"}} {}",
            load(&c.gossip_accepted),
            load(&c.gossip_ignored),
            load(&c.gossip_rejected)
        );
        let _ = writeln!(
            out,
            "# HELP registry_sync_sessions_total Sync sessions with a peer, by result.\n\
             # TYPE registry_sync_sessions_total counter\n\
             registry_sync_sessions_total{{result=\"completed\"}} {}\n\
             registry_sync_sessions_total{{result=\"failed\"}} {}",
            load(&c.sync_completed),
            load(&c.sync_failed)
        );
        let _ = writeln!(
            out,
            "# HELP registry_sync_entries_total Entries received by sync.\n\
             # TYPE registry_sync_entries_total counter\n\
             registry_sync_entries_total {}",
            load(&c.sync_entries)
        );
        let _ = writeln!(
            out,
            "# HELP registry_sync_bytes_total Bytes of sync messages, by direction.\n\
             # TYPE registry_sync_bytes_total counter\n\
             registry_sync_bytes_total{{direction=\"in\"}} {}\n\
             registry_sync_bytes_total{{direction=\"out\"}} {}",
            load(&c.sync_bytes_in),
            load(&c.sync_bytes_out)
        );
        let _ = writeln!(
            out,
            "# HELP registry_peer_penalties_total Penalties given to peers that broke the rules.\n\
             # TYPE registry_peer_penalties_total counter\n\
             registry_peer_penalties_total {}",
            load(&c.penalties)
        );
    }

    fn render_http(&self, out: &mut String) {
        let name = "registry_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to answer an HTTP request, by route.\n# TYPE {name} histogram"
        );
        for (route, h) in self.routes.iter().zip(&self.http) {
            let mut cumulative = 0u64;
            for (le, n) in BUCKETS.iter().zip(&h.buckets) {
                cumulative += n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {count}");
        }
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// The checkpoint machinery's counters, and the age of the newest cosigned slot (absent
/// while no slot is cosigned).
pub fn render_checkpoints(
    out: &mut String,
    c: &crate::checkpoint::checkpointer::CheckpointCounters,
    cosigned_age_secs: Option<u64>,
) {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    counter(
        out,
        "registry_checkpoint_slots_signed_total",
        "Checkpoint slots this node signed as a witness.",
        load(&c.slots_signed),
    );
    counter(
        out,
        "registry_checkpoint_signatures_merged_total",
        "Peers' valid witness signatures merged on this node's checkpoint bodies.",
        load(&c.signatures_merged),
    );
    counter(
        out,
        "registry_checkpoint_messages_rejected_total",
        "Checkpoint messages from peers rejected as invalid (the sender is penalised).",
        load(&c.rejected),
    );
    counter(
        out,
        "registry_checkpoint_sign_refused_total",
        "Bodies this node refused to sign because it had signed another for the slot.",
        load(&c.refused),
    );
    counter(
        out,
        "registry_checkpoint_equivocations_total",
        "Witnesses caught signing two checkpoint bodies for one slot (proofs kept).",
        load(&c.equivocations),
    );
    if let Some(age) = cosigned_age_secs {
        gauge(
            out,
            "registry_checkpoint_cosigned_age_seconds",
            "Seconds since the newest slot whose checkpoint a quorum of witnesses signed.",
            age,
        );
    }
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::new(["/v1/status", "/v1/trust"]);
        m.submission(Submission::Accepted);
        m.submission(Submission::Accepted);
        m.query(QueryApi::Recognition, false);
        m.observe_index(m.route_index(Some("/v1/trust")), Duration::from_micros(700));
        m.observe_index(m.route_index(Some("/v1/trust")), Duration::from_secs(10));
        m.observe_index(m.route_index(Some("/nope")), Duration::from_millis(3));
        let text = m.render(&Gauges {
            entries: 5,
            pending: 1,
            height: 2,
            pending_capacity: 1024,
            pending_sources: 1,
            pending_largest_share: 1,
            pending_evictions: Evictions {
                same_source: 3,
                largest_source: 4,
            },
        });
        assert!(text.contains("registry_entries 5\n"), "{text}");
        assert!(
            text.contains("registry_pending_dropped_total 7\n"),
            "{text}"
        );
        assert!(text.contains("registry_pending_evicted_total{reason=\"same_source\"} 3\n"));
        assert!(text.contains("registry_pending_evicted_total{reason=\"largest_source\"} 4\n"));
        assert!(text.contains("registry_submissions_total{outcome=\"accepted\"} 2\n"));
        assert!(text.contains("registry_queries_total{api=\"recognition\",outcome=\"denied\"} 1\n"));
        let b = "registry_http_request_duration_seconds_bucket{route=\"/v1/trust\"";
        assert!(text.contains(&format!("{b},le=\"0.0005\"}} 0\n")));
        assert!(text.contains(&format!("{b},le=\"0.001\"}} 1\n")));
        assert!(text.contains(&format!("{b},le=\"2.5\"}} 1\n")));
        assert!(text.contains(&format!("{b},le=\"+Inf\"}} 2\n")));
        assert!(text.contains("_count{route=\"unmatched\"} 1\n"));
    }
}
