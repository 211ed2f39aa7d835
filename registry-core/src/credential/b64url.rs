//! base64url without padding (RFC 4648 section 5), as JOSE spells every part.
//!
//! Decoding accepts the canonical spelling only: the URL-safe alphabet, no `=` padding,
//! no length that leaves a lone character, and zero unused bits in the last character.
//! Each byte string then has exactly one spelling, so a digest or a signature over the
//! text commits to the bytes and nothing else.

use super::CredentialError;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The base64url text of `bytes`, unpadded.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// The 6-bit value of one base64url character.
fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes the canonical spelling only (no padding, no other alphabet, unused bits zero).
pub fn decode(s: &str) -> Result<Vec<u8>, CredentialError> {
    let text = s.as_bytes();
    if text.len() % 4 == 1 {
        return Err(CredentialError::Malformed(format!(
            "base64url of {} characters is impossible",
            text.len()
        )));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = value(c).ok_or_else(|| {
                CredentialError::Malformed(format!(
                    "{:?} is not a base64url character",
                    char::from(c)
                ))
            })?;
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let kept = chunk.len() - 1;
        // The bits past the last whole byte must be zero, or two spellings would decode
        // to the same bytes.
        let unused_mask = match kept {
            1 => 0xffff,
            2 => 0xff,
            _ => 0,
        };
        if n & unused_mask != 0 {
            return Err(CredentialError::Malformed(
                "base64url with non-zero unused bits".into(),
            ));
        }
        out.extend_from_slice(&bytes[..kept]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_test_vectors_without_padding() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (bytes, text) in cases {
            assert_eq!(encode(bytes), text);
            assert_eq!(decode(text).as_deref(), Ok(bytes));
        }
    }

    #[test]
    fn the_url_safe_characters_round_trip() {
        let bytes = [0xfb, 0xff, 0xbf];
        assert_eq!(encode(&bytes), "-_-_");
        assert_eq!(decode("-_-_"), Ok(bytes.to_vec()));
    }

    #[test]
    fn every_byte_string_up_to_three_bytes_round_trips() {
        for len in 0..=3usize {
            let total = 1usize << (8 * len);
            for n in (0..total).step_by(97) {
                let bytes: Vec<u8> = (0..len).map(|i| (n >> (8 * i)) as u8).collect();
                assert_eq!(decode(&encode(&bytes)), Ok(bytes));
            }
        }
    }

    #[test]
    fn non_canonical_spellings_are_refused() {
        for bad in [
            "Zg==", "Zm8=", "Zh", "Zm9", "Z", "Zm9vY", "Zm+v", "Zm/v", "Zm9v\n", "Zm 9",
        ] {
            assert_eq!(
                decode(bad).map_err(|e| e.code()),
                Err("malformed"),
                "{bad:?}"
            );
        }
    }
}
