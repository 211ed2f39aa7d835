//! The pending pool: entries waiting for a reference (or for signers that count as enough
//! roots), bounded, with a fair share for every source.
//!
//! Anyone can make pending entries: an entry authored as the holder of a random id and
//! signed by a fresh key of its own waits forever for an accreditation that never comes.
//! A pool that simply dropped its oldest entry when full would let one client or peer
//! flush every honest entry out of it. So each entry is filed under the [`Source`] it
//! came from (an HTTP client's address, a gossip or sync peer, the node itself), and when
//! the pool is full the entry dropped is the oldest of the source holding the **most**
//! entries, counting the newcomer: the newcomer's own source when it already holds at
//! least as many as any other, the largest other source otherwise. This is max-min
//! fairness: a source holding no more than `capacity / sources` entries never loses one to
//! another source, however much that one sends; a lone source may use the whole pool,
//! and gives way entry by entry as others arrive; shares grow back as sources go away
//! (their entries accepted, rejected or evicted), since they are counted, not reserved.
//!
//! Every operation costs O(log s) for s sources (a sorted set of source sizes) plus
//! amortised O(1) (per-source arrival queues with lazy deletion, compacted when half
//! stale); nothing scans the pool.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::IpAddr;

use crate::entry::SignedEntry;
use crate::hash::EntryId;

/// Where an offered entry came from: the unit of the pending pool's fair shares. Opaque
/// and fixed-size (a kind byte and 16 bytes), so a node can record it beside a pending
/// entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source([u8; SOURCE_BYTES]);

/// Length of [`Source::to_bytes`].
pub const SOURCE_BYTES: usize = 17;

const KIND_LOCAL: u8 = 0;
const KIND_RESTORED: u8 = 1;
const KIND_HTTP: u8 = 2;
const KIND_PEER: u8 = 3;

impl Source {
    /// The node itself: entries of its own ledger, tools and tests.
    pub const LOCAL: Source = Source::kind_only(KIND_LOCAL);
    /// Entries restored at start-up whose source was not recorded.
    pub const RESTORED: Source = Source::kind_only(KIND_RESTORED);

    const fn kind_only(kind: u8) -> Source {
        let mut bytes = [0u8; SOURCE_BYTES];
        bytes[0] = kind;
        Source(bytes)
    }

    /// An HTTP client, by IP address (never the port, which a client picks freely). An
    /// IPv6 client counts by its /64 prefix, the block one subscriber usually holds; an
    /// IPv4 address mapped into IPv6 counts as the IPv4 address.
    pub fn http(ip: IpAddr) -> Source {
        let mut bytes = [0u8; SOURCE_BYTES];
        bytes[0] = KIND_HTTP;
        match ip {
            IpAddr::V4(v4) => bytes[1..].copy_from_slice(&v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => bytes[1..].copy_from_slice(&v4.to_ipv6_mapped().octets()),
                None => bytes[1..9].copy_from_slice(&v6.octets()[..8]),
            },
        }
        Source(bytes)
    }

    /// A peer of the network, by its peer id's bytes (hashed to 16 bytes).
    pub fn peer(id: &[u8]) -> Source {
        let mut bytes = [0u8; SOURCE_BYTES];
        bytes[0] = KIND_PEER;
        bytes[1..].copy_from_slice(&blake3::hash(id).as_bytes()[..16]);
        Source(bytes)
    }

    pub fn to_bytes(&self) -> [u8; SOURCE_BYTES] {
        self.0
    }

