//! SD-JWT VC (`typ: dc+sd-jwt`): selective disclosure (RFC 9901) and key binding.
//!
//! An SD-JWT is `<issuer-signed JWT>~<disclosure>~...~<disclosure>~[<KB-JWT>]`. Each
//! disclosure is the base64url of a JSON array, `[salt, name, value]` for an object
//! property or `[salt, value]` for an array element; the issuer-signed payload holds the
//! base64url SHA-256 digest of each disclosure's text, in an object's `_sd` array or as an
//! array element `{"...": digest}`. Verification (RFC 9901 section 7.1) puts every
//! disclosed value back in place, drops the digests nobody disclosed (decoys or withheld
//! claims), and refuses a digest seen twice, a disclosure nothing refers to, or one that
//! does not fit where it is referred to.
//!
//! The optional key-binding JWT (`typ: kb+jwt`, section 4.3) is signed by the holder key
//! of the credential's `cnf.jwk` (an Ed25519 `OKP` JWK) and binds the presentation by
//! `sd_hash`, the digest of everything before it. A KB-JWT is checked whenever one is
//! present; whether one is required, and whether its `aud`, `nonce` and `iat` are the
//! expected ones, is the caller's policy ([`Signed::key_binding`] carries them).
//!
//! As an SD-JWT VC, the processed payload has `iss` and `vct` strings and, when present,
//! NumericDate `iat`, `nbf` and `exp`; `iss`, `nbf`, `exp`, `cnf`, `vct` and `status` may
//! not be selectively disclosable, so a disclosure of one at the top level is refused.
//!
//! [`Signed::disclosed`] names what was disclosed: an object property by its claim name,
//! an array element by the name of the claim holding the array followed by its index in
//! the processed array (`nationalities[0]`; nested arrays add an index each).

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::jose::{self, short};
use super::{b64url, json, CredentialError, Format, KeyBinding, Signed};
use super::{MAX_CREDENTIAL_BYTES, MAX_DEPTH, MAX_DISCLOSURES};
use crate::did::DidKey;
use crate::keys::SecretKey;
use crate::time::Timestamp;

/// The `typ` of an SD-JWT VC.
pub const TYP_SD_JWT_VC: &str = "dc+sd-jwt";
/// The `typ` of a key-binding JWT.
pub const TYP_KB_JWT: &str = "kb+jwt";
/// The only `_sd_alg` understood (and the default when it is absent).
pub const SD_ALG: &str = "sha-256";

/// Claims that SD-JWT VC forbids to be selectively disclosable: the verifier must see
/// them in the issuer-signed payload.
const NEVER_DISCLOSED: [&str; 6] = ["iss", "nbf", "exp", "cnf", "vct", "status"];

/// The base64url SHA-256 digest of a disclosure, over the ASCII of its base64url text as
/// sent (not the decoded bytes): the value the payload's `_sd` or `...` holds.
pub fn disclosure_digest(disclosure: &str) -> String {
    b64url::encode(&Sha256::digest(disclosure.as_bytes()))
}

/// The `sd_hash` of a key-binding JWT: the base64url SHA-256 digest of the presentation
/// up to and including the `~` before the KB-JWT.
pub fn sd_hash(presentation: &str) -> String {
    disclosure_digest(presentation)
}

/// Verifies an SD-JWT (`<jwt>~<disclosure>~...~[<kb-jwt>]`).
pub fn verify(token: &str) -> Result<Signed, CredentialError> {
    if token.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLarge { len: token.len() });
    }
    let Some(last_tilde) = token.rfind('~') else {
        return Err(CredentialError::Malformed(
            "an SD-JWT has a ~ after its issuer-signed JWT".into(),
        ));
    };
    let (presented, kb_jwt) = (&token[..=last_tilde], &token[last_tilde + 1..]);
    let mut parts = presented[..last_tilde].split('~');
    let issuer_jwt = parts.next().unwrap_or_default();
    let disclosures: Vec<&str> = parts.collect();
    if disclosures.len() > MAX_DISCLOSURES {
        return Err(CredentialError::Disclosure(format!(
            "{} disclosures, more than the {MAX_DISCLOSURES} allowed",
            disclosures.len()
        )));
    }
    let jws = jose::parse_jws(issuer_jwt)?;
    jose::check_typ(&jws.header, TYP_SD_JWT_VC)?;
    let (key, kid) = jose::kid_key(&jws.header)?;
    jose::verify_jws(&jws, &key)?;
    let payload = jose::payload_object(&jws.payload)?;
    let (claims, walk) = process_walk(&payload, &disclosures)?;
    check_vc_claims(&claims, &walk.top_level)?;
    let mut disclosed = walk.disclosed;
    disclosed.sort();
    let signed_at = jose::numeric_date(&claims, "iat")?;
    let key_binding = if kb_jwt.is_empty() {
        None
    } else {
        Some(verify_key_binding(&claims, presented, kb_jwt)?)
    };
    Ok(Signed {
        format: Format::SdJwt,
        key,
        verification_method: kid,
        claims,
        signed_at,
        disclosed,
        key_binding,
    })
}

