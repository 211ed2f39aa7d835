//! The pending pool's fair shares: one source flooding it with junk (valid in form,
//! waiting for ever) cannot evict another source's entries, shares come back when a
//! source's entries go, a copy from a second source is held once, and evictions are
//! counted by reason.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::net::IpAddr;

use registry_core::registry::{Evictions, Outcome, Registry, Source};
use registry_core::testkit::{authority, issuer, junk, key, Fixture, AUTHORITY_KEY_SEED};
use registry_core::SignedEntry;

const CAPACITY: usize = 64;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn honest() -> Source {
    Source::http(ip("192.0.2.10"))
}

fn flooder() -> Source {
    Source::http(ip("198.51.100.7"))
}

/// `n` issuers waiting for the authority (not offered yet), from `from`.
fn children(fx: &Fixture, parent: &SignedEntry, first: u64, n: u64) -> Vec<SignedEntry> {
    (first..first + n)
        .map(|i| issuer(fx, parent.id(), &key(AUTHORITY_KEY_SEED), i))
        .collect()
}

fn flood(reg: &mut Registry, fx: &Fixture, from: Source, range: std::ops::Range<u64>) {
    let entries: Vec<SignedEntry> = range.map(|n| junk(fx, n)).collect();
    for chunk in entries.chunks(256) {
        let report = reg.ingest_from(from, chunk.to_vec());
        assert!(report
            .outcomes
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Pending { .. })));
        assert!(reg.pending_len() <= CAPACITY);
    }
}

#[test]
fn a_flood_of_ten_times_the_pool_evicts_only_the_flooders_entries() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = Registry::new(fx.genesis.clone(), CAPACITY);
    let parent = authority(&fx);
    let kids = children(&fx, &parent, 1, 5);
    reg.ingest_from(honest(), kids.clone());
    flood(&mut reg, &fx, flooder(), 0..10 * CAPACITY as u64);
    assert_eq!(reg.pending_len(), CAPACITY);
    assert_eq!(reg.pending_held_by(&honest()), 5);
    assert_eq!(reg.pending_held_by(&flooder()), CAPACITY - 5);
    // Every eviction was the flooder's own: it always held the most.
    assert_eq!(
        reg.pending_evictions(),
        Evictions {
            same_source: 10 * CAPACITY as u64 - (CAPACITY as u64 - 5),
            largest_source: 0,
        }
    );
    let report = reg.ingest_from(honest(), vec![parent]);
    assert_eq!(report.accepted.len(), 6, "the parent and its five children");
    for k in &kids {
        assert!(reg.state().contains(&k.id()));
    }
    assert_eq!(reg.pending_held_by(&honest()), 0);
}

#[test]
fn a_source_arriving_at_a_full_pool_takes_room_from_the_largest() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = Registry::new(fx.genesis.clone(), CAPACITY);
    flood(&mut reg, &fx, flooder(), 0..10 * CAPACITY as u64);
    assert_eq!(reg.pending_held_by(&flooder()), CAPACITY);
    let flooding = reg.pending_evictions();
    assert_eq!(flooding.same_source, 9 * CAPACITY as u64);
    let parent = authority(&fx);
    let kids = children(&fx, &parent, 1, 5);
    let report = reg.ingest_from(honest(), kids.clone());
    let reasons: Vec<_> = report
        .evicted
        .iter()
        .map(|e| (e.source, e.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![(flooder(), registry_core::registry::Eviction::LargestSource); 5]
    );
    // The flooder goes on: it only ever evicts its own.
    flood(
        &mut reg,
        &fx,
        flooder(),
        10 * CAPACITY as u64..20 * CAPACITY as u64,
    );
    assert_eq!(reg.pending_held_by(&honest()), 5);
    assert_eq!(
        reg.pending_evictions(),
        Evictions {
            same_source: flooding.same_source + 10 * CAPACITY as u64,
            largest_source: 5,
        }
    );
    assert_eq!(reg.pending_dropped(), reg.pending_evictions().total());
    reg.ingest_from(honest(), vec![parent]);
    assert!(kids.iter().all(|k| reg.state().contains(&k.id())));
}

