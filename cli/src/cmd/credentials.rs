//! `registry verify-credential` (a credential checked end to end, by a node or offline
//! with proof bundles) and `registry credential issue` (a small issuer for demos and
//! tests): section 13.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use registry_core::credential::offline::{self, OfflineError};
use registry_core::credential::trust::{Answer, KeyStanding, Report};
use registry_core::credential::{
    self, di, jose, json, sdjwt, CredentialError, Verdict, MAX_CREDENTIAL_BYTES,
};
use registry_core::did::EntityId;
use registry_core::hash::RegistryId;
use registry_core::keys::read_key_file;
use registry_core::proof::{Bundle, VerifyOptions};
use registry_core::time::Timestamp;
use serde_json::{json, Map, Value};

use super::proofs::{read_bundle, read_witnesses, registry_id};
use super::Ctx;
use crate::args;
use crate::files::{self, Overwrite};
use crate::out::outln;

#[derive(Debug, Args)]
pub struct VerifyCredentialCommand {
    /// The credential: a file, or - for standard input. A JSON document with an
    /// eddsa-jcs-2022 Data Integrity proof, or a compact vc+jwt or dc+sd-jwt.
    #[arg(value_name = "FILE|-")]
    pub input: String,
    /// Check as of this time instead of now (RFC 3339 or unix seconds): the credential's
    /// own window and the issuer's standing "now" are judged then.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub at: Option<Timestamp>,
    /// Answer from this proof bundle (written by `registry proof`) instead of a node:
    /// fully offline. One per credential type, each for the issuer, action issue, the
    /// type, at the signing time. Needs --registry.
    #[arg(long, value_name = "BUNDLE", requires = "registry")]
    pub proof: Vec<PathBuf>,
    /// With --proof: the registry id (64 hex digits) the bundles must be about.
    #[arg(long, value_name = "ID", value_parser = registry_id)]
    pub registry: Option<RegistryId>,
    /// With --proof: refuse checkpoints older than SECS.
    #[arg(long, value_name = "SECS", requires = "proof")]
    pub max_age: Option<u64>,
    /// With --proof: count these witnesses (JSON {"keys": [...], "quorum": K}) instead of
    /// the proven set.
    #[arg(long, value_name = "FILE", requires = "proof")]
    pub witnesses: Option<PathBuf>,
}

impl VerifyCredentialCommand {
    /// Exit 0 valid and trusted, 1 untrusted or invalid, 2 malformed or error.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let text = read_credential(&self.input)?;
        let (verdict, proofs) = if self.proof.is_empty() {
            // Input that cannot be read at all is refused here, naming why, before any
            // request (the node would refuse it the same way).
            if let Err(e) = credential::verify_signature(text.as_bytes()) {
                if e.is_malformed() {
                    return Err(malformed(e));
                }
            }
            let verdict = ctx
                .client()?
                .verify_credential(&text, self.at.map(Timestamp::to_rfc3339).as_deref())
                .context("cannot have the node check the credential")?;
            (verdict, None)
        } else {
            let (verdict, proofs) = self.offline(&text)?;
            (verdict, Some(proofs))
        };
        if ctx.json {
            let mut value = serde_json::to_value(&verdict)?;
            if let (Some(proofs), Value::Object(map)) = (&proofs, &mut value) {
                map.insert("proofs".into(), Value::Array(proofs.clone()));
            }
            ctx.print(&value, || {})?;
        } else {
            print_verdict(&verdict);
            for p in proofs.iter().flatten() {
                outln!(
                    "  proof         {}: checkpoint {} ({} s old), {} witness signature(s) of quorum {}",
                    p["resource"].as_str().unwrap_or(""),
                    p["slot"].as_str().unwrap_or(""),
                    p["age"],
                    p["signers"].as_array().map_or(0, Vec::len),
                    p["quorum"]
                );
            }
        }
        Ok(ExitCode::from(u8::from(!verdict.is_valid())))
    }

    /// The verdict from the bundles alone, and what each proof rests on.
    fn offline(&self, text: &str) -> Result<(Verdict, Vec<Value>)> {
        let Some(registry) = self.registry else {
            bail!("--proof needs --registry ID, the registry the bundles must be about");
        };
        let mut bundles = Vec::with_capacity(self.proof.len());
        for path in &self.proof {
            let bytes = read_bundle(path)?;
            bundles.push(
                Bundle::decode(&bytes)
                    .with_context(|| format!("{} is not a proof bundle", path.display()))?,
            );
        }
        let now = self.at.unwrap_or_else(args::now);
        let options = VerifyOptions {
            registry,
            now,
            max_age: self.max_age,
            witnesses: self.witnesses.as_deref().map(read_witnesses).transpose()?,
        };
        let signed = match credential::verify_signature(text.as_bytes()) {
            Ok(s) => s,
            Err(e) if e.is_malformed() => return Err(malformed(e)),
            Err(e) => return Ok((Verdict::refused(&e), Vec::new())),
        };
        match offline::check(&bundles, &options, &signed, now) {
            Ok(o) => {
                let proofs = o
                    .report
                    .types
                    .iter()
                    .zip(&o.proofs)
                    .map(|(t, v)| {
                        json!({
                            "resource": t.resource,
                            "slot": v.checkpoint.slot.to_rfc3339(),
                            "age": v.age,
                            "signers": v.signers,
                            "quorum": v.quorum,
                        })
                    })
                    .collect();
                Ok((Verdict::Checked(Box::new(o.report)), proofs))
            }
            Err(OfflineError::Credential(e)) if e.is_malformed() => Err(malformed(e)),
            Err(OfflineError::Credential(e)) => Ok((Verdict::refused(&e), Vec::new())),
            Err(e) => Err(anyhow::Error::new(e).context("the proof bundles cannot answer")),
        }
    }
}