/// The SD-JWT VC claims of the processed payload: `iss` and `vct` strings, NumericDate
/// `iat`, `nbf`, `exp`, none of `iss`, `nbf`, `exp`, `cnf`, `vct`, `status` disclosed
/// (`top_level`: the names of the disclosed top-level claims).
fn check_vc_claims(claims: &Value, top_level: &[String]) -> Result<(), CredentialError> {
    if let Some(name) = top_level
        .iter()
        .find(|d| NEVER_DISCLOSED.contains(&d.as_str()))
    {
        return Err(CredentialError::Disclosure(format!(
            "{name} must not be selectively disclosable"
        )));
    }
    if !claims.get("iss").is_some_and(Value::is_string) {
        return Err(CredentialError::Missing("iss"));
    }
    if !claims.get("vct").is_some_and(Value::is_string) {
        return Err(CredentialError::Missing("vct"));
    }
    for field in ["iat", "nbf", "exp"] {
        jose::numeric_date(claims, field)?;
    }
    Ok(())
}

/// Checks the KB-JWT against the holder key of `cnf.jwk` and the presentation it binds.
fn verify_key_binding(
    claims: &Value,
    presented: &str,
    kb_jwt: &str,
) -> Result<KeyBinding, CredentialError> {
    let kb = |why: String| CredentialError::KeyBinding(why);
    let holder = holder_key(claims).map_err(kb)?;
    let jws = jose::parse_jws(kb_jwt).map_err(|e| kb(e.to_string()))?;
    jose::check_typ(&jws.header, TYP_KB_JWT).map_err(|e| kb(e.to_string()))?;
    jose::verify_jws(&jws, &holder)
        .map_err(|_| kb("its signature by cnf.jwk does not verify".into()))?;
    let payload = jose::payload_object(&jws.payload).map_err(|e| kb(e.to_string()))?;
    let iat = jose::numeric_date(&payload, "iat")
        .map_err(|e| kb(e.to_string()))?
        .ok_or_else(|| kb("no iat".into()))?;
    let text = |name: &str| match payload.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(kb(format!("no {name} string"))),
    };
    let aud = text("aud")?;
    let nonce = text("nonce")?;
    if text("sd_hash")? != sd_hash(presented) {
        return Err(kb(
            "sd_hash is not the digest of the presented SD-JWT".into()
        ));
    }
    Ok(KeyBinding {
        holder,
        aud,
        nonce,
        iat,
    })
}

/// The holder's Ed25519 key from `cnf.jwk` (`{"kty":"OKP","crv":"Ed25519","x":...}`).
fn holder_key(claims: &Value) -> Result<DidKey, String> {
    let Some(jwk) = claims.get("cnf").and_then(|c| c.get("jwk")) else {
        return Err("the credential has no cnf.jwk holder key".into());
    };
    if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
        || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return Err("cnf.jwk is not an OKP Ed25519 key".into());
    }
    if jwk.get("d").is_some() {
        return Err("cnf.jwk holds a private key".into());
    }
    let x = jwk
        .get("x")
        .and_then(Value::as_str)
        .ok_or("cnf.jwk has no x")?;
    let bytes: [u8; 32] = b64url::decode(x)
        .map_err(|e| format!("cnf.jwk x: {e}"))?
        .try_into()
        .map_err(|_| "cnf.jwk x is not 32 bytes".to_string())?;
    Ok(DidKey::from_public_key(bytes))
}

