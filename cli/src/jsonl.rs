//! Reading JSON-lines files (one [`SignedEntry`] per line, as `registry export` writes
//! them) with a bound on the length of each line, so a damaged or hostile file cannot
//! make the reader buffer without limit.

use std::io::{self, BufRead};

use registry_core::entry::SignedEntry;

/// Longest line accepted (an entry encodes to at most 64 KiB; JSON is a few times larger).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// One line of input: its number (from 1), its bytes including the newline, and its
/// text, or why it could not be read.
#[derive(Debug)]
pub struct Line {
    pub number: u64,
    pub bytes: u64,
    pub text: Result<String, String>,
}

/// An iterator over the non-blank lines of a reader, each at most `limit` bytes. A line
/// over the limit is skipped (its bytes are consumed, not stored) and reported as an
/// error; an I/O error ends the iteration after being reported once.
#[derive(Debug)]
pub struct BoundedLines<R> {
    reader: R,
    limit: usize,
    number: u64,
    failed: bool,
}

impl<R: BufRead> BoundedLines<R> {
    pub fn new(reader: R, limit: usize) -> BoundedLines<R> {
        BoundedLines {
            reader,
            limit,
            number: 0,
            failed: false,
        }
    }

    /// Reads one raw line: `Ok(None)` at the end; `too_long` when over the limit.
    fn read_raw(&mut self) -> io::Result<Option<(Vec<u8>, u64, bool)>> {
        let mut buf = Vec::new();
        let mut total = 0u64;
        let mut too_long = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok((total > 0).then_some((buf, total, too_long)));
            }
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if buf.len() + take > self.limit + 1 {
                    too_long = true;
                    buf = Vec::new();
                } else {
                    buf.extend_from_slice(&chunk[..take]);
                }
            }
            total += take as u64;
            self.reader.consume(take);
            if done {
                return Ok(Some((buf, total, too_long)));
            }
        }
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        loop {
            if self.failed {
                return None;
            }
            self.number += 1;
            let number = self.number;
            let (buf, bytes, too_long) = match self.read_raw() {
                Ok(Some(raw)) => raw,
                Ok(None) => return None,
                Err(e) => {
                    self.failed = true;
                    let text = Err(format!("read failed: {e}"));
                    return Some(Line {
                        number,
                        bytes: 0,
                        text,
                    });
                }
            };
            let text = if too_long {
                Err(format!("line is longer than {} bytes", self.limit))
            } else {
                match String::from_utf8(buf) {
                    Ok(s) if s.trim().is_empty() => continue,
                    Ok(s) => Ok(s),
                    Err(_) => Err("line is not UTF-8".to_string()),
                }
            };
            return Some(Line {
                number,
                bytes,
                text,
            });
        }
    }
}

/// Parses one line as a [`SignedEntry`] (the caller knows the line number).
pub fn parse_entry(line: &Line) -> Result<SignedEntry, String> {
    let text = line.text.as_ref().map_err(Clone::clone)?;
    serde_json::from_str(text.trim()).map_err(|e| format!("not an entry: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_lines_and_skips_blank_ones() {
        let input = b"abc\n\n  \nxxxxxxxxxxxx\nlast".to_vec();
        let lines: Vec<Line> = BoundedLines::new(&input[..], 8).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].text.as_deref(), Ok("abc\n"));
        assert_eq!(lines[0].number, 1);
        assert!(lines[1].text.is_err());
        assert_eq!(lines[1].number, 4);
        assert_eq!(lines[2].text.as_deref(), Ok("last"));
        let bytes: u64 = lines.iter().map(|l| l.bytes).sum();
        assert_eq!(bytes, 4 + 13 + 4);
    }

    #[test]
    fn a_line_exactly_at_the_limit_passes() {
        let input = b"12345678\n".to_vec();
        let lines: Vec<Line> = BoundedLines::new(&input[..], 8).collect();
        assert_eq!(lines[0].text.as_deref(), Ok("12345678\n"));
    }

    #[test]
    fn bad_json_is_reported() {
        let input = b"{\"body\":1}\n".to_vec();
        let line = BoundedLines::new(&input[..], 1024).next();
        let err = line.map(|l| parse_entry(&l)).and_then(Result::err);
        assert!(err.is_some_and(|e| e.starts_with("not an entry")));
    }
}
