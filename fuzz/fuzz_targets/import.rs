//! An import file as `registry import` reads it: `BoundedLines` over the bytes (with a
//! small line limit, so long lines are exercised), then `parse_entry` on each line. The
//! lines must account for every byte, be numbered in order, and never hold more than
//! the limit.
#![no_main]

use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use registry_cli::jsonl::{parse_entry, BoundedLines};

/// Line limit of this target (the CLI's is 1 MiB; the logic is the same).
const LIMIT: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&buffer, file)) = data.split_first() else {
        return;
    };
    // A small read buffer makes lines span several fills.
    let reader = BufReader::with_capacity(usize::from(buffer % 64) + 1, file);
    let mut last = 0;
    let mut bytes = 0u64;
    for line in BoundedLines::new(reader, LIMIT) {
        assert!(line.number > last);
        last = line.number;
        bytes += line.bytes;
        if let Ok(text) = &line.text {
            assert!(text.len() <= LIMIT + 1);
            assert!(!text.trim().is_empty());
            assert_eq!(line.bytes, text.len() as u64);
        }
        let _ = parse_entry(&line);
    }
    // Blank lines within the limit are skipped; every other byte belongs to a reported
    // line.
    let blank: u64 = file
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.len() <= LIMIT + 1)
        .filter(|l| std::str::from_utf8(l).is_ok_and(|s| s.trim().is_empty()))
        .map(|l| l.len() as u64)
        .sum();
    assert_eq!(bytes + blank, file.len() as u64);
});
