//! Credentials with a Data Integrity proof (`eddsa-jcs-2022`) and what they rest on: the
//! JSON reader for untrusted input and the JSON Canonicalization Scheme (RFC 8785).
//!
//! External vectors, kept byte for byte under `tests/vectors/` (each directory's
//! SOURCE.md names the repository and commit):
//! - `jcs/`: the RFC 8785 authors' canonicalization inputs and outputs, and their
//!   ECMAScript number samples and checksums of the deterministic number test sequence;
//! - `vc-di-eddsa/`: the W3C vc-di-eddsa specification's `eddsa-jcs-2022` vectors, every
//!   intermediate value of signing one credential with one key.

use std::path::PathBuf;

#[path = "credential_di/eddsa_vectors.rs"]
mod eddsa_vectors;
#[path = "credential_di/jcs_vectors.rs"]
mod jcs_vectors;
#[path = "credential_di/numbers.rs"]
mod numbers;
#[path = "credential_di/refusals.rs"]
mod refusals;

/// The bytes of `tests/vectors/<path>`.
pub fn vector(path: &str) -> Vec<u8> {
    let full: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "vectors", path]
        .iter()
        .collect();
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// The text of `tests/vectors/<path>`.
pub fn vector_text(path: &str) -> String {
    String::from_utf8(vector(path)).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"))
}

/// The names of the files in `tests/vectors/<dir>`, sorted.
pub fn vector_names(dir: &str) -> Vec<String> {
    let full: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "vectors", dir]
        .iter()
        .collect();
    let mut names: Vec<String> = std::fs::read_dir(&full)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", full.display()))
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .into_string()
                .expect("a UTF-8 file name")
        })
        .collect();
    names.sort();
    names
}
