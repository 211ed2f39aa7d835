//! SD-JWT VC (`typ: dc+sd-jwt`): an issuer-signed JWT whose claims may be hidden behind
//! digests, the disclosures that reveal them (RFC 9901), and an optional key-binding JWT
//! by the holder.
//!
//! `<issuer JWT>~<disclosure>~...~[<KB-JWT>]`. A disclosure is the base64url of a JSON
//! array: `[salt, name, value]` for an object property (its digest listed in that
//! object's `_sd`), `[salt, value]` for an array element (its digest in a `{"...":
//! digest}` element). Digests are `base64url(SHA-256(the disclosure as sent))`. Every
//! digest may appear once in the whole token, every disclosure must be referenced exactly
//! once, and digests no disclosure matches are decoys and vanish.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::jose::{numeric_date, parse_compact, sign_compact, verify_ed25519};
use super::{b64url, json, CredentialError, Format, KeyBinding, Signed};
use super::{MAX_DEPTH, MAX_DISCLOSURES};
use crate::did::DidKey;
use crate::keys::SecretKey;
use crate::time::Timestamp;

pub const SD_JWT_TYP: &str = "dc+sd-jwt";
pub const KB_JWT_TYP: &str = "kb+jwt";
pub const SD_ALG: &str = "sha-256";

/// `base64url(SHA-256(ASCII(disclosure)))`.
pub fn disclosure_digest(disclosure: &str) -> String {
    b64url::encode(&Sha256::digest(disclosure.as_bytes()))
}

/// A decoded disclosure.
struct Disclosure {
    /// `None` for an array element.
    name: Option<String>,
    value: Value,
}

fn decode_disclosure(encoded: &str) -> Result<Disclosure, CredentialError> {
    let bad = |why: &str| CredentialError::Disclosure(why.to_string());
    let bytes = b64url::decode(encoded).map_err(|_| bad("not base64url"))?;
    let Value::Array(mut parts) = json::parse(&bytes)? else {
        return Err(bad("not a JSON array"));
    };
    let (name, value) = match parts.len() {
        3 => {
            let value = parts.pop().unwrap_or(Value::Null);
            let Some(Value::String(name)) = parts.pop() else {
                return Err(bad("the claim name is not a string"));
            };
            if name == "_sd" || name == "..." {
                return Err(bad("the claim name \"_sd\" or \"...\" cannot be disclosed"));
            }
            (Some(name), value)
        }
        2 => (None, parts.pop().unwrap_or(Value::Null)),
        _ => return Err(bad("an array of 3 (salt, name, value) or 2 (salt, value)")),
    };
    if !parts.first().is_some_and(Value::is_string) {
        return Err(bad("the salt is not a string"));
    }
    Ok(Disclosure { name, value })
}

/// The walk that puts disclosures in place.
struct Process {
    disclosures: Vec<Disclosure>,
    by_digest: HashMap<String, usize>,
    used: Vec<bool>,
    seen: HashSet<String>,
    disclosed: Vec<String>,
}

impl Process {
    /// Marks `digest` seen; the disclosure it names, if any, taken.
    fn take(&mut self, digest: &str) -> Result<Option<Disclosure>, CredentialError> {
        if !self.seen.insert(digest.to_string()) {
            return Err(CredentialError::DuplicateDigest(
                digest.chars().take(64).collect(),
            ));
        }
        let Some(&i) = self.by_digest.get(digest) else {
            return Ok(None);
        };
        self.used[i] = true;
        let d = std::mem::replace(
            &mut self.disclosures[i],
            Disclosure {
                name: None,
                value: Value::Null,
            },
        );
        Ok(Some(d))
    }

    fn walk(&mut self, value: &mut Value, path: &str, depth: usize) -> Result<(), CredentialError> {
        if depth > MAX_DEPTH {
            return Err(CredentialError::TooDeep);
        }
        match value {
            Value::Object(members) => self.object(members, path, depth),
            Value::Array(items) => self.array(items, path, depth),
            _ => Ok(()),
        }
    }

