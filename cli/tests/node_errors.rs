//! Commands that need a node, run with none reachable: exit 2 and an error naming the
//! address tried, with the hint to start a node.

mod support;

use support::{Sandbox, TestResult, NO_NODE};

#[test]
fn unreachable_node_exits_2_and_names_the_address() -> TestResult {
    let sb = Sandbox::new()?;
    let did = sb.new_key("a.key")?;
    let cases: [&[&str]; 6] = [
        &["status"],
        &[
            "trust",
            "did:web:uni.example",
            "--action",
            "issue",
            "--resource",
            "Degree",
        ],
        &["subject", "did:web:uni.example"],
        &[
            "accredit",
            "--subject",
            &did,
            "--grant",
            "issue:Degree",
            "--key",
            "a.key",
        ],
        &["export"],
        &[
            "entry",
            "draft",
            "revoke",
            "00000000000000000000000000000000000000000000000000000000000000ff",
            "--reason",
            "r",
            "--out",
            "d.json",
        ],
    ];
    for args in cases {
        let r = sb.run(args)?;
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("error: "), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(NO_NODE), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("registry-node --dev"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
    }
    Ok(())
}

#[test]
fn node_flag_works_before_and_after_the_subcommand() -> TestResult {
    let sb = Sandbox::new()?;
    let other = "http://127.0.0.1:1";
    for args in [
        &["--node", other, "status"][..],
        &["status", "--node", other][..],
    ] {
        let r = sb.run(args)?;
        assert_eq!(r.code, Some(2));
        assert!(r.stderr.contains(other), "{}", r.stderr);
    }
    let bad = sb.run(&["status", "--node", "127.0.0.1:7070"])?;
    assert_eq!(bad.code, Some(2));
    assert!(
        bad.stderr.contains("not a usable node URL"),
        "{}",
        bad.stderr
    );
    Ok(())
}

#[test]
fn trust_exits_2_when_no_node_answers() -> TestResult {
    let sb = Sandbox::new()?;
    let r = sb.run(&[
        "trust",
        "did:web:u",
        "--action",
        "a",
        "--resource",
        "b",
        "--json",
    ])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stdout.is_empty());
    Ok(())
}

#[test]
fn import_of_a_missing_file_names_it() -> TestResult {
    let sb = Sandbox::new()?;
    let r = sb.run(&["import", "nope.jsonl"])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("nope.jsonl"), "{}", r.stderr);
    Ok(())
}
