//! What `answer` says: summaries, subtrees and entries by id, within the protocol's limits.

use super::*;

#[test]
fn answer_summarises_prefixes_as_empty_ids_or_branch() {
    let fx = fixture();
    let entries = plain_entries(&fx, 0, 60);
    let reg = registry_of(&fx, &entries);
    let root = reg.state_root();
    assert_eq!(
        answer(&SyncRequest::Root, &reg),
        SyncResponse::Root { root, entries: 60 }
    );
    // A prefix with a few ids, and one with none: 60 ids over 256 two-nibble prefixes.
    let two: Vec<Prefix> = (0..=255u8)
        .filter_map(|b| Prefix::from_nibbles(&[b >> 4, b & 15]).ok())
        .collect();
    let few = two
        .iter()
        .copied()
        .find(|p| reg.count_under(p) >= 2)
        .unwrap_or_else(|| panic!("no two-nibble prefix with two ids"));
    let none = two
        .iter()
        .copied()
        .find(|p| reg.count_under(p) == 0)
        .unwrap_or_else(|| panic!("no empty two-nibble prefix"));
    let request = SyncRequest::Nodes {
        prefixes: vec![Prefix::root(), few, none],
    };
    let SyncResponse::Nodes { summaries } = answer(&request, &reg) else {
        panic!("Nodes must be answered with Nodes");
    };
    assert_eq!(summaries.len(), 3);
    let Summary::Branch { children } = &summaries[0] else {
        panic!("60 ids at the root make a branch: {:?}", summaries[0]);
    };
    for (nibble, short) in (0u8..).zip(children) {
        let child = Prefix::root()
            .child(nibble)
            .unwrap_or_else(|| panic!("nibble {nibble}"));
        let expected = ShortHash::of(&reg.hash_at(&child));
        assert_eq!(*short, expected, "child {nibble}");
        assert_eq!(
            *short == ShortHash::default(),
            reg.count_under(&child) == 0,
            "all-zero short hash exactly for empty children"
        );
    }
    let mut under: Vec<(EntryId, ShortHash)> = entries
        .iter()
        .map(|e| (e.id(), ShortHash::of(&e.signatures_digest())))
        .filter(|(id, _)| few.covers(id))
        .collect();
    under.sort_by_key(|(id, _)| *id);
    assert!(under.len() <= LEAF_IDS);
    let (ids, values) = under.into_iter().unzip();
    assert_eq!(summaries[1], Summary::Ids { ids, values });
    assert_eq!(summaries[2], Summary::Empty);
    // Over the list limit: refused, not answered partly.
    let over = SyncRequest::Nodes {
        prefixes: vec![Prefix::root(); MAX_PREFIXES + 1],
    };
    assert!(matches!(answer(&over, &reg), SyncResponse::Refused { .. }));
}

/// Accreditations of about 16 KiB each (64 long grants), to reach the reply budget with
/// few entries.
fn big_entries(fx: &Fixture, n: u64) -> Vec<SignedEntry> {
    let roots = fx.root_keys(1);
    let long = "r".repeat(240);
    let controller = key(200).did();
    (0..n)
        .map(|i| {
            let mut d = fx
                .accredit(&entity(50_000 + i))
                .controller(controller)
                .nonce(i);
            for g in 0..64 {
                d = d.grant("issue", &format!("{long}{g:03}"));
            }
            d.by_roots(&roots)
        })
        .collect()
}

#[test]
fn answer_subtree_returns_everything_under_the_prefix_or_too_large() {
    let fx = fixture();
    let entries = big_entries(&fx, 300);
    let size: usize = entries.iter().map(|e| e.encode().len()).sum();
    assert!(
        size > REPLY_BUDGET_BYTES,
        "the test needs more than one reply"
    );
    let reg = registry_of(&fx, &entries);
    assert_eq!(
        answer(
            &SyncRequest::Subtree {
                prefix: Prefix::root()
            },
            &reg
        ),
        SyncResponse::TooLarge { count: 300 }
    );
    let seven = Prefix::from_nibbles(&[7]).unwrap();
    let SyncResponse::Subtree { entries: got } =
        answer(&SyncRequest::Subtree { prefix: seven }, &reg)
    else {
        panic!("a sixteenth of the set fits in one reply");
    };
    let mut got: Vec<EntryId> = got.iter().map(|e| e.id()).collect();
    got.sort();
    let mut want: Vec<EntryId> = entries
        .iter()
        .map(|e| e.id())
        .filter(|id| seven.covers(id))
        .collect();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

#[test]
fn answer_entries_returns_held_ones_once_within_the_budget() {
    let fx = fixture();
    let entries = big_entries(&fx, 300);
    let reg = registry_of(&fx, &entries);
    let a = entries[0].id();
    let b = entries[1].id();
    let request = SyncRequest::Entries {
        ids: vec![a, Hash([9; 32]), b, a],
    };
    let SyncResponse::Entries { entries: got } = answer(&request, &reg) else {
        panic!("Entries must be answered with Entries");
    };
    let got: Vec<EntryId> = got.iter().map(|e| e.id()).collect();
    assert_eq!(got, vec![a, b]);
    // All 300 (about 5 MB) do not fit: a prefix of them does, under the budget.
    let ids: Vec<EntryId> = entries.iter().map(|e| e.id()).collect();
    let SyncResponse::Entries { entries: got } =
        answer(&SyncRequest::Entries { ids: ids.clone() }, &reg)
    else {
        panic!("Entries must be answered with Entries");
    };
    let bytes: usize = got.iter().map(|e| e.encode().len()).sum();
    assert!(!got.is_empty() && got.len() < ids.len());
    assert!(bytes <= REPLY_BUDGET_BYTES);
    let prefix: Vec<EntryId> = got.iter().map(|e| e.id()).collect();
    assert_eq!(prefix, ids[..got.len()]);
    let over = SyncRequest::Entries {
        ids: vec![a; MAX_IDS + 1],
    };
    assert!(matches!(answer(&over, &reg), SyncResponse::Refused { .. }));
}
