//! The ledger writer driven directly, in-process, over a real sled ledger in a temp
//! directory: group commit, answers only once durable, a full mailbox, and the stream of
//! entries the network publishes.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use registry_core::registry::{Outcome, Registry, Source};
use registry_core::store::Ledger;
use registry_core::testkit::{self, entity, key, Fixture};
use registry_core::trie::Trie;
use registry_core::{EntityId, Hash, SignedEntry};
use registry_node::writer::{
    self, read_head, Gossip, Head, Options, Origin, Restored, SharedHead, WriterError, WriterHandle,
};
use tokio::sync::mpsc::Receiver;

/// A writer over an empty ledger of `fx`'s registry.
struct Harness {
    _tmp: tempfile::TempDir,
    writer: WriterHandle,
    thread: JoinHandle<()>,
    head: SharedHead,
}

impl Harness {
    fn start(fx: &Fixture, queue: usize, max_batch: usize, gossip: Option<Gossip>) -> Harness {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        let ledger = Ledger::create(&dir, &fx.genesis).unwrap();
        let registry = Arc::new(RwLock::new(Registry::new(fx.genesis.clone(), 1000)));
        let head = Arc::new(RwLock::new(Head {
            height: 0,
            hash: ledger.head_hash(),
            state_root: Hash::ZERO,
            entries: 0,
        }));
        let options = Options {
            max_batch,
            queue,
            gossip,
        };
        let (writer, thread) = writer::spawn(
            ledger,
            dir,
            Trie::new(),
            registry,
            head.clone(),
            Restored::default(),
            options,
        )
        .unwrap();
        Harness {
            _tmp: tmp,
            writer,
            thread,
            head,
        }
    }

    async fn stop(self) {
        self.writer.shutdown().await;
        tokio::task::spawn_blocking(move || self.thread.join().unwrap())
            .await
            .unwrap();
    }

    /// Holds the writer thread inside a read until the returned sender is used (or
    /// dropped): whatever is submitted meanwhile waits in the mailbox.
    async fn hold(&self) -> std::sync::mpsc::Sender<()> {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let writer = self.writer.clone();
        let read = async move {
            writer
                .read(move |_| {
                    let _ = started_tx.send(());
                    let _ = release_rx.recv();
                    Ok(())
                })
                .await
        };
        tokio::spawn(read);
        tokio::time::timeout(Duration::from_secs(10), started_rx)
            .await
            .unwrap()
            .unwrap();
        release_tx
    }

    async fn submit(&self, entry: &SignedEntry, origin: Origin) -> Outcome {
        let source = match origin {
            Origin::Client => Source::LOCAL,
            Origin::Peer => Source::peer(b"a peer"),
        };
        self.writer
            .submit(entry.clone(), source, origin)
            .await
            .unwrap()
    }
}

fn uni() -> EntityId {
    EntityId::parse("did:web:uni.example").unwrap()
}

/// An accreditation published by [`testkit::authority`]: pending until it is accepted.
fn by_authority(fx: &Fixture, authority: &SignedEntry) -> SignedEntry {
    fx.accredit(&uni())
        .grant("issue", "UniversityDegree")
        .controller(key(20).did())
        .issued_at(1_700_000_000)
        .by_holder(authority.id(), &[&key(testkit::AUTHORITY_KEY_SEED)])
}