#[test]
fn a_source_over_its_share_is_trimmed_to_it_and_no_further() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = Registry::new(fx.genesis.clone(), CAPACITY);
    let parent = authority(&fx);
    // The honest source holds more than a third of the pool before two flooders come.
    let kids = children(&fx, &parent, 1, 40);
    reg.ingest_from(honest(), kids);
    let other = Source::peer(b"another flooder");
    let n = 10 * CAPACITY as u64;
    for i in 0..n {
        // Interleaved, as two sources sending at once would be.
        reg.ingest_from(flooder(), vec![junk(&fx, i)]);
        reg.ingest_from(other, vec![junk(&fx, n + i)]);
        assert!(reg.pending_len() <= CAPACITY);
    }
    let fair = CAPACITY / 3;
    let held = reg.pending_held_by(&honest());
    assert!(
        (fair..=fair + 1).contains(&held),
        "held {held}, fair share {fair}"
    );
    assert!(reg.pending_largest_share() <= fair + 1);
    assert_eq!(reg.pending_sources(), 3);
    assert_eq!(reg.pending_evictions().largest_source, 40 - held as u64);
}

#[test]
fn shares_are_counted_not_reserved_so_they_come_back_when_a_source_goes() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = Registry::new(fx.genesis.clone(), CAPACITY);
    flood(&mut reg, &fx, flooder(), 0..CAPACITY as u64);
    let parent = authority(&fx);
    let kids = children(&fx, &parent, 1, CAPACITY as u64);
    reg.ingest_from(honest(), kids.clone());
    // Max-min: the newcomer took room until both held half.
    assert_eq!(reg.pending_held_by(&honest()), CAPACITY / 2);
    assert_eq!(reg.pending_held_by(&flooder()), CAPACITY / 2);
    // The honest entries are accepted: their source is gone from the pool, and the
    // flooder may use the room again (nothing is reserved for a source that left).
    reg.ingest_from(honest(), vec![parent]);
    assert_eq!(reg.pending_held_by(&honest()), 0);
    assert_eq!(reg.pending_sources(), 1);
    let before = reg.pending_dropped();
    flood(&mut reg, &fx, flooder(), 1000..1000 + CAPACITY as u64 / 2);
    assert_eq!(reg.pending_dropped(), before, "room was free");
    assert_eq!(reg.pending_held_by(&flooder()), CAPACITY);
    // And a third source still gets in.
    let third = Source::peer(b"third");
    reg.ingest_from(third, vec![junk(&fx, 5000)]);
    assert_eq!(reg.pending_held_by(&third), 1);
    assert_eq!(reg.pending_len(), CAPACITY);
}

#[test]
fn a_copy_from_a_second_source_is_held_once_under_the_first() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = Registry::new(fx.genesis.clone(), CAPACITY);
    let parent = authority(&fx);
    let kid = children(&fx, &parent, 1, 1).remove(0);
    reg.ingest_from(honest(), vec![kid.clone()]);
    let report = reg.ingest_from(flooder(), vec![kid.clone()]);
    assert!(matches!(report.outcomes[0].1, Outcome::Pending { .. }));
    assert_eq!(reg.pending_len(), 1);
    assert_eq!(reg.pending_held_by(&honest()), 1);
    assert_eq!(reg.pending_held_by(&flooder()), 0);
    assert_eq!(reg.pending_source(&kid.id()), Some(honest()));
    // A copy that brings a signature merges, and stays filed under the first source.
    let mut signed_more = kid.clone();
    let extra = kid.body.clone().sign(&[&key(4242)]);
    signed_more.signatures.extend(extra.signatures);
    reg.ingest_from(flooder(), vec![signed_more]);
    assert_eq!(
        reg.pending_entry(&kid.id()).map(|e| e.signatures.len()),
        Some(2)
    );
    assert_eq!(reg.pending_source(&kid.id()), Some(honest()));
    assert_eq!(reg.pending_held_by(&flooder()), 0);
}

