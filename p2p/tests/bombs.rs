//! Allocation bombs and malformed bytes against the sync protocol: its requests and
//! replies, decoded alone and read through the stream framing (4-byte length, then the
//! message). Each input must be rejected with a decode or framing error, and rejecting it
//! must allocate less than 1 MiB, measured by a counting global allocator (`cap`): the
//! growth of its running sum of allocated bytes over one input bounds the growth of the
//! peak of live memory.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::alloc::System;
use std::io;
use std::sync::Mutex;

use cap::Cap;
use futures::executor::block_on;
use futures::io::Cursor;
use libp2p::request_response::Codec;
use libp2p::StreamProtocol;
use p2p::codec::{broke_protocol, SyncCodec};
use p2p::protocol::{
    ShortHash, Summary, SyncRequest, SyncResponse, LEAF_IDS, MAX_ENTRIES, MAX_IDS, MAX_PREFIXES,
    MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES,
};
use registry_core::codec;
use registry_core::testkit::bombs::{decode_kind, length_bombs, mutations, varint, Case, Tally};
use registry_core::testkit::{authority, issuer, key, Fixture, AUTHORITY_KEY_SEED};
use registry_core::trie::Prefix;
use registry_core::{Hash, SignedEntry};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

static SERIAL: Mutex<()> = Mutex::new(());

fn allocated_total() -> usize {
    ALLOCATOR.total_allocated()
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn request_decoder(b: &[u8]) -> Option<&'static str> {
    SyncRequest::decode(b).err().as_ref().map(decode_kind)
}

fn response_decoder(b: &[u8]) -> Option<&'static str> {
    SyncResponse::decode(b).err().as_ref().map(decode_kind)
}

fn frame_kind(e: &io::Error) -> &'static str {
    if broke_protocol(e) {
        "broke_protocol"
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        "ended_early"
    } else {
        "other_io"
    }
}

fn protocol() -> StreamProtocol {
    StreamProtocol::new("/trust-registry/test/sync/1")
}

/// Reads one request from a stream holding `b`, as the responder does.
fn framed_request(b: &[u8]) -> Option<&'static str> {
    let read = block_on(SyncCodec::default().read_request(&protocol(), &mut Cursor::new(b)));
    read.err().as_ref().map(frame_kind)
}

/// Reads one reply from a stream holding `b`, as the requester does.
fn framed_response(b: &[u8]) -> Option<&'static str> {
    let read = block_on(SyncCodec::default().read_response(&protocol(), &mut Cursor::new(b)));
    read.err().as_ref().map(frame_kind)
}