/// One disclosure, decoded.
#[derive(Debug)]
struct Disclosure {
    /// `Some` for an object property, `None` for an array element.
    name: Option<String>,
    value: Value,
    used: bool,
}

fn decode_disclosure(text: &str) -> Result<Disclosure, CredentialError> {
    let bad = |why: &str| CredentialError::Disclosure(format!("{}: {why}", short(text)));
    if text.is_empty() {
        return Err(bad("empty"));
    }
    let bytes = b64url::decode(text).map_err(|e| bad(&e.to_string()))?;
    let parsed = json::parse(&bytes).map_err(|e| match e {
        CredentialError::Malformed(why) => bad(&why),
        other => other,
    })?;
    let Value::Array(mut items) = parsed else {
        return Err(bad("not a JSON array"));
    };
    if !items.first().is_some_and(Value::is_string) {
        return Err(bad("its salt is not a string"));
    }
    let (name, value) = match items.len() {
        2 => (None, items.swap_remove(1)),
        3 => {
            let value = items.swap_remove(2);
            let Value::String(name) = items.swap_remove(1) else {
                return Err(bad("its claim name is not a string"));
            };
            if name == "_sd" || name == "..." {
                return Err(bad("its claim name is reserved"));
            }
            (Some(name), value)
        }
        _ => return Err(bad("not [salt, name, value] or [salt, value]")),
    };
    Ok(Disclosure {
        name,
        value,
        used: false,
    })
}

/// Puts the disclosures back into an issuer-signed payload (RFC 9901 section 7.1 step 3):
/// the processed payload, without `_sd`, `_sd_alg` and `...` placeholders, and the names
/// of what was disclosed, sorted (see the module documentation). Checks `_sd_alg`, that no digest
/// appears twice, that each disclosure fits where it is referred to and is referred to
/// once, and that the result nests at most [`MAX_DEPTH`] deep.
pub fn process(
    payload: &Value,
    disclosures: &[&str],
) -> Result<(Value, Vec<String>), CredentialError> {
    let (claims, walk) = process_walk(payload, disclosures)?;
    let mut disclosed = walk.disclosed;
    // Sorted: the order of the issuer's digests (often sorted by digest) means nothing.
    disclosed.sort();
    Ok((claims, disclosed))
}

fn process_walk(payload: &Value, disclosures: &[&str]) -> Result<(Value, Walk), CredentialError> {
    let Value::Object(top) = payload else {
        return Err(CredentialError::Malformed(
            "the SD-JWT payload is not a JSON object".into(),
        ));
    };
    match top.get("_sd_alg") {
        None => {}
        Some(Value::String(alg)) if alg == SD_ALG => {}
        Some(Value::String(alg)) => return Err(CredentialError::SdAlg(short(alg))),
        Some(other) => return Err(CredentialError::SdAlg(short(&other.to_string()))),
    }
    if disclosures.len() > MAX_DISCLOSURES {
        return Err(CredentialError::Disclosure(format!(
            "{} disclosures, more than the {MAX_DISCLOSURES} allowed",
            disclosures.len()
        )));
    }
    let mut walk = Walk {
        by_digest: HashMap::with_capacity(disclosures.len()),
        disclosed: Vec::new(),
        top_level: Vec::new(),
    };
    for text in disclosures {
        let digest = disclosure_digest(text);
        let disclosure = decode_disclosure(text)?;
        if walk.by_digest.insert(digest.clone(), disclosure).is_some() {
            return Err(CredentialError::DuplicateDigest(digest));
        }
    }
    let mut seen = HashSet::new();
    collect_digests(payload, 1, &mut seen)?;
    for disclosure in walk.by_digest.values() {
        collect_digests(&disclosure.value, 2, &mut seen)?;
    }
    let mut top = top.clone();
    top.remove("_sd_alg");
    let claims = walk.object(top, 1)?;
    if walk.by_digest.values().any(|d| !d.used) {
        return Err(CredentialError::DisclosureNotReferenced);
    }
    Ok((claims, walk))
}