    fn object(
        &mut self,
        members: &mut Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<(), CredentialError> {
        if let Some(sd) = members.remove("_sd") {
            let Value::Array(digests) = sd else {
                return Err(CredentialError::Structure("_sd must be an array".into()));
            };
            for d in digests {
                let Value::String(d) = d else {
                    return Err(CredentialError::Structure("_sd lists strings".into()));
                };
                let Some(disclosure) = self.take(&d)? else {
                    continue;
                };
                let Some(name) = disclosure.name else {
                    return Err(CredentialError::Disclosure(
                        "an array-element disclosure is listed in an object's _sd".into(),
                    ));
                };
                if members.contains_key(&name) {
                    return Err(CredentialError::Disclosure(format!(
                        "the disclosed claim {name:?} is already in the object"
                    )));
                }
                self.disclosed.push(join(path, &name));
                members.insert(name, disclosure.value);
            }
        }
        for (name, v) in members.iter_mut() {
            let inner = join(path, name);
            self.walk(v, &inner, depth + 1)?;
        }
        Ok(())
    }

    fn array(
        &mut self,
        items: &mut Vec<Value>,
        path: &str,
        depth: usize,
    ) -> Result<(), CredentialError> {
        let mut out = Vec::with_capacity(items.len());
        for mut item in std::mem::take(items) {
            let placeholder = match &item {
                Value::Object(o) if o.len() == 1 && o.contains_key("...") => Some(
                    o["..."]
                        .as_str()
                        .ok_or_else(|| {
                            CredentialError::Structure(
                                "an array placeholder's digest is a string".into(),
                            )
                        })?
                        .to_string(),
                ),
                _ => None,
            };
            match placeholder {
                Some(digest) => {
                    let Some(disclosure) = self.take(&digest)? else {
                        continue; // a decoy
                    };
                    if disclosure.name.is_some() {
                        return Err(CredentialError::Disclosure(
                            "an object-property disclosure is referenced as an array element"
                                .into(),
                        ));
                    }
                    self.disclosed.push(format!("{path}[]"));
                    let mut v = disclosure.value;
                    self.walk(&mut v, path, depth + 1)?;
                    out.push(v);
                }
                None => {
                    self.walk(&mut item, path, depth + 1)?;
                    out.push(item);
                }
            }
        }
        *items = out;
        Ok(())
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Puts `disclosures` in place in `payload` (RFC 9901 §7.1): returns the processed claims
/// (no `_sd`, `_sd_alg` or placeholders left) and what was disclosed, sorted: property
/// names as dotted paths, array elements as `path[]`.
pub fn process(
    payload: &Value,
    disclosures: &[&str],
) -> Result<(Value, Vec<String>), CredentialError> {
    if disclosures.len() > MAX_DISCLOSURES {
        return Err(CredentialError::Disclosure(format!(
            "{} disclosures, more than the {MAX_DISCLOSURES} allowed",
            disclosures.len()
        )));
    }
    let mut p = Process {
        disclosures: Vec::with_capacity(disclosures.len()),
        by_digest: HashMap::new(),
        used: vec![false; disclosures.len()],
        seen: HashSet::new(),
        disclosed: Vec::new(),
    };
    for (i, d) in disclosures.iter().enumerate() {
        p.disclosures.push(decode_disclosure(d)?);
        if p.by_digest.insert(disclosure_digest(d), i).is_some() {
            return Err(CredentialError::DuplicateDigest(disclosure_digest(d)));
        }
    }
    let mut claims = payload.clone();
    if let Value::Object(o) = &mut claims {
        o.remove("_sd_alg");
    }
    p.walk(&mut claims, "", 0)?;
    if p.used.iter().any(|u| !u) {
        return Err(CredentialError::DisclosureNotReferenced);
    }
    p.disclosed.sort();
    Ok((claims, p.disclosed))
}

/// Verifies an SD-JWT VC (`<jwt>~<disclosure>~...~[<kb-jwt>]`).
pub fn verify(token: &str) -> Result<Signed, CredentialError> {
    let parts: Vec<&str> = token.split('~').collect();
    let [jwt, middle @ .., last] = parts.as_slice() else {
        return Err(CredentialError::Malformed(
            "an SD-JWT has '~' after its JWT".into(),
        ));
    };
    if middle.iter().any(|d| d.is_empty()) {
        return Err(CredentialError::Malformed(
            "an empty disclosure between '~'".into(),
        ));
    }
    if middle.len() > MAX_DISCLOSURES {
        return Err(CredentialError::Disclosure(format!(
            "{} disclosures, more than the {MAX_DISCLOSURES} allowed",
            middle.len()
        )));
    }
    let compact = parse_compact(jwt)?;
    let (key, kid) = compact.verify(SD_JWT_TYP)?;
    match compact.payload.get("_sd_alg") {
        None => {}
        Some(Value::String(a)) if a == SD_ALG => {}
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            return Err(CredentialError::SdAlg(shown.chars().take(40).collect()));
        }
    }
    let (claims, disclosed) = process(&Value::Object(compact.payload), middle)?;
    let Value::Object(map) = &claims else {
        return Err(CredentialError::Malformed(
            "the payload is not an object".into(),
        ));
    };
    for (field, missing) in [("iss", "iss"), ("vct", "vct")] {
        if !map.get(field).is_some_and(Value::is_string) {
            return Err(CredentialError::Missing(missing));
        }
    }
    let signed_at = numeric_date(map, "iat")?;
    numeric_date(map, "nbf")?;
    numeric_date(map, "exp")?;
    let key_binding = if last.is_empty() {
        None
    } else {
        let presented = &token[..token.len() - last.len()];
        Some(key_binding(map, last, presented).map_err(|e| match e {
            CredentialError::KeyBinding(_) => e,
            other => CredentialError::KeyBinding(other.to_string()),
        })?)
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

/// The holder key of `cnf.jwk` (an Ed25519 OKP JWK).
fn holder_key(claims: &Map<String, Value>) -> Result<DidKey, CredentialError> {
    let kb = |why: &str| CredentialError::KeyBinding(why.to_string());
    let jwk = claims
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .ok_or_else(|| kb("the token names no holder key (cnf.jwk)"))?;
    if jwk.get("kty") != Some(&Value::from("OKP"))
        || jwk.get("crv") != Some(&Value::from("Ed25519"))
    {
        return Err(kb("the holder key is not an Ed25519 OKP JWK"));
    }
    let x = jwk
        .get("x")
        .and_then(Value::as_str)
        .ok_or_else(|| kb("the holder key has no x"))?;
    let x: [u8; 32] = b64url::decode(x)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| kb("the holder key's x is not 32 bytes of base64url"))?;
    Ok(DidKey::from_public_key(x))
}

fn key_binding(
    claims: &Map<String, Value>,
    kb_jwt: &str,
    presented: &str,
) -> Result<KeyBinding, CredentialError> {
    let kb = |why: &str| CredentialError::KeyBinding(why.to_string());
    let holder = holder_key(claims)?;
    let compact = parse_compact(kb_jwt)?;
    if compact.header.get("typ").and_then(Value::as_str) != Some(KB_JWT_TYP) {
        return Err(kb("its typ is not kb+jwt"));
    }
    verify_ed25519(
        &holder,
        compact.signing_input.as_bytes(),
        &compact.signature,
    )
    .map_err(|_| kb("its signature is not the holder key's (cnf.jwk)"))?;
    let c = &compact.payload;
    let iat = numeric_date(c, "iat")?.ok_or_else(|| kb("it has no iat"))?;
    let aud = c
        .get("aud")
        .and_then(Value::as_str)
        .ok_or_else(|| kb("it has no aud string"))?;
    let nonce = c
        .get("nonce")
        .and_then(Value::as_str)
        .ok_or_else(|| kb("it has no nonce string"))?;
    let expected = b64url::encode(&Sha256::digest(presented.as_bytes()));
    if c.get("sd_hash").and_then(Value::as_str) != Some(expected.as_str()) {
        return Err(kb("its sd_hash is not the hash of the presented SD-JWT"));
    }
    Ok(KeyBinding {
        holder,
        aud: aud.to_string(),
        nonce: nonce.to_string(),
        iat,
    })
}

/// Issues an SD-JWT VC of `claims` (an object with `iss`, `vct`, `iat`...), signed by
/// `key` (`kid` naming it), the top-level claims named in `selective` made selectively
/// disclosable with salts from `salt`; all disclosures appended.
pub fn issue(
    claims: &Value,
    selective: &[&str],
    key: &SecretKey,
    kid: &str,
    salt: &mut dyn FnMut() -> [u8; 16],
) -> Result<String, CredentialError> {
    let Value::Object(members) = claims else {
        return Err(CredentialError::Structure(
            "the claims are a JSON object".into(),
        ));
    };
    let mut payload = members.clone();
    let mut disclosures = Vec::with_capacity(selective.len());
    let mut digests = Vec::with_capacity(selective.len());
    for name in selective {
        if matches!(
            *name,
            "iss" | "vct" | "iat" | "nbf" | "exp" | "cnf" | "_sd" | "_sd_alg"
        ) {
            return Err(CredentialError::Structure(format!(
                "the claim {name:?} cannot be selectively disclosed"
            )));
        }
        let value = payload
            .remove(*name)
            .ok_or_else(|| CredentialError::Structure(format!("no claim {name:?} to disclose")))?;
        let array = Value::Array(vec![
            Value::from(b64url::encode(&salt())),
            Value::from(*name),
            value,
        ]);
        let d = b64url::encode(array.to_string().as_bytes());
        digests.push(disclosure_digest(&d));
        disclosures.push(d);
    }
    digests.sort();
    if !digests.is_empty() {
        payload.insert("_sd".into(), Value::from(digests));
        payload.insert("_sd_alg".into(), Value::from(SD_ALG));
    }
    let header = serde_json::json!({"alg": "EdDSA", "typ": SD_JWT_TYP, "kid": kid});
    let jwt = sign_compact(&header, Value::Object(payload).to_string().as_bytes(), key);
    let mut out = jwt;
    for d in &disclosures {
        out.push('~');
        out.push_str(d);
    }
    out.push('~');
    Ok(out)
}

/// Appends a key-binding JWT by `holder` to an SD-JWT (which ends with '~').
pub fn present_with_key_binding(
    sd_jwt: &str,
    holder: &SecretKey,
    aud: &str,
    nonce: &str,
    iat: Timestamp,
) -> String {
    let sd_hash = b64url::encode(&Sha256::digest(sd_jwt.as_bytes()));
    let header = serde_json::json!({"alg": "EdDSA", "typ": KB_JWT_TYP});
    let payload =
        serde_json::json!({"iat": iat.as_secs(), "aud": aud, "nonce": nonce, "sd_hash": sd_hash});
    format!(
        "{sd_jwt}{}",
        sign_compact(&header, payload.to_string().as_bytes(), holder)
    )
}
