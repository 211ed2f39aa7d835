//! The C2SP and Go signed-note vectors in `tests/fixtures/c2sp/`: key ids, verification,
//! signing and rendering, byte for byte.

use super::*;

/// A verifier key, `<name>+<key id hex>+base64(0x01 || public key)`.
fn read_vkey(file: &str) -> (String, [u8; 4], DidKey) {
    let text = fixture(file);
    let parts: Vec<&str> = text.trim_end().splitn(3, '+').collect();
    let raw = b64_decode(parts[2]);
    assert_eq!((raw.len(), raw[0]), (33, 1), "{file}: an ed25519 vkey");
    let id: [u8; 4] = hex::decode(parts[1]).unwrap().try_into().unwrap();
    let key = DidKey::from_public_key(raw[1..].try_into().unwrap());
    (parts[0].to_string(), id, key)
}

#[test]
fn external_vectors_verify_and_render_byte_for_byte() {
    let _l = lock();
    for (vkey, note) in [
        ("c2sp/example.com-foo.vkey", "c2sp/example.com-foo.note"),
        ("c2sp/PeterNeumann.vkey", "c2sp/PeterNeumann.note"),
    ] {
        let (name, id, key) = read_vkey(vkey);
        assert_eq!(key_id(&name, &key), id, "{vkey}: key id");
        let text = fixture(note);
        let parts = split_note(&text).unwrap();
        assert_eq!(parts.signatures.len(), 1);
        let sig = &parts.signatures[0];
        assert_eq!((sig.name.as_str(), sig.key_id), (name.as_str(), id));
        assert!(
            verify_ed25519(parts.text.as_bytes(), &key, &sig.sig),
            "{note}"
        );
        let other = format!("{}x\n", parts.text);
        assert!(!verify_ed25519(other.as_bytes(), &key, &sig.sig));
        assert_eq!(render_note(parts.text, &parts.signatures), text, "{note}");
    }
}

#[test]
fn go_signer_vector_signs_byte_for_byte() {
    let _l = lock();
    let skey = fixture("c2sp/PeterNeumann.skey");
    let parts: Vec<&str> = skey.trim_end().splitn(5, '+').collect();
    assert_eq!(&parts[..3], ["PRIVATE", "KEY", "PeterNeumann"]);
    let raw = b64_decode(parts[4]);
    assert_eq!((raw.len(), raw[0]), (33, 1));
    let secret = SecretKey::from_seed(raw[1..].try_into().unwrap());
    let (name, id, key) = read_vkey("c2sp/PeterNeumann.vkey");
    assert_eq!(secret.did(), key);
    assert_eq!(hex::encode(key_id(&name, &secret.did())), parts[3]);

    let note = fixture("c2sp/PeterNeumann.note");
    let text = split_note(&note).unwrap().text;
    let ours = NoteSignature {
        name,
        key_id: id,
        sig: secret.sign(text.as_bytes()),
    };
    assert_eq!(render_note(text, &[ours]), note);
}

#[test]
fn external_two_signer_note_verifies_and_renders_sorted() {
    let _l = lock();
    let note = fixture("c2sp/PeterNeumann-EnochRoot.note");
    let parts = split_note(&note).unwrap();
    let names: Vec<&str> = parts.signatures.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["EnochRoot", "PeterNeumann"]);
    for (vkey, sig) in ["c2sp/EnochRoot.vkey", "c2sp/PeterNeumann.vkey"]
        .iter()
        .zip(&parts.signatures)
    {
        let (name, id, key) = read_vkey(vkey);
        assert_eq!((key_id(&name, &key), sig.key_id), (id, id));
        assert!(
            verify_ed25519(parts.text.as_bytes(), &key, &sig.sig),
            "{vkey}"
        );
    }
    // The source lists Peter first; ours sorts by name, so the two lines swap.
    let lines: Vec<&str> = note.lines().collect();
    let sorted = format!(
        "{}\n{}\n{}\n{}\n",
        lines[0],
        lines[1],
        lines[2],
        [lines[4], lines[3]].join("\n")
    );
    assert_eq!(render_note(parts.text, &parts.signatures), sorted);
}

#[test]
fn spec_examples_without_keys_parse_and_render() {
    let _l = lock();
    let q = fixture("c2sp/quasimodo.note");
    let parts = split_note(&q).unwrap();
    // The text is separated by the last blank line, so its own empty line stays in it.
    assert_eq!(
        parts.text,
        q.split("\n\n\u{2014}").next().unwrap().to_string() + "\n"
    );
    assert!(parts.text.contains("\n\ned è"));
    assert_eq!(render_note(parts.text, &parts.signatures), q);

    let sofa = fixture("c2sp/behind-the-sofa.note");
    let parts = split_note(&sofa).unwrap();
    assert_eq!(render_note(parts.text, &parts.signatures), sofa);
    assert_eq!(
        SignedNote::parse(&sofa),
        Err(NoteError::BodyLineCount { found: 3 })
    );
}
