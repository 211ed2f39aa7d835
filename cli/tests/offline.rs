//! The commands that need no node: keys, genesis, offline multi-signature drafts, and the
//! messages for malformed arguments.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod support;

use registry_core::entry::{Author, Op, SignedEntry};
use registry_core::verify::Verifier;
use registry_core::Genesis;
use support::{Sandbox, TestResult};

#[test]
fn key_new_writes_0600_refuses_overwrite_and_show_refuses_0644() -> TestResult {
    let sb = Sandbox::new()?;
    let did = sb.new_key("a.key")?;
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    #[cfg(unix)]
    assert_eq!(support::mode(&sb.path("a.key")), 0o600);
    let show = sb.run(&["key", "show", "a.key"])?;
    assert!(show.ok(), "{show:?}");
    assert_eq!(show.stdout.trim(), did);
    let again = sb.run(&["key", "new", "--out", "a.key"])?;
    assert_eq!(again.code, Some(2));
    assert!(again.stderr.contains("refusing to overwrite"), "{again:?}");
    assert_eq!(sb.run(&["key", "show", "a.key"])?.stdout.trim(), did);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(sb.path("a.key"), std::fs::Permissions::from_mode(0o644))?;
        let r = sb.run(&["key", "show", "a.key"])?;
        assert_eq!(r.code, Some(2));
        assert!(r.stderr.contains("chmod 600 a.key"), "{r:?}");
    }
    let missing = sb.run(&["key", "show", "nope.key"])?;
    assert_eq!(missing.code, Some(2));
    assert!(missing.stderr.starts_with("error: ") && missing.stderr.contains("nope.key"));
    // The cause is said once, not once per level of the error chain.
    assert_eq!(
        missing.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        missing.stderr
    );
    // A file that is no key file at all (a genesis, mode 0644) is named as such, with no
    // advice to chmod it.
    let g = sb.run(&[
        "genesis",
        "new",
        "--authority-id",
        "did:web:r.example",
        "--name",
        "R",
        "--root",
        &did,
        "--threshold",
        "1",
        "--out",
        "genesis.json",
    ])?;
    assert!(g.ok(), "{g:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            sb.path("genesis.json"),
            std::fs::Permissions::from_mode(0o644),
        )?;
    }
    let r = sb.run(&["key", "show", "genesis.json"])?;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("genesis.json is not a key file"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("chmod"), "{}", r.stderr);
    let json = sb.run(&["key", "new", "--out", "b.key", "--json"])?;
    let v: serde_json::Value = serde_json::from_str(&json.stdout)?;
    assert!(
        v["did"].as_str().is_some_and(|d| d.starts_with("did:key:")),
        "{v}"
    );
    Ok(())
}

#[test]
fn genesis_new_prints_the_registry_id_of_the_file() -> TestResult {
    let sb = Sandbox::new()?;
    let (a, b) = (sb.new_key("a.key")?, sb.new_key("b.key")?);
    let r = sb.run(&[
        "genesis",
        "new",
        "--authority-id",
        "did:web:edu.example",
        "--name",
        "Edu",
        "--root",
        &a,
        &b,
        "--threshold",
        "2",
        "--created-at",
        "2026-01-01T00:00:00Z",
        "--out",
        "genesis.json",
    ])?;
    assert!(r.ok(), "{r:?}");
    let g = Genesis::from_json(&std::fs::read_to_string(sb.path("genesis.json"))?)?;
    assert_eq!(r.stdout.trim(), g.registry_id().to_hex());
    assert_eq!((g.threshold, g.max_depth, g.roots.len()), (2, 4, 2));
    assert_eq!(g.created_at.0, 1_767_225_600);
    let again = sb.run(&[
        "genesis",
        "new",
        "--authority-id",
        "did:web:edu.example",
        "--name",
        "Edu",
        "--root",
        &a,
        "--threshold",
        "1",
        "--out",
        "genesis.json",
    ])?;
    assert!(again.stderr.contains("refusing to overwrite"), "{again:?}");
    let too_high = sb.run(&[
        "genesis",
        "new",
        "--authority-id",
        "did:web:edu.example",
        "--name",
        "Edu",
        "--root",
        &a,
        "--threshold",
        "2",
        "--out",
        "g2.json",
    ])?;
    assert_eq!(too_high.code, Some(2));
    assert!(too_high.stderr.contains("threshold"), "{too_high:?}");
    Ok(())
}