    /// The source `bytes` (from [`Source::to_bytes`]) name, if they are one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Source> {
        let bytes = <[u8; SOURCE_BYTES]>::try_from(bytes).ok()?;
        let zero_tail = bytes[1..].iter().all(|b| *b == 0);
        match bytes[0] {
            KIND_LOCAL | KIND_RESTORED if zero_tail => Some(Source(bytes)),
            KIND_HTTP | KIND_PEER => Some(Source(bytes)),
            _ => None,
        }
    }

    /// `local`, `restored`, `http` or `peer`.
    pub fn kind(&self) -> &'static str {
        match self.0[0] {
            KIND_LOCAL => "local",
            KIND_RESTORED => "restored",
            KIND_HTTP => "http",
            _ => "peer",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0[0] {
            KIND_HTTP => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&self.0[1..]);
                let v6 = std::net::Ipv6Addr::from(octets);
                match v6.to_ipv4_mapped() {
                    Some(v4) => write!(f, "http {v4}"),
                    None => write!(f, "http {v6}/64"),
                }
            }
            KIND_PEER => write!(f, "peer {}", hex::encode(&self.0[1..])),
            _ => f.write_str(self.kind()),
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({self})")
    }
}

/// Why a pending entry was dropped to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Its source offered another while holding at least as many as any other source.
    SameSource,
    /// Another source offered one, and this entry's source held the most.
    LargestSource,
}

/// One pending entry dropped to make room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evicted {
    pub id: EntryId,
    pub source: Source,
    pub reason: Eviction,
}

/// Pending entries dropped to make room since start, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evictions {
    pub same_source: u64,
    pub largest_source: u64,
}

impl Evictions {
    pub fn total(&self) -> u64 {
        self.same_source + self.largest_source
    }
}

/// Whether a waiting root-authored entry's signers can count as enough roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Roots {
    /// They can (or the entry is not root-authored): it waits only for its references.
    Enough,
    /// Not yet: it waits for governance that makes its signers roots, or for a copy with
    /// more signatures.
    Lacking,
}

#[derive(Debug)]
pub(crate) struct Waiting {
    pub entry: SignedEntry,
    pub missing: Vec<EntryId>,
    pub roots: Roots,
    pub source: Source,
    seq: u64,
}

/// One source's entries: how many it holds, and their arrival order (with stale ids of
/// entries already gone, skipped and compacted away).
#[derive(Debug, Default)]
struct Share {
    count: usize,
    order: VecDeque<(u64, EntryId)>,
}

#[derive(Debug)]
pub(crate) struct PendingPool {
    capacity: usize,
    entries: HashMap<EntryId, Waiting>,
    shares: HashMap<Source, Share>,
    /// `(count, source)` of every source holding entries; the last is the largest.
    by_size: BTreeSet<(usize, Source)>,
    pub waiting_on: HashMap<EntryId, Vec<EntryId>>,
    pub needing_roots: HashSet<EntryId>,
    next_seq: u64,
    evictions: Evictions,
}

