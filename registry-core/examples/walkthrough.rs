//! The registry end to end, in one process, on a real sled ledger: two root keys with
//! threshold 2 accredit an accrediting authority, which accredits a university; a
//! relying party's question is answered with its chain; the authority is revoked and the
//! answer changes, while the answer about a time before the revocation does not; the
//! ledger is closed, reopened, and fully verified.
//!
//! Run: `cargo run --release -p registry-core --example walkthrough [-- DATA_DIR]`
//! (default data directory: `./.registry-walkthrough`, replaced on each run).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow_free::Fallible;
use registry_core::entry::{Accreditation, Author, EntryBody, Grant, Kind, Op, Revocation};
use registry_core::eval::{evaluate, Decision, Query};
use registry_core::keys::{read_key_file, write_key_file};
use registry_core::registry::{Outcome, Registry};
use registry_core::store::Ledger;
use registry_core::{EntityId, Genesis, SecretKey, SignedEntry, Timestamp};

/// Keeps the example free of extra dependencies: any error, boxed.
mod anyhow_free {
    pub type Fallible<T> = Result<T, Box<dyn std::error::Error>>;
}

fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

fn fresh_key() -> Fallible<SecretKey> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed))?;
    Ok(SecretKey::from_seed(seed))
}

fn submit(
    registry: &mut Registry,
    ledger: &mut Ledger,
    entry: SignedEntry,
    what: &str,
) -> Fallible<()> {
    let id = entry.id();
    let report = registry.ingest(vec![entry]);
    match &report.outcomes[0].1 {
        Outcome::Accepted => {}
        other => return Err(format!("{what}: not accepted: {other:?}").into()),
    }
    let accepted: Vec<SignedEntry> = report.accepted.iter().map(|e| (**e).clone()).collect();
    let root = registry.state_root();
    let block = ledger.append(&accepted, now(), root)?;
    println!(
        "  {what}\n    entry {id}\n    durable in block {} (state root {})",
        block.height,
        &root.to_hex()[..16]
    );
    Ok(())
}

fn ask(registry: &Registry, who: &EntityId, at: Timestamp, label: &str) -> bool {
    let q = Query {
        entity: who.as_str(),
        action: "issue",
        resource: "UniversityDegree",
        kind: Kind::Authorization,
    };
    let d = evaluate(registry.state(), &q, at);
    match &d {
        Decision::Authorized { chain } => {
            println!(
                "  {label}: AUTHORIZED at {at} (chain of {} accreditations up to the roots)",
                chain.len()
            )
        }
        Decision::Denied { reason, .. } => println!("  {label}: NOT authorized at {at}: {reason}"),
    }
    d.is_authorized()
}

fn accreditation(
    subject: &EntityId,
    grant: (&str, &str),
    controller: &SecretKey,
    label: &str,
    from: Timestamp,
) -> Op {
    Op::Accredit(Accreditation {
        subject: subject.clone(),
        kind: Kind::Authorization,
        grants: vec![Grant {
            action: grant.0.into(),
            resource: grant.1.into(),
        }],
        controllers: vec![controller.did()],
        valid_from: from,
        valid_until: None,
        label: Some(label.into()),
    })
}

fn main() -> Fallible<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".registry-walkthrough"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(dir.join("keys"))?;
    println!("data directory: {}", dir.display());

    println!("\n1. Keys (files written 0600) and a genesis with threshold 2");
    let mut roots = Vec::new();
    for name in ["root-a", "root-b"] {
        let path = dir.join("keys").join(format!("{name}.key"));
        write_key_file(&path, &fresh_key()?)?;
        roots.push(read_key_file(&path)?);
        println!("  {name}: {}", roots[roots.len() - 1].did());
    }
    let authority_key = fresh_key()?;
    let university_key = fresh_key()?;
    let genesis = Genesis::new(
        EntityId::parse("did:web:edu.example")?,
        "Higher education".into(),
        now(),
        roots.iter().map(SecretKey::did).collect(),
        2,
        4,
    )?;
    println!("  registry id: {}", genesis.registry_id());
    let mut ledger = Ledger::create(&dir.join("ledger"), &genesis)?;
    let mut registry = Registry::new(genesis.clone(), 10_000);
    let registry_id = genesis.registry_id();
    let body = |op: Op, author: Author, issued_at: Timestamp, nonce: u64| EntryBody {
        registry: registry_id,
        issued_at,
        author,
        op,
        nonce,
    };

    let t0 = now();
    let authority = EntityId::parse("did:web:accreditation.edu.example")?;
    let university = EntityId::parse("did:web:uni.example")?;

    println!("\n2. One root alone cannot act; both roots accredit the accreditation body");
    let op = accreditation(
        &authority,
        ("accredit", "UniversityDegree"),
        &authority_key,
        "National accreditation body",
        t0,
    );
    let lone = body(op.clone(), Author::Roots, t0, 1).sign(&[&roots[0]]);
    let outcome = registry.ingest(vec![lone]).outcomes.remove(0).1;
    println!("  signed by root-a only: {outcome:?} (waits; never counts)");
    let acc_authority = body(op, Author::Roots, t0, 2).sign(&[&roots[0], &roots[1]]);
    let authority_id = acc_authority.id();
    submit(
        &mut registry,
        &mut ledger,
        acc_authority,
        "roots accredit did:web:accreditation.edu.example for accredit:UniversityDegree",
    )?;

    println!("\n3. The accreditation body accredits a university");
    let op = accreditation(
        &university,
        ("issue", "UniversityDegree"),
        &university_key,
        "University of Example",
        t0,
    );
    let acc_uni = body(
        op,
        Author::Holder {
            accreditation: authority_id,
        },
        t0,
        3,
    )
    .sign(&[&authority_key]);
    submit(
        &mut registry,
        &mut ledger,
        acc_uni,
        "did:web:uni.example may issue UniversityDegree",
    )?;

    println!("\n4. A relying party asks");
    let before = now();
    let ok = ask(
        &registry,
        &university,
        before,
        "may did:web:uni.example issue UniversityDegree?",
    );

    println!("\n5. The roots revoke the accreditation body, effective one second later");
    let revoke_at = Timestamp(before.0 + 1);
    let op = Op::Revoke(Revocation {
        target: authority_id,
        effective_at: revoke_at,
        reason: "accreditation withdrawn".into(),
    });
    let rev = body(op, Author::Roots, now(), 4).sign(&[&roots[0], &roots[1]]);
    submit(
        &mut registry,
        &mut ledger,
        rev,
        "revocation of the accreditation body",
    )?;
    let after = Timestamp(revoke_at.0 + 1);
    let denied = !ask(
        &registry,
        &university,
        after,
        "asked again, after the revocation",
    );
    let history = ask(
        &registry,
        &university,
        before,
        "asked about the time before the revocation",
    );

    println!("\n6. Close, reopen and verify the ledger");
    let root = registry.state_root();
    drop(ledger);
    let ledger = Ledger::open(&dir.join("ledger"))?;
    let report = ledger.verify()?;
    println!(
        "  {} blocks, {} entries, chain and signatures verified",
        report.blocks, report.entries
    );
    println!(
        "  state root {} (matches the registry's: {})",
        report.state_root,
        report.state_root == root
    );

    if ok && denied && history && report.state_root == root {
        println!("\nwalkthrough complete");
        Ok(())
    } else {
        Err("an answer was not the expected one".into())
    }
}