#[test]
fn draft_sign_with_two_keys_and_show() -> TestResult {
    let sb = Sandbox::new()?;
    let (a, b) = (sb.new_key("a.key")?, sb.new_key("b.key")?);
    let g = sb.run(&[
        "genesis",
        "new",
        "--authority-id",
        "did:web:edu.example",
        "--name",
        "Edu",
        "--root",
        &a,
        "--root",
        &b,
        "--threshold",
        "2",
        "--out",
        "genesis.json",
    ])?;
    assert!(g.ok(), "{g:?}");
    let d = sb.run(&[
        "entry",
        "draft",
        "accredit",
        "--subject",
        "did:web:uni.example",
        "--grant",
        "issue:UniversityDegree",
        "accredit:UniversityDegree",
        "--controller",
        &a,
        "--label",
        "University of Example",
        "--valid-until",
        "2030-01-01T00:00:00Z",
        "--genesis",
        "genesis.json",
        "--out",
        "draft.json",
    ])?;
    assert!(d.ok(), "{d:?}");
    let id = d.stdout.trim().to_string();
    for key in ["a.key", "b.key"] {
        let s = sb.run(&["entry", "sign", "draft.json", "--key", key])?;
        assert!(s.ok(), "{s:?}");
        assert_eq!(s.stdout.trim(), id);
    }
    let twice = sb.run(&["entry", "sign", "draft.json", "--key", "a.key"])?;
    assert_eq!(twice.code, Some(2));
    assert!(twice.stderr.contains("already signed by"), "{twice:?}");

    let entry: SignedEntry =
        serde_json::from_str(&std::fs::read_to_string(sb.path("draft.json"))?)?;
    assert_eq!(entry.id().to_hex(), id);
    assert_eq!(entry.body.author, Author::Roots);
    assert!(matches!(&entry.body.op, Op::Accredit(acc) if acc.grants.len() == 2));
    assert_eq!(entry.signatures.len(), 2);
    Verifier::new().verify_entry(&entry)?;
    let genesis = Genesis::from_json(&std::fs::read_to_string(sb.path("genesis.json"))?)?;
    entry.check_structure(&genesis.registry_id())?;

    let show = sb.run(&["entry", "show", "draft.json"])?;
    assert!(show.ok() && show.stdout.contains(&id), "{show:?}");
    assert_eq!(
        show.stdout
            .lines()
            .filter(|l| l.ends_with("  valid"))
            .count(),
        2
    );
    let json = sb.run(&["entry", "show", "draft.json", "--json"])?;
    let v: serde_json::Value = serde_json::from_str(&json.stdout)?;
    assert_eq!(v["signatures"][1]["valid"], serde_json::Value::Bool(true));
    Ok(())
}

#[test]
fn a_changed_entry_cannot_be_signed_further() -> TestResult {
    let sb = Sandbox::new()?;
    let a = sb.new_key("a.key")?;
    sb.new_key("b.key")?;
    sb.run(&[
        "genesis",
        "new",
        "--authority-id",
        "did:web:edu.example",
        "--name",
        "Edu",
        "--root",
        &a,
        "--threshold",
        "1",
        "--out",
        "genesis.json",
    ])?;
    let target = "ab".repeat(32);
    let d = sb.run(&[
        "entry",
        "draft",
        "revoke",
        &target,
        "--reason",
        "key compromised",
        "--genesis",
        "genesis.json",
        "--out",
        "rev.json",
    ])?;
    assert!(d.ok(), "{d:?}");
    assert!(sb
        .run(&["entry", "sign", "rev.json", "--key", "a.key"])?
        .ok());
    let text = std::fs::read_to_string(sb.path("rev.json"))?;
    std::fs::write(
        sb.path("rev.json"),
        text.replace("key compromised", "key lost"),
    )?;
    let r = sb.run(&["entry", "sign", "rev.json", "--key", "b.key"])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("does not match"), "{r:?}");
    let show = sb.run(&["entry", "show", "rev.json"])?;
    assert!(show.stdout.contains("INVALID"), "{show:?}");
    Ok(())
}

#[test]
fn a_past_valid_until_says_that_validity_starts_now() -> TestResult {
    let sb = Sandbox::new()?;
    let a = sb.new_key("a.key")?;
    let base = [
        "accredit",
        "--subject",
        &a,
        "--grant",
        "issue:Degree",
        "--key",
        "a.key",
    ];
    let past = [&base[..], &["--valid-until", "2020-01-01T00:00:00Z"]].concat();
    let r = sb.run(&past)?;
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr
            .contains("--valid-until 2020-01-01T00:00:00Z is not in the future")
            && r.stderr
                .contains("without --valid-from, validity starts now"),
        "{}",
        r.stderr
    );
    // Refused before any node is asked (none answers here).
    assert!(!r.stderr.contains(support::NO_NODE), "{}", r.stderr);
    let both = [
        &base[..],
        &[
            "--valid-from",
            "2030-01-01T00:00:00Z",
            "--valid-until",
            "2029-01-01T00:00:00Z",
        ],
    ]
    .concat();
    let r = sb.run(&both)?;
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("--valid-until 2029-01-01T00:00:00Z must be later than --valid-from 2030-01-01T00:00:00Z"),
        "{}",
        r.stderr
    );
    // The same for a draft, made offline.
    let g = sb.run(&[
        "genesis",
        "new",
        "--authority-id",
        "did:web:a.example",
        "--name",
        "a",
        "--root",
        &a,
        "--threshold",
        "1",
        "--out",
        "g.json",
    ])?;
    assert!(g.ok(), "{g:?}");
    let r = sb.run(&[
        "entry",
        "draft",
        "accredit",
        "--subject",
        &a,
        "--grant",
        "issue:Degree",
        "--valid-until",
        "2020-01-01T00:00:00Z",
        "--genesis",
        "g.json",
        "--out",
        "d.json",
    ])?;
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr
            .contains("without --valid-from, validity starts now"),
        "{}",
        r.stderr
    );
    assert!(!sb.path("d.json").exists());
    Ok(())
}

