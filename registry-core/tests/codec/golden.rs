//! Golden fixtures.
//!
//! `tests/fixtures/<name>.hex` holds two lines: the hex of the canonical encoding, then the
//! hex of the value's id (entry id, registry id or block hash). `tests/fixtures/<name>.json`
//! holds the JSON form (what the HTTP API and the CLI's files carry). A missing or
//! different fixture fails the test.
//!
//! Regenerating the fixtures (`REGISTRY_REGENERATE_FIXTURES=1 cargo test -p registry-core
//! --test codec`) is a FORMAT CHANGE: every signature, entry id, registry id and ledger
//! ever written changes meaning. Do it only on purpose, in its own commit, with the
//! reason in the message; never to make a failing test pass.

use super::*;

const REGENERATE_VAR: &str = "REGISTRY_REGENERATE_FIXTURES";

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn regenerating() -> bool {
    std::env::var(REGENERATE_VAR).is_ok_and(|v| v == "1")
}

fn read_fixture(name: &str) -> String {
    let path = fixture_dir().join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden fixture {} is missing or unreadable ({e}). Fixtures are never created \
             implicitly: {REGENERATE_VAR}=1 writes them, and doing so is a format change.",
            path.display()
        )
    })
}

/// Compares `value`'s encoding, id and JSON form with the stored fixture `name`, and
/// decodes the stored forms back to `value`.
fn check_golden<T>(
    name: &str,
    value: &T,
    id: Hash,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let bytes = codec::encode(value);
    let json = serde_json::to_string_pretty(value).unwrap() + "\n";
    if regenerating() {
        // A format change: see the module documentation.
        fs::create_dir_all(fixture_dir()).unwrap();
        let hex_text = format!("{}\n{}\n", hex::encode(&bytes), id.to_hex());
        fs::write(fixture_dir().join(format!("{name}.hex")), hex_text).unwrap();
        fs::write(fixture_dir().join(format!("{name}.json")), &json).unwrap();
    }

    let stored = read_fixture(&format!("{name}.hex"));
    let mut lines = stored.lines();
    let stored_hex = lines.next().unwrap_or_default();
    let stored_id = lines.next().unwrap_or_default();
    assert_eq!(
        hex::encode(&bytes),
        stored_hex,
        "{name}: the canonical encoding changed (a format change)"
    );
    assert_eq!(
        id.to_hex(),
        stored_id,
        "{name}: the id changed (a format change)"
    );
    let stored_bytes = hex::decode(stored_hex).unwrap();
    assert_eq!(
        decode(&stored_bytes).as_ref(),
        Ok(value),
        "{name}: fixture does not decode"
    );

    let stored_json = read_fixture(&format!("{name}.json"));
    let want: serde_json::Value = serde_json::from_str(&stored_json).unwrap();
    assert_eq!(
        serde_json::to_value(value).unwrap(),
        want,
        "{name}: the JSON form changed"
    );
    let back: T = serde_json::from_str(&stored_json).unwrap();
    assert_eq!(
        &back, value,
        "{name}: JSON fixture does not decode to the value"
    );
}

#[test]
fn golden_genesis() {
    let g = genesis();
    g.validate().unwrap();
    assert_eq!(g.roots.len(), 3);
    // The registry id is the domain-separated hash of exactly the fixture bytes.
    assert_eq!(
        g.registry_id(),
        codec::hash_with_domain(domain::GENESIS, &codec::encode(&g))
    );
    assert_eq!(Genesis::from_json(&g.to_json()), Ok(g.clone()));
    check_golden("genesis", &g, g.registry_id(), |b| {
        codec::decode(b, MAX_MESSAGE_BYTES)
    });
}

#[test]
fn golden_entries() {
    let registry = genesis().registry_id();
    let mut verifier = Verifier::new();
    for (name, entry) in all_entries() {
        // The fixtures are entries a node would accept structurally, with good signatures.
        entry
            .check_structure(&registry)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        verifier
            .verify_entry(&entry)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let body_id = codec::hash_with_domain(domain::ENTRY, &codec::encode(&entry.body));
        assert_eq!(entry.id(), body_id, "{name}");
        assert_eq!(entry.encode(), codec::encode(&entry), "{name}");
        check_golden(name, &entry, entry.id(), SignedEntry::decode);
    }
}

#[test]
fn golden_block() {
    let b = block();
    assert_eq!(
        b.hash(),
        codec::hash_with_domain(domain::BLOCK, &b.encode())
    );
    check_golden("block", &b, b.hash(), Block::decode);
}

#[test]
fn fixture_entries_cover_every_op_kind() {
    let entries = all_entries();
    let has = |f: &dyn Fn(&SignedEntry) -> bool| entries.iter().any(|(_, e)| f(e));
    let accr = |e: &SignedEntry, kind, roots: bool| {
        e.accreditation().is_some_and(|a| a.kind == kind)
            && (e.body.author == Author::Roots) == roots
    };
    assert!(has(
        &|e| accr(e, Kind::Authorization, true) && e.signatures.len() == 2
    ));
    assert!(has(&|e| accr(e, Kind::Recognition, false)));
    assert!(has(
        &|e| matches!(e.body.op, Op::Revoke(_)) && matches!(e.body.author, Author::Holder { .. })
    ));
    assert!(has(&|e| matches!(
        e.body.op,
        Op::Governance(Governance::AddRoot(_))
    )));
    assert!(has(&|e| matches!(
        e.body.op,
        Op::Governance(Governance::RemoveRoot(_))
    )));
    assert!(has(&|e| matches!(
        e.body.op,
        Op::Governance(Governance::SetThreshold(_))
    )));
    assert!(has(&|e| matches!(
        &e.body.op,
        Op::Governance(Governance::SetWitnesses(w)) if w.keys.len() > usize::from(w.quorum)
    )));
    let a = accredit_authorization();
    let a = a.accreditation().unwrap();
    assert!(a.label.is_some() && a.valid_until.is_some());
    assert!(a
        .grants
        .iter()
        .any(|g| g.action == "accredit" && g.resource == "*"));
}