fn malformed(e: CredentialError) -> anyhow::Error {
    anyhow::anyhow!("{e} ({})", e.code()).context("malformed credential")
}

/// Reads the credential text (at most one byte over the limit, so that the verifier names
/// an oversized one).
fn read_credential(input: &str) -> Result<String> {
    let mut bytes = Vec::new();
    let limit = MAX_CREDENTIAL_BYTES as u64 + 1;
    if input == "-" {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("cannot read the credential from standard input")?;
    } else {
        std::fs::File::open(input)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {input}"))?;
    }
    String::from_utf8(bytes).map_err(|_| malformed(CredentialError::Malformed("not UTF-8".into())))
}

fn print_verdict(verdict: &Verdict) {
    let report = match verdict {
        Verdict::Refused { refusal, .. } => {
            outln!("invalid: {}: {}", refusal.code, refusal.message);
            return;
        }
        Verdict::Checked(r) => r,
    };
    match &report.refusal {
        None => outln!(
            "valid: {} was authorized to issue {} when it signed",
            report.issuer,
            report
                .types
                .iter()
                .map(|t| t.resource.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(r) => outln!("not valid: {}: {}", r.code, r.message),
    }
    print_report(report);
}

fn print_report(r: &Report) {
    outln!("  format        {}", r.format);
    outln!("  issuer        {}", r.issuer);
    outln!("  key           {}", r.key);
    outln!("  signed at     {} ({})", r.signed_at, r.signed_at_from);
    if r.valid_from.is_some() || r.valid_until.is_some() {
        let from = r
            .valid_from
            .map_or("(no start)".to_string(), |t| t.to_rfc3339());
        let until = r
            .valid_until
            .map_or("(no end)".to_string(), |t| t.to_rfc3339());
        outln!("  valid         from {from} until {until}");
    }
    outln!("  checked at    {}", r.checked_at);
    if !r.disclosed.is_empty() {
        outln!("  disclosed     {}", r.disclosed.join(", "));
    }
    if let Some(kb) = &r.key_binding {
        outln!(
            "  holder        {} (key binding for {} at {}, nonce {})",
            kb.holder,
            kb.aud,
            kb.iat,
            kb.nonce
        );
    }
    for t in &r.types {
        outln!("  type          {}", t.resource);
        let key = match &t.key {
            KeyStanding::Issuer => "the issuer's own did:key".to_string(),
            KeyStanding::Controller { accreditation } => {
                format!("controller of accreditation {accreditation}")
            }
            KeyStanding::Lapsed {
                accreditation,
                reason,
            } => format!(
                "controller only of accreditation {accreditation}, which did not count: {reason}"
            ),
            KeyStanding::Unknown => "named by no accreditation of the issuer".to_string(),
        };
        outln!("    key         {key}");
        outln!("    then        {}", answer_line(&t.then));
        match &t.now {
            Some(a) => outln!("    now         {}", answer_line(a)),
            None => outln!("    now         not covered by the proof"),
        }
    }
}

fn answer_line(a: &Answer) -> String {
    let chain = a
        .chain
        .iter()
        .map(|id| id.to_hex()[..12].to_string())
        .collect::<Vec<_>>()
        .join(" <- ");
    match (a.authorized, a.reason) {
        (true, _) => format!("authorized at {} (chain {chain})", a.at),
        (false, reason) => {
            let reason = reason.map_or("no_accreditation".into(), |r| r.to_string());
            match &a.decisive {
                Some(d) => format!("not authorized at {}: {reason} ({d})", a.at),
                None => format!("not authorized at {}: {reason}", a.at),
            }
        }
    }
}

/// The credential formats `credential issue` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// W3C VC 2.0 JSON with an eddsa-jcs-2022 Data Integrity proof.
    Di,
    /// VC-JOSE-COSE compact JWS (vc+jwt).
    Jwt,
    /// SD-JWT VC (dc+sd-jwt), every subject claim selectively disclosable.
    SdJwt,
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Issue a credential signed with an Ed25519 key file: a small issuer for demos and
    /// tests, not a wallet or an issuing service. The key's did:key names itself as the
    /// verification method; the registry decides whether it acts for --issuer.
    Issue(IssueCommand),
}

impl CredentialCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            CredentialCommand::Issue(c) => c.run(ctx),
        }
    }
}