#[test]
fn lowering_the_bound_drops_from_the_largest_sources() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = Registry::new(fx.genesis.clone(), CAPACITY);
    let parent = authority(&fx);
    reg.ingest_from(honest(), children(&fx, &parent, 1, 4));
    flood(&mut reg, &fx, flooder(), 0..CAPACITY as u64);
    let dropped = reg.set_pending_capacity(CAPACITY / 2);
    assert_eq!(dropped.len(), CAPACITY / 2);
    assert!(dropped.iter().all(|e| e.source == flooder()));
    assert_eq!(reg.pending_held_by(&honest()), 4);
    assert_eq!(reg.pending_len(), CAPACITY / 2);
}

#[test]
fn sources_name_addresses_not_ports_and_ipv6_by_its_64_prefix() {
    assert_eq!(
        Source::http(ip("2001:db8:1:2:aaaa::1")),
        Source::http(ip("2001:db8:1:2:bbbb::9"))
    );
    assert_ne!(
        Source::http(ip("2001:db8:1:2::1")),
        Source::http(ip("2001:db8:1:3::1"))
    );
    assert_eq!(
        Source::http(ip("::ffff:192.0.2.1")),
        Source::http(ip("192.0.2.1"))
    );
    assert_ne!(Source::http(ip("192.0.2.1")), Source::http(ip("192.0.2.2")));
    assert_eq!(Source::http(ip("192.0.2.1")).to_string(), "http 192.0.2.1");
    assert_eq!(
        Source::http(ip("2001:db8:1:2::7")).to_string(),
        "http 2001:db8:1:2::/64"
    );
    for s in [
        Source::LOCAL,
        Source::RESTORED,
        Source::http(ip("10.0.0.1")),
        Source::peer(b"peer"),
    ] {
        assert_eq!(Source::from_bytes(&s.to_bytes()), Some(s));
    }
    assert_eq!(Source::from_bytes(&[9; 17]), None);
    assert_eq!(Source::from_bytes(&[2; 16]), None);
}

#[test]
fn the_ledger_records_each_pending_entry_with_its_source() {
    use registry_core::store::{open_raw_database, Ledger};
    let fx = Fixture::new(1, 1, 4);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let (a, b) = (junk(&fx, 1), junk(&fx, 2));
    {
        let mut ledger = Ledger::create(&dir, &fx.genesis).unwrap();
        ledger
            .save_pending(
                &[(a.clone(), honest()), (b.clone(), Source::peer(b"p"))],
                &[],
            )
            .unwrap();
    }
    let mut loaded = Ledger::open(&dir).and_then(|l| l.load_pending()).unwrap();
    loaded.sort_by_key(|(e, _)| e.id());
    let mut expected = vec![(a.clone(), honest()), (b.clone(), Source::peer(b"p"))];
    expected.sort_by_key(|(e, _)| e.id());
    assert_eq!(loaded, expected);
    // A record written without its source (by an earlier version) restores as such.
    {
        let db = open_raw_database(&dir).unwrap();
        let mut key = vec![b'q'];
        key.extend_from_slice(a.id().as_bytes());
        assert!(db.remove(key).unwrap().is_some());
        db.flush().unwrap();
    }
    let mut ledger = Ledger::open(&dir).unwrap();
    let loaded = ledger.load_pending().unwrap();
    assert!(
        loaded.contains(&(a.clone(), Source::RESTORED)),
        "{loaded:?}"
    );
    // Forgetting an entry forgets its source too.
    ledger.save_pending(&[], &[a.id(), b.id()]).unwrap();
    assert!(ledger.load_pending().unwrap().is_empty());
}
