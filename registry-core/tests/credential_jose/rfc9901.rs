//! RFC 9901 (the text of draft-ietf-oauth-selective-disclosure-jwt-22 in
//! `tests/vectors/rfc9901/`, see SOURCE.md): every disclosure digest and decoding the
//! document lists, the prose examples of section 4.2, each presentation processed to the
//! payload the document says a verifier ends with, and each key-binding JWT's `sd_hash`.
//!
//! The issuer signatures there are ES256, which this verifier does not accept, so the
//! payloads are processed with [`sdjwt::process`] directly.

use registry_core::credential::{b64url, json, sdjwt};
use serde_json::{json, Value};

const TEXT: &str =
    include_str!("../vectors/rfc9901/draft-ietf-oauth-selective-disclosure-jwt-22.txt");

fn lines() -> Vec<&'static str> {
    TEXT.lines().collect()
}

/// Lines of JSON the document wrapped, joined: a break outside a string literal stands
/// for whitespace; one inside a literal took the place of a space or was put in the middle
/// of a word, so each such break gives two readings. All readings, in order.
fn join_json<'a>(pieces: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut readings = vec![String::new()];
    let (mut in_string, mut escaped) = (false, false);
    for (i, piece) in pieces.into_iter().enumerate() {
        let piece = piece.trim();
        if i > 0 && !in_string {
            readings.iter_mut().for_each(|r| r.push(' '));
        } else if i > 0 {
            let spaced: Vec<String> = readings.iter().map(|r| format!("{r} ")).collect();
            readings.extend(spaced);
        }
        for c in piece.chars() {
            if escaped {
                escaped = false;
            } else if in_string && c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = !in_string;
            }
        }
        readings.iter_mut().for_each(|r| r.push_str(piece));
    }
    readings
}

/// The one reading of wrapped JSON that parses to `decoded`, or the first that parses.
fn read_json<'a>(pieces: impl IntoIterator<Item = &'a str>, decoded: Option<&Value>) -> Value {
    let parsed: Vec<Value> = join_json(pieces)
        .iter()
        .filter_map(|r| serde_json::from_str(r).ok())
        .collect();
    match decoded {
        Some(d) => parsed.into_iter().find(|p| p == d).unwrap_or(Value::Null),
        None => parsed.into_iter().next().unwrap(),
    }
}

/// `text` without any whitespace (base64url the document wrapped).
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect()
}

/// The text between `start` (after its first occurrence at or past `from`) and the next
/// `end`.
fn between<'a>(from: &'a str, start: &str, end: &str) -> &'a str {
    let at = from.find(start).unwrap() + start.len();
    let len = from[at..].find(end).unwrap();
    &from[at..at + len]
}

/// The JSON object that starts at the first line `   {` after line `after`.
fn json_block_after(lines: &[&str], after: usize) -> Value {
    let start = after + lines[after..].iter().position(|l| *l == "   {").unwrap();
    let end = start + lines[start..].iter().position(|l| *l == "   }").unwrap();
    read_json(lines[start..=end].iter().copied(), None)
}

/// A disclosure as the document lists it.
struct Listed {
    digest: String,
    disclosure: String,
    /// The lines of its contents, as wrapped.
    contents: Vec<&'static str>,
}

impl Listed {
    /// The contents read as JSON, the wrapping resolved in favour of `decoded` (a
    /// wrapped string literal has two readings; `Null` when neither is `decoded`).
    fn contents(&self, decoded: &Value) -> Value {
        read_json(self.contents.iter().copied(), Some(decoded))
    }
}

/// Every "SHA-256 Hash / Disclosure / Contents" item.
fn listed() -> Vec<Listed> {
    let lines = lines();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(digest) = lines[i].trim().strip_prefix("*  SHA-256 Hash: ") else {
            i += 1;
            continue;
        };
        i += 1;
        let mut disclosure = lines[i]
            .trim()
            .strip_prefix("*  Disclosure:")
            .unwrap()
            .to_string();
        i += 1;
        while !lines[i].trim().starts_with("*  Contents:") {
            disclosure.push_str(lines[i].trim());
            i += 1;
        }
        let mut contents = vec![lines[i].trim().strip_prefix("*  Contents:").unwrap()];
        i += 1;
        while !lines[i].trim().is_empty() && !lines[i].trim().starts_with('*') {
            contents.push(lines[i]);
            i += 1;
        }
        out.push(Listed {
            digest: digest.to_string(),
            disclosure: squeeze(&disclosure),
            contents,
        });
    }
    out
}