#[test]
fn malformed_arguments_get_precise_messages() -> TestResult {
    let sb = Sandbox::new()?;
    let a = sb.new_key("a.key")?;
    let cases: [(&[&str], &str); 6] = [
        (
            &["trust", "uni.example", "--action", "a", "--resource", "b"],
            "neither a DID",
        ),
        (
            &[
                "trust",
                "did:web:u",
                "--action",
                "a",
                "--resource",
                "b",
                "--at",
                "soon",
            ],
            "RFC 3339",
        ),
        (
            &[
                "accredit",
                "--subject",
                "did:web:u",
                "--grant",
                "issue",
                "--key",
                "a.key",
            ],
            "ACTION:RESOURCE",
        ),
        (
            &[
                "genesis",
                "new",
                "--authority-id",
                "did:web:x",
                "--name",
                "n",
                "--root",
                "did:web:x",
                "--threshold",
                "1",
                "--out",
                "g.json",
            ],
            "not a did:key",
        ),
        (
            &["revoke", "xyz", "--key", "a.key", "--reason", "r"],
            "64 hex digits",
        ),
        (
            &[
                "accredit",
                "--subject",
                "did:web:u",
                "--grant",
                "a:b",
                "--key",
                "a.key",
                "--valid-from",
                "31/12/2026",
            ],
            "unix seconds",
        ),
    ];
    for (args, needle) in cases {
        let r = sb.run(args)?;
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
    // A did:web subject needs a controller; said before any node is contacted.
    let r = sb.run(&[
        "accredit",
        "--subject",
        "did:web:u",
        "--grant",
        "a:b",
        "--key",
        "a.key",
    ])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--controller"), "{r:?}");
    // A missing key file is named before any node is contacted.
    let r = sb.run(&[
        "accredit",
        "--subject",
        "did:web:u",
        "--grant",
        "a:b",
        "--controller",
        &a,
        "--key",
        "missing.key",
    ])?;
    assert!(r.stderr.contains("missing.key"), "{r:?}");
    Ok(())
}

/// A closed stdout (`registry ... | head` after head exited) is an ordinary error: exit 2
/// and one line on stderr, never a panic, for text and JSON output alike.
#[test]
fn a_closed_stdout_is_an_error_not_a_panic() -> TestResult {
    let sb = Sandbox::new()?;
    let a = sb.new_key("a.key")?;
    let genesis = [
        "genesis",
        "new",
        "--authority-id",
        "did:web:edu.example",
        "--name",
        "Edu",
        "--root",
        &a,
        "--threshold",
        "1",
        "--out",
        "g.json",
    ];
    assert!(sb.run(&genesis)?.ok());
    let draft = [
        "entry",
        "draft",
        "accredit",
        "--subject",
        &a,
        "--grant",
        "issue:Degree",
        "--genesis",
        "g.json",
        "--out",
        "e.json",
    ];
    assert!(sb.run(&draft)?.ok());
    let cases: [&[&str]; 7] = [
        &["key", "new", "--out", "b.key"],
        &["key", "show", "a.key"],
        &["key", "show", "a.key", "--json"],
        &[
            "genesis",
            "new",
            "--authority-id",
            "did:web:x.example",
            "--name",
            "X",
            "--root",
            &a,
            "--threshold",
            "1",
            "--out",
            "g2.json",
        ],
        &["entry", "show", "e.json"],
        &["entry", "sign", "e.json", "--key", "a.key"],
        &["entry", "show", "e.json", "--json"],
    ];
    for args in cases {
        let r = sb.run_closed_stdout(args)?;
        assert_eq!(r.code, Some(2), "registry {args:?}: {r:?}");
        assert!(!r.stderr.contains("panicked"), "registry {args:?}: {r:?}");
        if args.contains(&"--json") {
            // With --json the error is the JSON object every error is.
            let v: serde_json::Value = serde_json::from_str(r.stderr.trim())?;
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with("cannot write to standard output") && v["error"]["exit"] == 2,
                "registry {args:?}: {r:?}"
            );
        } else {
            assert!(
                r.stderr
                    .starts_with("error: cannot write to standard output"),
                "registry {args:?}: {r:?}"
            );
        }
    }
    // What the command did before printing stands: the key exists, the entry is signed.
    assert!(sb.run(&["key", "show", "b.key"])?.ok());
    let signed: SignedEntry = serde_json::from_str(&std::fs::read_to_string(sb.path("e.json"))?)?;
    assert_eq!(signed.signatures.len(), 1);
    Ok(())
}