/// What the gossip stream holds now.
fn drain(rx: &mut Receiver<Arc<SignedEntry>>) -> Vec<Arc<SignedEntry>> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_share_one_block_and_are_durable_when_answered() {
    let fx = Fixture::new(1, 1, 4);
    let authority = testkit::authority(&fx);
    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let mut entries = vec![authority.clone()];
    entries.extend((1..=20).map(|n| testkit::issuer(&fx, authority.id(), &signer, n)));
    let h = Harness::start(&fx, 64, 64, None);

    let release = h.hold().await;
    let mut waiting = Vec::new();
    for e in &entries {
        let mut submit = Box::pin(h.writer.submit(e.clone(), Source::LOCAL, Origin::Client));
        // The first poll puts the submission in the mailbox; it cannot be answered yet.
        assert!(futures::poll!(&mut submit).is_pending());
        waiting.push(submit);
    }
    release.send(()).unwrap();
    let outcomes = futures::future::join_all(waiting).await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Ok(Outcome::Accepted))),
        "{outcomes:?}"
    );

    let head = read_head(&h.head);
    assert_eq!(head.height, 1, "all submissions in one block");
    assert_eq!(head.entries, entries.len() as u64);
    let ids: Vec<_> = entries.iter().map(SignedEntry::id).collect();
    let heights = h
        .writer
        .read(move |l| {
            ids.iter()
                .map(|id| Ok(l.entry(id)?.map(|s| s.height)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .unwrap();
    assert!(heights.iter().all(|&h| h == Some(1)), "{heights:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_submission_is_in_the_ledger() {
    let fx = Fixture::new(1, 1, 4);
    let authority = testkit::authority(&fx);
    let h = Harness::start(&fx, 8, 8, None);
    assert_eq!(
        h.submit(&authority, Origin::Client).await,
        Outcome::Accepted
    );
    let id = authority.id();
    let stored = h.writer.read(move |l| l.entry(&id)).await.unwrap();
    assert_eq!(stored.map(|s| s.height), Some(1));
    assert_eq!(read_head(&h.head).entries, 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_is_busy_at_once() {
    let fx = Fixture::new(1, 1, 4);
    let authority = testkit::authority(&fx);
    let h = Harness::start(&fx, 1, 8, None);

    let release = h.hold().await;
    let mut queued = Box::pin(
        h.writer
            .submit(authority.clone(), Source::LOCAL, Origin::Client),
    );
    assert!(futures::poll!(&mut queued).is_pending());
    let refused = h
        .writer
        .submit(testkit::junk(&fx, 1), Source::LOCAL, Origin::Client)
        .await;
    assert!(matches!(refused, Err(WriterError::Busy)), "{refused:?}");
    let read = h.writer.read(|l| Ok(l.height())).await;
    assert!(matches!(read, Err(WriterError::Busy)), "{read:?}");

    release.send(()).unwrap();
    assert!(matches!(queued.await, Ok(Outcome::Accepted)));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_carries_client_submissions_accepted_merged_or_pending() {
    // Two roots, one signature needed: a second root's copy of an entry is a merge.
    let fx = Fixture::new(2, 1, 4);
    let authority = testkit::authority(&fx);
    let cosigned = fx
        .accredit(&entity(0))
        .grant("accredit", "*")
        .controller(key(testkit::AUTHORITY_KEY_SEED).did())
        .by_roots(&[&fx.roots[1]]);
    assert_eq!(cosigned.id(), authority.id());
    let waiting = by_authority(&fx, &authority);
    let from_peer = fx
        .accredit(&entity(5))
        .grant("accredit", "*")
        .controller(key(30).did())
        .by_roots(&fx.root_keys(1));
    // Published by the authority, signed by a key that is not its controller.
    let forged = testkit::issuer(&fx, authority.id(), &key(999), 1);
    let (gossip, mut rx) = Gossip::channel(64, Arc::default());
    let h = Harness::start(&fx, 8, 8, Some(gossip.clone()));

    assert!(matches!(
        h.submit(&waiting, Origin::Client).await,
        Outcome::Pending { .. }
    ));
    assert_eq!(h.submit(&from_peer, Origin::Peer).await, Outcome::Accepted);
    assert_eq!(
        h.submit(&authority, Origin::Client).await,
        Outcome::Accepted
    );
    assert_eq!(
        h.submit(&authority, Origin::Client).await,
        Outcome::Duplicate
    );
    assert_eq!(h.submit(&cosigned, Origin::Client).await, Outcome::Merged);
    assert_eq!(h.submit(&cosigned, Origin::Peer).await, Outcome::Duplicate);
    assert!(matches!(
        h.submit(&forged, Origin::Client).await,
        Outcome::Rejected(_)
    ));

    let published = drain(&mut rx);
    let ids: Vec<_> = published.iter().map(|e| e.id()).collect();
    assert_eq!(ids, vec![waiting.id(), authority.id(), authority.id()]);
    // Pending: as submitted. Accepted: as held. Merged: the union of both copies.
    assert_eq!(*published[0], waiting);
    assert_eq!(published[1].signatures.len(), 1);
    assert_eq!(published[2].signatures.len(), 2);
    assert_eq!(gossip.dropped(), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_gossip_stream_drops_and_counts_without_holding_the_writer() {
    let fx = Fixture::new(1, 1, 4);
    let authority = testkit::authority(&fx);
    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let (gossip, mut rx) = Gossip::channel(1, Arc::default());
    let h = Harness::start(&fx, 8, 8, Some(gossip.clone()));
    assert_eq!(
        h.submit(&authority, Origin::Client).await,
        Outcome::Accepted
    );
    for n in 1..=3 {
        let e = testkit::issuer(&fx, authority.id(), &signer, n);
        assert_eq!(h.submit(&e, Origin::Client).await, Outcome::Accepted);
    }
    assert_eq!(gossip.dropped(), 3);
    let published = drain(&mut rx);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].id(), authority.id());
    assert_eq!(read_head(&h.head).entries, 4);
    h.stop().await;
}
