//! Writes a registry's worth of signed entries as JSON lines, for loading a node through
//! `registry import`: the roots accredit `A` authorities, each accredits `B`
//! sub-authorities, each accredits issuers, until `COUNT` entries (3-level chains, in
//! dependency order). Also writes the issuers' entity ids, one per line, to `IDS_OUT`.
//!
//! Run: `cargo run --release -p registry-core --example gen_entries -- GENESIS ROOT_KEY
//! COUNT OUT IDS_OUT [FIRST_ISSUER]`

use std::io::Write;

use registry_core::entry::{Accreditation, Author, EntryBody, Grant, Kind, Op};
use registry_core::keys::read_key_file;
use registry_core::{EntityId, EntryId, Genesis, SecretKey, SignedEntry, Timestamp};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const AUTHORITIES: u64 = 10;
const SUB_AUTHORITIES: u64 = 10;

struct Gen {
    registry: registry_core::RegistryId,
    nonce: u64,
    now: Timestamp,
}

impl Gen {
    fn accredit(
        &mut self,
        subject: &str,
        grant: (&str, &str),
        controller: &SecretKey,
        author: Author,
        keys: &[&SecretKey],
    ) -> Fallible<SignedEntry> {
        self.nonce += 1;
        let op = Op::Accredit(Accreditation {
            subject: EntityId::parse(subject)?,
            kind: Kind::Authorization,
            grants: vec![Grant {
                action: grant.0.into(),
                resource: grant.1.into(),
            }],
            controllers: vec![controller.did()],
            valid_from: Timestamp(0),
            valid_until: None,
            label: None,
        });
        let body = EntryBody {
            registry: self.registry,
            issued_at: self.now,
            author,
            op,
            nonce: self.nonce,
        };
        Ok(body.sign(keys))
    }
}

fn seed(n: u64, salt: u8) -> SecretKey {
    let mut s = [salt; 32];
    s[..8].copy_from_slice(&n.to_le_bytes());
    SecretKey::from_seed(s)
}

fn main() -> Fallible<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 5 {
        return Err("usage: gen_entries GENESIS ROOT_KEY COUNT OUT IDS_OUT [FIRST_ISSUER]".into());
    }
    let genesis = Genesis::from_json(&std::fs::read_to_string(&a[0])?)?;
    let root = read_key_file(std::path::Path::new(&a[1]))?;
    let count: u64 = a[2].parse()?;
    let first: u64 = a.get(5).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&a[3])?);
    let mut ids = std::io::BufWriter::new(std::fs::File::create(&a[4])?);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    // A salt from the first issuer number keeps the keys and nonces of two files apart.
    let salt = (first % 251) as u8;
    let mut g = Gen {
        registry: genesis.registry_id(),
        nonce: first << 20,
        now: Timestamp(now),
    };
    let per_sub = count
        .saturating_sub(AUTHORITIES * (1 + SUB_AUTHORITIES))
        .div_ceil(AUTHORITIES * SUB_AUTHORITIES);
    let mut written = 0u64;
    let mut issuer = first;
    let emit = |e: &SignedEntry, out: &mut dyn Write| -> Fallible<()> {
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    'outer: for ai in 0..AUTHORITIES {
        let ka = seed(ai + 1, salt.wrapping_add(1));
        let acc_a = g.accredit(
            &format!("did:web:authority-{first}-{ai}.example"),
            ("accredit", "*"),
            &ka,
            Author::Roots,
            &[&root],
        )?;
        emit(&acc_a, &mut out)?;
        written += 1;
        for bi in 0..SUB_AUTHORITIES {
            let kb = seed(1000 + ai * 100 + bi, salt.wrapping_add(2));
            let holder = Author::Holder {
                accreditation: acc_a.id(),
            };
            let acc_b = g.accredit(
                &format!("did:web:sub-{first}-{ai}-{bi}.example"),
                ("accredit", "UniversityDegree"),
                &kb,
                holder,
                &[&ka],
            )?;
            emit(&acc_b, &mut out)?;
            written += 1;
            let parent: EntryId = acc_b.id();
            for _ in 0..per_sub {
                if written >= count {
                    break 'outer;
                }
                let subject = format!("did:web:issuer-{issuer}.example");
                let e = g.accredit(
                    &subject,
                    ("issue", "UniversityDegree"),
                    &kb,
                    Author::Holder {
                        accreditation: parent,
                    },
                    &[&kb],
                )?;
                emit(&e, &mut out)?;
                writeln!(ids, "{subject}")?;
                written += 1;
                issuer += 1;
            }
        }
    }
    out.flush()?;
    ids.flush()?;
    eprintln!(
        "wrote {written} entries ({} issuers) to {}",
        issuer - first,
        a[3]
    );
    Ok(())
}