/// Records every digest `value` holds (in `_sd` arrays and `...` placeholders) in
/// `seen`, refusing one met twice: a digest repeated anywhere in the payload or the
/// presented disclosures is refused as such, whatever else is wrong where it sits.
fn collect_digests(
    value: &Value,
    depth: usize,
    seen: &mut HashSet<String>,
) -> Result<(), CredentialError> {
    fn note(digest: &Value, seen: &mut HashSet<String>) -> Result<(), CredentialError> {
        match digest {
            Value::String(d) if !seen.insert(d.clone()) => {
                Err(CredentialError::DuplicateDigest(short(d)))
            }
            _ => Ok(()),
        }
    }
    match value {
        Value::Object(o) => {
            Walk::enter(depth)?;
            if let Some(Value::Array(digests)) = o.get("_sd") {
                for digest in digests {
                    note(digest, seen)?;
                }
            }
            for (name, v) in o {
                if name != "_sd" {
                    collect_digests(v, depth + 1, seen)?;
                }
            }
        }
        Value::Array(items) => {
            Walk::enter(depth)?;
            for item in items {
                match item.as_object().and_then(|o| o.get("...")) {
                    Some(digest) => note(digest, seen)?,
                    None => collect_digests(item, depth + 1, seen)?,
                }
            }
        }
        _ => {}
    }
    Ok(())
}

struct Walk {
    by_digest: HashMap<String, Disclosure>,
    /// What was disclosed, in the order met (see the module documentation).
    disclosed: Vec<String>,
    /// The names of the disclosed claims of the payload object itself.
    top_level: Vec<String>,
}

impl Walk {
    /// Takes the disclosure of `digest`, if one was presented (`None` for a decoy or a
    /// withheld claim). Each digest occurs once ([`collect_digests`] checked).
    fn take(&mut self, digest: &Value) -> Result<Option<(Option<String>, Value)>, CredentialError> {
        let Value::String(digest) = digest else {
            return Err(CredentialError::Structure(format!(
                "a digest must be a string, not {}",
                short(&digest.to_string())
            )));
        };
        let Some(d) = self.by_digest.get_mut(digest) else {
            return Ok(None);
        };
        if d.used {
            return Err(CredentialError::DuplicateDigest(short(digest)));
        }
        d.used = true;
        Ok(Some((d.name.take(), std::mem::take(&mut d.value))))
    }

    /// A value at nesting `depth` (the payload object is depth 1), `label` naming it.
    fn value(&mut self, value: Value, depth: usize, label: &str) -> Result<Value, CredentialError> {
        match value {
            Value::Object(o) => self.object(o, depth),
            Value::Array(items) => self.array(items, depth, label),
            scalar => Ok(scalar),
        }
    }

    fn enter(depth: usize) -> Result<(), CredentialError> {
        if depth > MAX_DEPTH {
            return Err(CredentialError::TooDeep);
        }
        Ok(())
    }

    fn object(
        &mut self,
        mut o: Map<String, Value>,
        depth: usize,
    ) -> Result<Value, CredentialError> {
        Self::enter(depth)?;
        if o.contains_key("...") {
            return Err(CredentialError::Structure(
                "\"...\" appears outside an array element placeholder".into(),
            ));
        }
        let digests = match o.remove("_sd") {
            None => Vec::new(),
            Some(Value::Array(digests)) => digests,
            Some(_) => {
                return Err(CredentialError::Structure(
                    "_sd must be an array of digests".into(),
                ))
            }
        };
        let mut out = Map::new();
        for (name, v) in o {
            let v = self.value(v, depth + 1, &name)?;
            out.insert(name, v);
        }
        for digest in &digests {
            let Some((name, value)) = self.take(digest)? else {
                continue;
            };
            let Some(name) = name else {
                return Err(CredentialError::Disclosure(
                    "an array element disclosure is referred to from an object's _sd".into(),
                ));
            };
            if out.contains_key(&name) {
                return Err(CredentialError::Disclosure(format!(
                    "the disclosed claim {} is already in its object",
                    short(&name)
                )));
            }
            let value = self.value(value, depth + 1, &name)?;
            if depth == 1 {
                self.top_level.push(name.clone());
            }
            self.disclosed.push(name.clone());
            out.insert(name, value);
        }
        Ok(Value::Object(out))
    }