#[derive(Debug, Args)]
pub struct IssueCommand {
    /// The signing key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The issuer: any DID or an https URL.
    #[arg(long, value_name = "ID", value_parser = args::entity)]
    pub issuer: EntityId,
    /// The credential type (the registry resource), e.g. UniversityDegree. Repeat for
    /// several (di and jwt); sd-jwt takes one, as its vct.
    #[arg(long = "type", value_name = "T", required = true)]
    pub types: Vec<String>,
    /// The subject's claims, a JSON object, e.g. '{"id":"did:example:alice","degree":"BSc"}'.
    #[arg(long, value_name = "JSON")]
    pub subject: String,
    #[arg(long, value_enum, default_value = "di")]
    pub format: FormatArg,
    /// The signing time (RFC 3339 or unix seconds); default now. Also the start of the
    /// credential's validity.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub signed_at: Option<Timestamp>,
    /// The end of the credential's validity.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub valid_until: Option<Timestamp>,
    /// Write the credential here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl IssueCommand {
    pub fn run(self, _ctx: &Ctx) -> Result<ExitCode> {
        let key = read_key_file(&self.key)?;
        let subject = match json::parse(self.subject.as_bytes()) {
            Ok(Value::Object(o)) => o,
            Ok(_) => bail!("--subject must be a JSON object"),
            Err(e) => return Err(anyhow::Error::new(e).context("--subject is not usable JSON")),
        };
        if self
            .types
            .iter()
            .any(|t| t.is_empty() || t == "VerifiableCredential")
        {
            bail!("--type names the kind of credential: not empty, not VerifiableCredential");
        }
        let signed_at = self.signed_at.unwrap_or_else(args::now);
        let did = key.did().to_string();
        let vm = format!("{did}#{}", did.trim_start_matches("did:key:"));
        let issuer = self.issuer.to_string();
        let text = match self.format {
            FormatArg::Di | FormatArg::Jwt => {
                let mut types = vec![Value::from("VerifiableCredential")];
                types.extend(self.types.iter().map(|t| Value::from(t.as_str())));
                let mut vc = json!({
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "type": types,
                    "issuer": issuer,
                    "validFrom": signed_at.to_rfc3339(),
                    "credentialSubject": Value::Object(subject),
                });
                if let Some(until) = self.valid_until {
                    vc["validUntil"] = Value::from(until.to_rfc3339());
                }
                if self.format == FormatArg::Di {
                    let signed = di::sign(&vc, &key, &vm, signed_at)?;
                    serde_json::to_string_pretty(&signed)? + "\n"
                } else {
                    vc["iat"] = Value::from(signed_at.as_secs());
                    format!("{}\n", jose::issue_vc_jwt(&vc, &key, &vm))
                }
            }
            FormatArg::SdJwt => {
                let [vct] = self.types.as_slice() else {
                    bail!("an sd-jwt credential has one type (its vct); give --type once");
                };
                let mut claims = Map::new();
                claims.insert("iss".into(), Value::from(issuer));
                claims.insert("vct".into(), Value::from(vct.as_str()));
                claims.insert("iat".into(), Value::from(signed_at.as_secs()));
                if let Some(until) = self.valid_until {
                    claims.insert("exp".into(), Value::from(until.as_secs()));
                }
                let selective: Vec<String> = subject.keys().cloned().collect();
                for (k, v) in subject {
                    if claims.contains_key(&k) {
                        bail!("the subject claim {k:?} would replace the token's own claim");
                    }
                    claims.insert(k, v);
                }
                let names: Vec<&str> = selective.iter().map(String::as_str).collect();
                let mut failed = None;
                let mut salt = || {
                    let mut b = [0u8; 16];
                    if let Err(e) = getrandom::fill(&mut b) {
                        failed = Some(e);
                    }
                    b
                };
                let token = sdjwt::issue(&Value::Object(claims), &names, &key, &vm, &mut salt)?;
                if let Some(e) = failed {
                    bail!("no randomness from the OS for the salts: {e}");
                }
                format!("{token}\n")
            }
        };
        match &self.out {
            Some(path) => files::write_atomic(path, text.as_bytes(), Overwrite::Refuse)?,
            None => outln!("{}", text.trim_end()),
        }
        Ok(ExitCode::SUCCESS)
    }
}