fn frame(message: &[u8]) -> Vec<u8> {
    let mut b = (message.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(message);
    b
}

fn run_all(name: &str, cases: &[Case], decode: &dyn Fn(&[u8]) -> Option<&'static str>) {
    let mut tally = Tally::new(name);
    for c in cases {
        tally.run(&allocated_total, c, decode);
    }
    tally.finish();
}

fn prefix(nibbles: &[u8]) -> Prefix {
    Prefix::from_nibbles(nibbles).unwrap()
}

fn entries(fx: &Fixture) -> Vec<SignedEntry> {
    let auth = authority(fx);
    let iss = issuer(fx, auth.id(), &key(AUTHORITY_KEY_SEED), 1);
    vec![auth, iss]
}

fn sample_requests() -> Vec<SyncRequest> {
    vec![
        SyncRequest::Root,
        SyncRequest::Nodes {
            prefixes: vec![Prefix::root(), prefix(&[1, 2, 3])],
        },
        SyncRequest::Subtree {
            prefix: prefix(&[4, 5]),
        },
        SyncRequest::Entries {
            ids: vec![Hash([7; 32]), Hash([8; 32])],
        },
    ]
}

fn sample_responses(fx: &Fixture) -> Vec<SyncResponse> {
    vec![
        SyncResponse::Root {
            root: Hash([1; 32]),
            entries: 300,
        },
        SyncResponse::Nodes {
            summaries: vec![
                Summary::Empty,
                // Id bytes of 0xf0: an id shifted by a spliced varint then reads as a
                // list length of 240, over LEAF_IDS, rather than as another valid
                // message (the splices must yield hostile inputs, not valid ones).
                Summary::Ids {
                    ids: vec![Hash([0xf0; 32])],
                    values: vec![ShortHash([0xf0; 8])],
                },
                Summary::Branch {
                    children: [ShortHash([3; 8]); 16],
                },
            ],
        },
        SyncResponse::Subtree {
            entries: entries(fx),
        },
        SyncResponse::TooLarge { count: 20_000 },
        SyncResponse::Entries {
            entries: entries(fx)[1..].to_vec(),
        },
        SyncResponse::Refused {
            reason: "busy".into(),
        },
    ]
}

fn request_cases() -> Vec<Case> {
    let tail = [0x41u8; 16];
    let mut cases = Vec::new();
    cases.extend(length_bombs("Nodes prefixes length", &varint(1), &tail));
    cases.extend(length_bombs("Entries ids length", &varint(3), &tail));
    for (tag, what, max) in [(1, "prefixes", MAX_PREFIXES), (3, "ids", MAX_IDS)] {
        for n in [max + 1, max] {
            let mut b = varint(tag);
            b.extend(varint(n as u64));
            cases.push(Case {
                what: format!("{what} declares {n} and holds none"),
                bytes: b,
            });
        }
    }
    for (i, r) in sample_requests().iter().enumerate() {
        let name = format!("request {i}");
        cases.extend(mutations(&name, &r.encode(), &|b| {
            request_decoder(b).is_none()
        }));
    }
    cases
}

fn response_cases(fx: &Fixture) -> Vec<Case> {
    let tail = [0x41u8; 16];
    let mut cases = Vec::new();
    cases.extend(length_bombs("Nodes summaries length", &varint(1), &tail));
    cases.extend(length_bombs("Subtree entries length", &varint(2), &tail));
    cases.extend(length_bombs("Entries entries length", &varint(4), &tail));
    cases.extend(length_bombs("Refused reason length", &varint(5), &tail));
    // A reason just under each decoding limit tier, declared by a few bytes: bincode
    // allocates a declared string before reading it.
    for n in [60_000u64, 1_000_000, 4_000_000, 15_000_000] {
        let mut b = varint(5);
        b.extend(varint(n));
        b.extend_from_slice(b"busy");
        cases.push(Case {
            what: format!("Refused reason declares {n} bytes and holds 4"),
            bytes: b,
        });
    }
    // Nested: the outer list at its maximum, its first element's inner list huge.
    let mut ids_at = varint(1);
    ids_at.extend(varint(MAX_PREFIXES as u64));
    ids_at.extend(varint(1)); // Summary::Ids
    cases.extend(length_bombs(
        "summaries at maximum, first Ids length",
        &ids_at,
        &tail,
    ));
    let e = &entries(fx)[1];
    for tag in [2u64, 4] {
        let mut sigs_at = varint(tag);
        sigs_at.extend(varint(MAX_ENTRIES as u64));
        sigs_at.extend(codec::encode(&e.body));
        cases.extend(length_bombs(
            &format!("reply {tag} entries at maximum, first signatures length"),
            &sigs_at,
            &tail,
        ));
    }
    for (tag, what, max) in [
        (1, "summaries", MAX_PREFIXES),
        (2, "subtree entries", MAX_ENTRIES),
        (4, "entries", MAX_ENTRIES),
    ] {
        for n in [max + 1, max] {
            let mut b = varint(tag);
            b.extend(varint(n as u64));
            cases.push(Case {
                what: format!("{what} declares {n} and holds none"),
                bytes: b,
            });
        }
    }
    let mut over = varint(1);
    over.extend(varint(1));
    over.extend(varint(1));
    over.extend(varint(LEAF_IDS as u64 + 1));
    cases.push(Case {
        what: "Summary::Ids declares LEAF_IDS + 1".into(),
        bytes: over,
    });
    for (i, r) in sample_responses(fx).iter().enumerate() {
        let name = format!("reply {i}");
        cases.extend(mutations(&name, &r.encode(), &|b| {
            response_decoder(b).is_none()
        }));
    }
    cases
}

#[test]
fn sync_request_bombs_are_rejected_by_decoding_within_a_mebibyte() {
    let _serial = lock();
    for r in sample_requests() {
        assert_eq!(SyncRequest::decode(&r.encode()), Ok(r));
    }
    run_all("sync request", &request_cases(), &request_decoder);
}

#[test]
fn sync_reply_bombs_are_rejected_by_decoding_within_a_mebibyte() {
    let _serial = lock();
    let fx = Fixture::new(1, 1, 4);
    for r in sample_responses(&fx) {
        assert_eq!(SyncResponse::decode(&r.encode()), Ok(r));
    }
    run_all("sync reply", &response_cases(&fx), &response_decoder);
}

/// Frame headers that lie about the length, and every message bomb inside a frame.
fn frame_cases(limit: usize, messages: &[Case]) -> Vec<Case> {
    let mut cases = Vec::new();
    for declared in [
        u32::MAX as usize,
        1 << 31,
        limit + 1,
        limit,
        limit / 2,
        64 * 1024,
    ] {
        for sent in [0usize, 10, 1000] {
            let mut b = (declared as u32).to_be_bytes().to_vec();
            b.extend(std::iter::repeat_n(0xa5u8, sent));
            cases.push(Case {
                what: format!("frame declares {declared} bytes, {sent} sent"),
                bytes: b,
            });
        }
    }
    for n in 0..4 {
        cases.push(Case {
            what: format!("frame header cut to {n} bytes"),
            bytes: vec![0; n],
        });
    }
    for m in messages {
        cases.push(Case {
            what: format!("framed {}", m.what),
            bytes: frame(&m.bytes),
        });
    }
    cases
}

#[test]
fn framed_sync_bombs_are_rejected_within_a_mebibyte() {
    let _serial = lock();
    let fx = Fixture::new(1, 1, 4);
    // Valid messages read through the framing.
    for r in sample_requests() {
        let got = block_on(
            SyncCodec::default().read_request(&protocol(), &mut Cursor::new(frame(&r.encode()))),
        );
        assert_eq!(got.map_err(|e| e.to_string()), Ok(r));
    }
    for r in sample_responses(&fx) {
        let got = block_on(
            SyncCodec::default().read_response(&protocol(), &mut Cursor::new(frame(&r.encode()))),
        );
        assert_eq!(got.map_err(|e| e.to_string()), Ok(r));
    }
    let requests = frame_cases(MAX_REQUEST_BYTES, &request_cases());
    run_all("framed sync request", &requests, &framed_request);
    let replies = frame_cases(MAX_RESPONSE_BYTES, &response_cases(&fx));
    run_all("framed sync reply", &replies, &framed_response);
}