    fn array(
        &mut self,
        items: Vec<Value>,
        depth: usize,
        label: &str,
    ) -> Result<Value, CredentialError> {
        Self::enter(depth)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let placeholder = match &item {
                Value::Object(o) if o.contains_key("...") => {
                    if o.len() != 1 {
                        return Err(CredentialError::Structure(
                            "an array element placeholder has \"...\" as its only member".into(),
                        ));
                    }
                    o.get("...")
                }
                _ => None,
            };
            let element_label = format!("{label}[{}]", out.len());
            let Some(digest) = placeholder else {
                out.push(self.value(item, depth + 1, &element_label)?);
                continue;
            };
            let Some((name, value)) = self.take(digest)? else {
                continue;
            };
            if name.is_some() {
                return Err(CredentialError::Disclosure(
                    "an object property disclosure is referred to from an array element".into(),
                ));
            }
            let value = self.value(value, depth + 1, &element_label)?;
            self.disclosed.push(element_label);
            out.push(value);
        }
        Ok(Value::Array(out))
    }
}

/// Issues an SD-JWT VC of `claims` (an object with `iss`, `vct`, `iat`...), signed by
/// `key` (`kid` naming it), the top-level claims named in `selective` made selectively
/// disclosable with salts from `salt`; all disclosures appended.
///
/// Each named claim becomes the disclosure `[base64url(salt), name, value]`; the payload
/// keeps the digests in `_sd` (sorted, so their order says nothing of the claims') and
/// `_sd_alg: "sha-256"`. The result is `<jwt>~<disclosure>~...~`.
pub fn issue(
    claims: &Value,
    selective: &[&str],
    key: &SecretKey,
    kid: &str,
    salt: &mut dyn FnMut() -> [u8; 16],
) -> Result<String, CredentialError> {
    let Value::Object(claims) = claims else {
        return Err(CredentialError::Structure(
            "the claims are not an object".into(),
        ));
    };
    let mut payload = claims.clone();
    for reserved in ["_sd", "_sd_alg"] {
        if payload.contains_key(reserved) {
            return Err(CredentialError::Structure(format!(
                "the claims already have {reserved}"
            )));
        }
    }
    let mut disclosures = Vec::with_capacity(selective.len());
    for &name in selective {
        if name == "..." || NEVER_DISCLOSED.contains(&name) {
            return Err(CredentialError::Disclosure(format!(
                "{} cannot be selectively disclosable",
                short(name)
            )));
        }
        let Some(value) = payload.remove(name) else {
            return Err(CredentialError::Structure(format!(
                "no claim {} to make selectively disclosable",
                short(name)
            )));
        };
        let array = json!([b64url::encode(&salt()), name, value]);
        disclosures.push(b64url::encode(array.to_string().as_bytes()));
    }
    let mut digests: Vec<String> = disclosures.iter().map(|d| disclosure_digest(d)).collect();
    digests.sort();
    if !digests.is_empty() {
        payload.insert("_sd".into(), json!(digests));
    }
    payload.insert("_sd_alg".into(), json!(SD_ALG));
    let header = json!({"alg": "EdDSA", "typ": TYP_SD_JWT_VC, "kid": kid});
    let jwt = jose::sign_compact(&header, Value::Object(payload).to_string().as_bytes(), key);
    let mut out = jwt;
    out.push('~');
    for d in &disclosures {
        out.push_str(d);
        out.push('~');
    }
    if out.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLarge { len: out.len() });
    }
    Ok(out)
}

/// Appends a key-binding JWT signed by `holder` to `sd_jwt` (an SD-JWT without one,
/// carrying the disclosures to present; a missing final `~` is added): header
/// `{"alg":"EdDSA","typ":"kb+jwt"}`, claims `iat`, `aud`, `nonce` and the `sd_hash` of
/// everything before it.
pub fn present_with_key_binding(
    sd_jwt: &str,
    holder: &SecretKey,
    aud: &str,
    nonce: &str,
    iat: Timestamp,
) -> String {
    let mut presented = sd_jwt.to_string();
    if !presented.ends_with('~') {
        presented.push('~');
    }
    let header = json!({"alg": "EdDSA", "typ": TYP_KB_JWT});
    let claims = json!({
        "iat": iat.as_secs(),
        "aud": aud,
        "nonce": nonce,
        "sd_hash": sd_hash(&presented),
    });
    let kb_jwt = jose::sign_compact(&header, claims.to_string().as_bytes(), holder);
    presented.push_str(&kb_jwt);
    presented
}