/// Every compact token the document shows (a run of base64url lines starting with
/// `eyJ`), with the index of its last line.
fn tokens(lines: &[&str]) -> Vec<(usize, String)> {
    let is_token_line = |l: &str| {
        l.starts_with("   ")
            && !l.trim().is_empty()
            && l.trim()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.~".contains(&c))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !(is_token_line(lines[i]) && lines[i].trim().starts_with("eyJ")) {
            i += 1;
            continue;
        }
        let mut token = String::new();
        while i < lines.len() && is_token_line(lines[i]) {
            token.push_str(lines[i].trim());
            i += 1;
        }
        out.push((i - 1, token));
    }
    out
}

/// The issuer-signed payload of an SD-JWT, decoded (its ES256 signature unchecked).
fn issuer_payload(sd_jwt: &str) -> Value {
    let jwt = sd_jwt.split('~').next().unwrap();
    json::parse(&b64url::decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// The disclosures between the issuer-signed JWT and the final `~`.
fn disclosures_of(sd_jwt: &str) -> Vec<&str> {
    let parts: Vec<&str> = sd_jwt.split('~').collect();
    parts[1..parts.len() - 1].to_vec()
}

#[test]
fn every_listed_disclosure_has_the_stated_digest_and_contents() {
    let listed = listed();
    // Sections 5 and 6 and appendix A list 87 between them.
    assert_eq!(listed.len(), 87);
    for item in &listed {
        assert_eq!(sdjwt::disclosure_digest(&item.disclosure), item.digest);
        let decoded = json::parse(&b64url::decode(&item.disclosure).unwrap()).unwrap();
        assert_eq!(item.contents(&decoded), decoded, "{}", item.disclosure);
    }
}

/// The disclosure put in place by [`sdjwt::process`], where its value holds no further
/// digests: an object property through `_sd`, an array element through `...`.
#[test]
fn every_listed_disclosure_is_put_in_place_by_its_digest() {
    let mut checked = 0;
    for item in listed() {
        let decoded = json::parse(&b64url::decode(&item.disclosure).unwrap()).unwrap();
        let stated = item.contents(&decoded);
        let Value::Array(contents) = &stated else {
            panic!("{stated} is not an array");
        };
        let text = stated.to_string();
        if text.contains("\"_sd\"") || text.contains("\"...\"") {
            continue;
        }
        let disclosures = [item.disclosure.as_str()];
        let (payload, expected, label) = match &contents[..] {
            [_, Value::String(name), value] => (
                json!({"_sd": [item.digest], "kept": 1}),
                json!({name.as_str(): value, "kept": 1}),
                name.clone(),
            ),
            [_, value] => (
                json!({"list": [0, {"...": item.digest}]}),
                json!({"list": [0, value]}),
                "list[1]".to_string(),
            ),
            _ => panic!("{text} is not a disclosure"),
        };
        let (claims, disclosed) = sdjwt::process(&payload, &disclosures).unwrap();
        assert_eq!(claims, expected);
        assert_eq!(disclosed, [label]);
        checked += 1;
    }
    assert!(checked > 70, "{checked}");
}

#[test]
fn the_prose_examples_of_section_4_2() {
    let lines = lines();
    let at = |anchor: &str| lines.iter().position(|l| l.contains(anchor)).unwrap();
    // 4.2.1: the family_name disclosure, and three other spellings of the same array.
    let array_line = at("The array is created as follows:") + 2;
    let array: Value = serde_json::from_str(lines[array_line].trim()).unwrap();
    let mobius = squeeze(between(TEXT, "The resulting Disclosure is:", "\n\n"));
    assert_eq!(
        json::parse(&b64url::decode(&mobius).unwrap()).unwrap(),
        array
    );
    let variants = between(TEXT, "encode the same claim value", "However, the digest");
    let variants: Vec<String> = variants
        .split("*  ")
        .skip(1)
        .map(|bullet| squeeze(bullet.split_once(':').unwrap().1))
        .collect();
    assert_eq!(variants.len(), 3);
    let expected = json!({"given_name": "Alice", array[1].as_str().unwrap(): array[2]});
    for spelling in variants.iter().chain([&mobius]) {
        let digest = sdjwt::disclosure_digest(spelling);
        let payload = json!({"given_name": "Alice", "_sd": [digest]});
        let (claims, _) = sdjwt::process(&payload, &[spelling]).unwrap();
        assert_eq!(claims, expected, "{spelling}");
    }

    // 4.2.3: its digest; 4.2.4.1: the payload that makes family_name disclosable with it.
    let hashed = between(
        TEXT,
        "SHA-256 digest of the Disclosure",
        "for the family_name claim",
    );
    assert_eq!(squeeze(hashed), mobius);
    let digest = between(TEXT, "from Section 4.2.1 above is", ".");
    assert_eq!(sdjwt::disclosure_digest(&mobius), squeeze(digest));
    let payload = json_block_after(&lines, at("family_name selectively disclosable:"));
    assert_eq!(payload["_sd"], json!([squeeze(digest)]));
    let (claims, disclosed) = sdjwt::process(&payload, &[&mobius]).unwrap();
    assert_eq!(claims, expected);
    assert_eq!(disclosed, ["family_name"]);

    // 4.2.2 and 4.2.4.2: the FR array element, in place or left out.
    let fr_line = at("could be created by first creating the following array:") + 2;
    let fr_array: Value = serde_json::from_str(lines[fr_line].trim()).unwrap();
    let fr = squeeze(between(TEXT, "The resulting Disclosure would be:", "\n\n"));
    assert_eq!(
        json::parse(&b64url::decode(&fr).unwrap()).unwrap(),
        fr_array
    );
    let payload = json_block_after(&lines, at("the second element of the nationalities array"));
    assert_eq!(
        payload["nationalities"][1]["..."],
        json!(sdjwt::disclosure_digest(&fr))
    );
    let outputs = squeeze(between(
        TEXT,
        "output an array with only two elements,",
        "\n\n",
    ));
    let (without, with) = outputs.split_once(",unless").unwrap();
    let with = with.split_once("array,").unwrap().1.trim_end_matches('.');
    let without: Value = serde_json::from_str(without.trim_end_matches(',')).unwrap();
    let with: Value = serde_json::from_str(with).unwrap();
    let claims_set = json_block_after(&lines, at("array in the following JWT Claims Set:"));
    assert_eq!(claims_set["nationalities"], with);
    assert_eq!(
        sdjwt::process(&payload, &[]).unwrap(),
        (json!({"nationalities": without}), vec![])
    );
    assert_eq!(
        sdjwt::process(&payload, &[&fr]).unwrap(),
        (
            json!({"nationalities": with}),
            vec!["nationalities[1]".to_string()]
        )
    );
}

#[test]
fn each_presentation_processes_to_the_stated_payload() {
    let lines = lines();
    let tokens = tokens(&lines);
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line.contains("Verifier will have") {
            continue;
        }
        let (_, presentation) = tokens
            .iter()
            .rfind(|(end, t)| *end < i && t.contains('~'))
            .unwrap();
        let disclosures = disclosures_of(presentation);
        let expected = json_block_after(&lines, i);
        let (claims, disclosed) =
            sdjwt::process(&issuer_payload(presentation), &disclosures).unwrap();
        assert_eq!(claims, expected, "the presentation ending on line {}", i);
        assert_eq!(disclosed.len(), disclosures.len());
        if checked == 0 {
            // Section 5.2: "given_name, family_name, address, and one of the nationalities".
            let mut names = disclosed.clone();
            names.sort();
            assert_eq!(
                names,
                ["address", "family_name", "given_name", "nationalities[0]"]
            );
        }
        checked += 1;
    }
    // Sections 5.2, A.1, A.2, A.3 and A.4.
    assert_eq!(checked, 5);
}

#[test]
fn every_issued_sd_jwt_processes_with_all_its_disclosures() {
    let lines = lines();
    let mut checked = 0;
    for (_, token) in tokens(&lines) {
        if !token.ends_with('~') {
            continue;
        }
        let disclosures = disclosures_of(&token);
        let (claims, disclosed) = sdjwt::process(&issuer_payload(&token), &disclosures).unwrap();
        assert_eq!(disclosed.len(), disclosures.len());
        let text = claims.to_string();
        assert!(
            !text.contains("\"_sd\"") && !text.contains("\"...\"") && !text.contains("_sd_alg")
        );
        checked += 1;
    }
    // Sections 5.1, A.1, A.2, A.3 and A.4 (issued, or presented without key binding).
    assert_eq!(checked, 5);
}

#[test]
fn each_key_binding_jwt_carries_the_sd_hash_of_what_precedes_it() {
    let lines = lines();
    let mut checked = 0;
    for (_, token) in tokens(&lines) {
        let Some(cut) = token.rfind('~') else {
            continue;
        };
        if cut + 1 == token.len() {
            continue;
        }
        let kb_jwt = &token[cut + 1..];
        let part = |i: usize| -> Value {
            serde_json::from_slice(&b64url::decode(kb_jwt.split('.').nth(i).unwrap()).unwrap())
                .unwrap()
        };
        assert_eq!(part(0)["typ"], "kb+jwt");
        assert_eq!(part(1)["sd_hash"], sdjwt::sd_hash(&token[..=cut]));
        checked += 1;
    }
    // Sections 5.2, A.3 and A.4.
    assert_eq!(checked, 3);
}
