//! base64url without padding (RFC 4648 section 5), as JOSE spells every part; decoding
//! accepts only the canonical spelling (no padding, no other alphabet, unused bits zero).

use super::CredentialError;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let sextets = [
            b[0] >> 2,
            (b[0] << 4 | b[1] >> 4) & 0x3f,
            (b[1] << 2 | b[2] >> 6) & 0x3f,
            b[2] & 0x3f,
        ];
        for s in &sextets[..=chunk.len()] {
            out.push(char::from(ALPHABET[usize::from(*s)]));
        }
    }
    out
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Decodes the canonical spelling only.
pub fn decode(s: &str) -> Result<Vec<u8>, CredentialError> {
    let bad = |why: &str| CredentialError::Malformed(format!("base64url: {why}"));
    let bytes = s.as_bytes();
    if bytes.len() % 4 == 1 {
        return Err(bad("impossible length"));
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut v = [0u8; 4];
        for (i, c) in chunk.iter().enumerate() {
            v[i] = sextet(*c)
                .ok_or_else(|| bad("a character outside the base64url alphabet (or padding)"))?;
        }
        let n = (u32::from(v[0]) << 18)
            | (u32::from(v[1]) << 12)
            | (u32::from(v[2]) << 6)
            | u32::from(v[3]);
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        // Unused low bits of the last sextet must be zero (one spelling per value).
        if (keep == 1 && n & 0xffff != 0) || (keep == 2 && n & 0xff != 0) {
            return Err(bad("non-zero unused bits"));
        }
        out.extend_from_slice(&three[..keep]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_spellings() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
            assert_eq!(decode(&encode(&bytes)).ok(), Some(bytes));
        }
        assert_eq!(encode(b"\xfb\xff"), "-_8");
        for bad in ["AA==", "A", "AB", "+/8", "AAA=", "AB c"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        assert_eq!(decode("AA").ok(), Some(vec![0]));
    }
}
