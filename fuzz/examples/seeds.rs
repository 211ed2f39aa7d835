//! Writes a seed corpus for every fuzz target: valid inputs built from the shared test
//! registry, so the fuzzers start from the formats instead of from nothing.
//! `cargo run --release --manifest-path fuzz/Cargo.toml --example seeds -- fuzz/corpus`

use std::path::Path;

use p2p::protocol::SyncRequest;
use p2p::sync::answer;
use registry_core::codec;
use registry_core::trie::Prefix;
use registry_fuzz::{registry_of, world};

fn framed(which: u8, message: &[u8]) -> Vec<u8> {
    let mut out = vec![which];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

fn tagged(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(body);
    out
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus".into());
    let w = world();
    let entries = &w.entries[..4];
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
    for e in entries {
        seeds.push(("entry", e.encode()));
        seeds.push(("gossip", e.encode()));
        seeds.push((
            "http_json",
            tagged(0, &serde_json::to_vec(e).unwrap_or_default()),
        ));
    }
    let genesis = &w.fixture.genesis;
    seeds.push(("genesis", tagged(0, genesis.to_json().as_bytes())));
    seeds.push(("genesis", tagged(1, &codec::encode(genesis))));
    let mut reg = registry_of(&w.entries);
    let prefix = Prefix::from_nibbles(&[3]).unwrap_or_default();
    let requests = [
        SyncRequest::Root,
        SyncRequest::Nodes {
            prefixes: vec![Prefix::root(), prefix],
        },
        SyncRequest::Subtree { prefix },
        SyncRequest::Entries {
            ids: entries.iter().map(|e| e.id()).collect(),
        },
    ];
    for r in &requests {
        let reply = answer(r, &mut reg).encode();
        seeds.push(("sync_request", r.encode()));
        seeds.push(("sync_response", reply.clone()));
        seeds.push(("sync_frame", framed(0, &r.encode())));
        seeds.push(("sync_frame", framed(1, &reply)));
    }
    // Honest replies to everything, ingests finishing, time passing.
    seeds.push((
        "sync_engine",
        [0u8, 0, 0, 0, 6, 0, 6, 0, 6, 5, 200, 0, 6].to_vec(),
    ));
    seeds.push((
        "sync_engine",
        [0u8, 1, 7, 3, 9, 0, 2, 128, 4, 8, 4, 0, 6].to_vec(),
    ));
    let trqp = format!(
        r#"{{"entity_id":"did:web:e1.example","authority_id":"{}","action":"issue","resource":"R1","context":{{"time":"2026-01-02T03:04:05Z"}}}}"#,
        genesis.authority_id
    );
    seeds.push(("http_json", tagged(1, trqp.as_bytes())));
    if let Ok(keypair) = p2p::keypair_from_seed([7; 32]) {
        let peer = keypair.public().to_peer_id();
        let peer_body = format!(r#"{{"peer_id":"{peer}"}}"#);
        seeds.push(("http_json", tagged(2, peer_body.as_bytes())));
    }
    let key = registry_core::testkit::key(9);
    let seed_hex: String = key.to_seed().iter().map(|b| format!("{b:02x}")).collect();
    let key_file = format!(
        "{{\n  \"did\": \"{}\",\n  \"secret_key\": \"{seed_hex}\"\n}}\n",
        key.did()
    );
    seeds.push(("key_file", key_file.into_bytes()));
    let config = registry_node::config::Config::default()
        .to_toml()
        .unwrap_or_default();
    seeds.push(("config", config.into_bytes()));
    let mut lines = vec![0u8];
    for e in entries {
        lines.extend_from_slice(&serde_json::to_vec(e).unwrap_or_default());
        lines.extend_from_slice(b"\n\n");
    }
    seeds.push(("import", lines));

    // A proof bundle of the shared registry, and its checkpoint note.
    let witnesses = registry_core::testkit::witness_keys(4);
    let mut with_witnesses = w.entries.clone();
    with_witnesses.push(w.fixture.set_witnesses(&witnesses, 3, 0));
    let mut proven = registry_of(&with_witnesses);
    proven.advance_checkpoint(registry_core::Timestamp(1_000_000));
    let state = proven.checkpoint().state();
    let signers: Vec<_> = witnesses.iter().collect();
    let note = registry_core::testkit::signed_checkpoint(state, 1_000_005, &signers);
    let query = registry_core::proof::ProvenQuery {
        entity: registry_core::testkit::entity(1).to_string(),
        action: "issue".into(),
        resource: "R1".into(),
        kind: registry_core::entry::Kind::Authorization,
        at: registry_core::Timestamp(500),
    };
    let (bundle, _) = registry_core::proof::prove(state, &note, &query);
    seeds.push(("proof", tagged(0, &bundle.encode())));
    seeds.push(("proof", tagged(1, note.as_bytes())));

    for (i, (target, bytes)) in seeds.iter().enumerate() {
        let path = Path::new(&dir).join(target);
        std::fs::create_dir_all(&path)?;
        std::fs::write(path.join(format!("seed-{i:03}")), bytes)?;
    }
    println!("fuzz seeds: {} inputs written under {dir}", seeds.len());
    Ok(())
}
