//! Standard base64 (RFC 4648 section 4), padded, as signed notes spell signatures and
//! checkpoint commitments; decoding accepts only the canonical spelling.

const B64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 section 4) with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
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
        for (i, s) in sextets.iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(B64_ALPHABET[usize::from(*s)]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes canonical padded standard base64 without allocating: the decoded length is
/// returned and as many bytes as fit are written to `out`. Refused: an empty input, a
/// length not a multiple of four, padding anywhere but the end, and non-zero unused bits
/// (which would give one value several spellings, and a flipped bit no effect).
pub(crate) fn base64_decode_into(s: &str, out: &mut [u8]) -> Option<usize> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let quads = b.len() / 4;
    let mut n = 0;
    for (q, quad) in b.chunks_exact(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && q + 1 != quads) {
            return None;
        }
        let mut v = [0u8; 4];
        for (slot, &c) in v.iter_mut().zip(quad).take(4 - pad) {
            *slot = base64_sextet(c)?;
        }
        if (pad == 1 && v[2] & 0x03 != 0) || (pad == 2 && v[1] & 0x0f != 0) {
            return None;
        }
        let bytes = [
            v[0] << 2 | v[1] >> 4,
            v[1] << 4 | v[2] >> 2,
            v[2] << 6 | v[3],
        ];
        for &byte in &bytes[..3 - pad] {
            if let Some(slot) = out.get_mut(n) {
                *slot = byte;
            }
            n += 1;
        }
    }
    Some(n)
}