impl PendingPool {
    pub fn new(capacity: usize) -> PendingPool {
        PendingPool {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            shares: HashMap::new(),
            by_size: BTreeSet::new(),
            waiting_on: HashMap::new(),
            needing_roots: HashSet::new(),
            next_seq: 0,
            evictions: Evictions::default(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// A new bound; entries past it are dropped as if offered now, largest source first.
    pub fn set_capacity(&mut self, capacity: usize) -> Vec<Evicted> {
        self.capacity = capacity.max(1);
        let mut dropped = Vec::new();
        while self.entries.len() > self.capacity {
            let Some(&(_, largest)) = self.by_size.last() else {
                break;
            };
            match self.evict_oldest(largest, Eviction::LargestSource) {
                Some(e) => dropped.push(e),
                None => break,
            }
        }
        dropped
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn get(&self, id: &EntryId) -> Option<&Waiting> {
        self.entries.get(id)
    }

    pub fn evictions(&self) -> Evictions {
        self.evictions
    }

    /// Sources holding pending entries.
    pub fn sources(&self) -> usize {
        self.by_size.len()
    }

    /// How many entries `source` holds.
    pub fn held_by(&self, source: &Source) -> usize {
        self.shares.get(source).map_or(0, |s| s.count)
    }

    /// The most entries any one source holds.
    pub fn largest_share(&self) -> usize {
        self.by_size.last().map_or(0, |(n, _)| *n)
    }

    /// Adds a waiting entry from `source`; returns the entries dropped to make room.
    pub fn insert(
        &mut self,
        id: EntryId,
        entry: SignedEntry,
        missing: Vec<EntryId>,
        roots: Roots,
        source: Source,
    ) -> Vec<Evicted> {
        let mut dropped = Vec::new();
        while self.entries.len() >= self.capacity {
            let own = self.held_by(&source);
            let Some(&(largest_count, largest)) = self.by_size.last() else {
                break;
            };
            let (victim, reason) = if own > 0 && own + 1 >= largest_count {
                (source, Eviction::SameSource)
            } else {
                (largest, Eviction::LargestSource)
            };
            match self.evict_oldest(victim, reason) {
                Some(e) => dropped.push(e),
                None => break,
            }
        }
        for m in &missing {
            self.waiting_on.entry(*m).or_default().push(id);
        }
        if roots == Roots::Lacking {
            self.needing_roots.insert(id);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.grow(source, seq, id);
        self.entries.insert(
            id,
            Waiting {
                entry,
                missing,
                roots,
                source,
                seq,
            },
        );
        dropped
    }

    pub fn remove(&mut self, id: &EntryId) -> Option<Waiting> {
        let w = self.entries.remove(id)?;
        for m in &w.missing {
            if let Some(list) = self.waiting_on.get_mut(m) {
                list.retain(|x| x != id);
                if list.is_empty() {
                    self.waiting_on.remove(m);
                }
            }
        }
        if w.roots == Roots::Lacking {
            self.needing_roots.remove(id);
        }
        self.shrink(w.source);
        Some(w)
    }

    pub fn take_waiting_on(&mut self, id: &EntryId) -> Vec<(EntryId, Waiting)> {
        let ids = self.waiting_on.remove(id).unwrap_or_default();
        ids.into_iter()
            .filter_map(|w| Some((w, self.remove(&w)?)))
            .collect()
    }

    pub fn take_needing_roots(&mut self) -> Vec<(EntryId, Waiting)> {
        let mut ids: Vec<EntryId> = self.needing_roots.iter().copied().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|w| Some((w, self.remove(&w)?)))
            .collect()
    }

    /// Drops the oldest entry `source` holds.
    fn evict_oldest(&mut self, source: Source, reason: Eviction) -> Option<Evicted> {
        loop {
            let (seq, id) = self.shares.get_mut(&source)?.order.pop_front()?;
            let live = self
                .entries
                .get(&id)
                .is_some_and(|w| w.seq == seq && w.source == source);
            if live {
                self.remove(&id);
                match reason {
                    Eviction::SameSource => self.evictions.same_source += 1,
                    Eviction::LargestSource => self.evictions.largest_source += 1,
                }
                return Some(Evicted { id, source, reason });
            }
        }
    }

    fn grow(&mut self, source: Source, seq: u64, id: EntryId) {
        let share = self.shares.entry(source).or_default();
        if share.count > 0 {
            self.by_size.remove(&(share.count, source));
        }
        share.count += 1;
        share.order.push_back((seq, id));
        self.by_size.insert((share.count, source));
        if share.order.len() > 2 * share.count + 16 {
            let entries = &self.entries;
            share.order.retain(|(s, i)| {
                // The entry being inserted is not in `entries` yet.
                *i == id || entries.get(i).is_some_and(|w| w.seq == *s)
            });
        }
    }

    fn shrink(&mut self, source: Source) {
        let Some(share) = self.shares.get_mut(&source) else {
            return;
        };
        self.by_size.remove(&(share.count, source));
        share.count = share.count.saturating_sub(1);
        if share.count == 0 {
            self.shares.remove(&source);
        } else {
            self.by_size.insert((share.count, source));
        }
    }
}
