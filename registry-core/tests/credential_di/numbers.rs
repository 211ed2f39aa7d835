//! ECMAScript number serialization (RFC 8785 section 3.2.2.3) against the samples of
//! cyberphone/json-canonicalization `testdata/README.md`, and against its deterministic
//! sequence of IEEE-754 doubles: the sequence is regenerated here as that README defines
//! it, each value written `hex-ieee,expected\n`, and the SHA-256 of the first N lines must
//! equal the README's table (which the authors computed from their 100-million-line file).

use registry_core::credential::jcs::number_to_string;
use sha2::{Digest, Sha256};

use super::jcs_vectors::block_after;
use super::vector_text;

/// One `hex-ieee,expected` line: the double and its expected spelling.
fn sample(line: &str) -> (f64, &str) {
    let (hex, expected) = line.split_once(',').expect("hex-ieee,expected");
    let bits = u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{hex:?}: {e}"));
    (f64::from_bits(bits), expected)
}

#[test]
fn readme_samples() {
    let readme = vector_text("jcs/README.md");
    let lines: Vec<&str> = block_after(&readme, "Sample lines:").lines().collect();
    assert_eq!(lines.len(), 7);
    for line in lines {
        let (f, expected) = sample(line);
        assert_eq!(number_to_string(f), expected, "{line}");
        // The expected spelling reads back as the same double (except -0, written 0).
        let back: f64 = expected.parse().expect("a number");
        assert!(back == f, "{line}");
    }
}

/// The README's fixed first values of the sequence (its `staticU64s`).
fn static_values(readme: &str) -> Vec<u64> {
    let start = readme
        .find("staticU64s = new BigUint64Array([")
        .expect("the static values");
    let list = &readme[start..];
    let list = &list[list.find('[').expect("[") + 1..list.find("])").expect("])")];
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let hex = item
                .strip_prefix("0x")
                .and_then(|h| h.strip_suffix('n'))
                .unwrap_or_else(|| panic!("{item:?} is not a 0x...n literal"));
            u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{item:?}: {e}"))
        })
        .collect()
}

/// The README's table: SHA-256 of the first `lines` lines, and their size in bytes.
fn checksums(readme: &str) -> Vec<(String, usize, usize)> {
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            match cells.as_slice() {
                [hash, lines, size]
                    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    Some((
                        hash.to_string(),
                        lines.parse().expect("a line count"),
                        size.parse().expect("a size"),
                    ))
                }
                _ => None,
            }
        })
        .collect()
}

/// The README's sequence: the static values, then 2000 consecutive doubles from the
/// smallest normal one, then the finite non-zero doubles read (little-endian, four per
/// block) from the chain of SHA-256 blocks starting at SHA-256 of 32 zero bytes.
struct Sequence {
    statics: Vec<u64>,
    index: usize,
    block: [u8; 32],
    pending: Vec<u64>,
}

impl Sequence {
    const SERIAL: usize = 2000;

    fn new(statics: Vec<u64>) -> Sequence {
        Sequence {
            statics,
            index: 0,
            block: [0; 32],
            pending: Vec::new(),
        }
    }

    fn next_bits(&mut self) -> u64 {
        let i = self.index;
        self.index += 1;
        if i < self.statics.len() {
            return self.statics[i];
        }
        if i < self.statics.len() + Self::SERIAL {
            return 0x0010_0000_0000_0000 + (i - self.statics.len()) as u64;
        }
        loop {
            if self.pending.is_empty() {
                self.block = Sha256::digest(self.block).into();
                self.pending = self
                    .block
                    .chunks_exact(8)
                    .rev()
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect();
            }
            let bits = self.pending.pop().expect("a pending value");
            let f = f64::from_bits(bits);
            if f != 0.0 && f.is_finite() {
                return bits;
            }
        }
    }
}

#[test]
fn the_number_sequence_matches_the_published_checksums() {
    let readme = vector_text("jcs/README.md");
    let statics = static_values(&readme);
    assert_eq!(statics.len(), 168);
    let table = checksums(&readme);
    assert_eq!(table.len(), 6);
    // By default the rows up to a million lines (40 MB) are checked, in about a second;
    // JCS_NUMBER_LINES raises the limit (up to the table's 100 million) for a longer run.
    let limit: usize = std::env::var("JCS_NUMBER_LINES")
        .ok()
        .map(|v| v.parse().expect("JCS_NUMBER_LINES is a line count"))
        .unwrap_or(1_000_000)
        .max(1_000_000);
    let checked: Vec<_> = table.into_iter().filter(|row| row.1 <= limit).collect();
    assert!(checked.len() >= 4);
    let last = checked.last().map(|row| row.1).expect("a row");

    let mut sequence = Sequence::new(statics);
    let mut hasher = Sha256::new();
    let mut size = 0usize;
    let mut line = String::new();
    let mut rows = checked.iter().peekable();
    for n in 1..=last {
        let bits = sequence.next_bits();
        let f = f64::from_bits(bits);
        line.clear();
        line.push_str(&format!("{bits:x},"));
        let written = number_to_string(f);
        line.push_str(&written);
        line.push('\n');
        hasher.update(line.as_bytes());
        size += line.len();
        // Every spelling also reads back as the same double.
        let back: f64 = written.parse().expect("a number");
        assert!(back == f, "{bits:x} written {written}");
        if let Some((hash, lines, bytes)) = rows.peek() {
            if *lines == n {
                assert_eq!(size, *bytes, "size of the first {n} lines");
                assert_eq!(
                    hex::encode(hasher.clone().finalize()),
                    *hash,
                    "SHA-256 of the first {n} lines"
                );
                rows.next();
            }
        }
    }
    assert!(rows.next().is_none(), "every checked row was reached");
}
