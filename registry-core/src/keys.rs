//! ed25519 signing keys and key files.
//!
//! A key file is JSON `{ "did": "did:key:...", "secret_key": "<64 hex digits>" }`. It is
//! written with mode 0600 by write-then-rename (so it is never visible with wider
//! permissions, even for a moment) and refused on read when group or others can read it.
//! Randomness is a parameter: callers pass a 32-byte seed from the operating system.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};

use crate::did::DidKey;

/// An ed25519 signing key. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key whose secret scalar is derived from `seed` (RFC 8032 secret key).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    pub fn did(&self) -> DidKey {
        DidKey::from_public_key(self.0.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// The 32-byte RFC 8032 secret key, for handing the same key to another library (the
    /// node's libp2p identity). Callers must not log or store it elsewhere.
    pub fn to_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    fn seed_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.did())
    }
}

/// Why a key file could not be used.
///
/// Each message carries its cause in full, and no variant exposes it again as
/// [`std::error::Error::source`]: a printer of the whole chain (`{:#}`) would otherwise
/// say it twice. The same holds for every error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write key file {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("key file {path} already exists; refusing to overwrite it")]
    Exists { path: PathBuf },
    #[error(
        "key file {path} can be read or changed by other users (mode {mode:03o}); \
         run `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("key file {path} is not a key file: {why}")]
    Malformed { path: PathBuf, why: String },
    #[error("key file {path} names {stated} but its secret key belongs to {actual}")]
    Mismatch {
        path: PathBuf,
        stated: String,
        actual: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    did: String,
    secret_key: String,
}

/// Largest key file read (a real one is about 150 bytes).
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Writes `key` to a new file at `path` with mode 0600 (write to a temporary file in the
/// same directory, fsync, rename). Refuses to overwrite an existing file.
pub fn write_key_file(path: &Path, key: &SecretKey) -> Result<(), KeyFileError> {
    let werr = |error| KeyFileError::Write {
        path: path.to_path_buf(),
        error,
    };
    if path.exists() {
        return Err(KeyFileError::Exists {
            path: path.to_path_buf(),
        });
    }
    let body = serde_json::to_string_pretty(&KeyFile {
        did: key.did().to_string(),
        secret_key: key.seed_hex(),
    })
    .map_err(|e| werr(std::io::Error::other(e)))?;
    let mut contents = body.into_bytes();
    contents.push(b'\n');
    crate::file::write_atomic(path, &contents, Some(0o600), crate::file::Existing::Refuse)
        .map_err(werr)
}

/// Reads a key file, refusing one that group or others can read.
///
/// The file is opened once and its permissions are checked on the open handle, so it
/// cannot be swapped between the check and the read. Its shape is checked before its
/// mode: a file that is no key file at all (a genesis given as `--key`) is named as such,
/// rather than with advice to `chmod` it. No error quotes the file's contents: a
/// malformed file is described by position and kind of fault only.
pub fn read_key_file(path: &Path) -> Result<SecretKey, KeyFileError> {
    let rerr = |error| KeyFileError::Read {
        path: path.to_path_buf(),
        error,
    };
    let file = fs::File::open(path).map_err(rerr)?;
    let meta = file.metadata().map_err(rerr)?;
    let malformed = |why: String| KeyFileError::Malformed {
        path: path.to_path_buf(),
        why,
    };
    if !meta.is_file() {
        return Err(malformed("not a regular file".into()));
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(malformed(format!("larger than {MAX_KEY_FILE_BYTES} bytes")));
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(rerr)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(malformed(format!("larger than {MAX_KEY_FILE_BYTES} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|_| malformed("not UTF-8 text".into()))?;
    let key = parse_key_file(path, &text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(key)
}

/// Parses the text of a key file (`path` only names it in errors): the JSON object, the
/// 64 hex digits of the seed, and the stated did matching the key. [`read_key_file`] calls
/// this after its size checks, and checks the permissions after it.
pub fn parse_key_file(path: &Path, text: &str) -> Result<SecretKey, KeyFileError> {
    let malformed = |why: String| KeyFileError::Malformed {
        path: path.to_path_buf(),
        why,
    };
    let file: KeyFile =
        serde_json::from_str(text).map_err(|e| malformed(describe_json_error(&e)))?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(file.secret_key.trim(), &mut seed)
        .map_err(|_| malformed("secret_key must be 64 hex digits".into()))?;
    let key = SecretKey::from_seed(seed);
    let actual = key.did().to_string();
    if file.did != actual {
        // The stated value is quoted only when it is a did:key (a public value).
        let stated = match DidKey::parse(&file.did) {
            Ok(did) => did.to_string(),
            Err(_) => "a value that is not a did:key".to_string(),
        };
        return Err(KeyFileError::Mismatch {
            path: path.to_path_buf(),
            stated,
            actual,
        });
    }
    Ok(key)
}

/// A JSON error of a key file, without the input it quotes (serde names unknown fields
/// and echoes unexpected values, which could be the secret).
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "cannot be read",
        Category::Syntax => "is not valid JSON",
        Category::Eof => "ends too early",
        Category::Data => "is not an object of exactly \"did\" and \"secret_key\" strings",
    };
    format!("it {what} (line {}, column {})", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let key = SecretKey::from_seed([9; 32]);
        write_key_file(&path, &key).unwrap();
        let back = read_key_file(&path).unwrap();
        assert_eq!(back.did(), key.did());
        assert!(matches!(
            write_key_file(&path, &key),
            Err(KeyFileError::Exists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap_or(());
            assert!(matches!(
                read_key_file(&path),
                Err(KeyFileError::TooOpen { .. })
            ));
        }
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .map(|r| r.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn secrets_never_show() {
        let key = SecretKey::from_seed([0x5a; 32]);
        let secret = key.seed_hex();
        assert!(!format!("{key:?}").contains(&secret));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        // A file whose did does not match: the error names dids, never the secret.
        let body = format!("{{\"did\":\"did:key:zzz\",\"secret_key\":\"{secret}\"}}");
        fs::write(&path, body).unwrap_or(());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap_or(());
        }
        let err = read_key_file(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("belongs to"), "{err}");
        assert!(!err.contains(&secret));
        // Malformed files whose JSON errors would quote the secret (as a field name, a
        // number, or in the did field): the errors say where, never what.
        let did = key.did().to_string();
        let decimal: String = key.to_seed()[..8]
            .iter()
            .map(|b| format!("{b:03}"))
            .collect();
        for body in [
            format!("{{\"{secret}\": 1}}"),
            format!("{{\"did\":\"{did}\",\"secret_key\":\"{secret}\",\"{secret}\":0}}"),
            format!("{{\"did\":\"{did}\",\"secret_key\":{decimal}}}"),
            format!("{{\"did\":\"{secret}\",\"secret_key\":\"{secret}\"}}"),
            format!("{{\"did\":\"{did}\",\"secret_key\":\"{secret}\"}} {secret}"),
            format!("{{\"did\":\"{did}\",\"secret_key\":\"{}\"}}", &secret[1..]),
            format!("{{\"did\":\"{did}\",\"secret_key\":[\"{secret}\"]}}"),
            format!("[\"{secret}\"]"),
            format!("\"{secret}\""),
        ] {
            fs::write(&path, &body).unwrap_or(());
            let err = read_key_file(&path)
                .err()
                .map(|e| (format!("{e}"), format!("{e:?}")));
            let (display, debug) = err.unwrap_or_else(|| panic!("accepted: {body}"));
            for shown in [&display, &debug] {
                assert!(!shown.contains(&secret[..16]), "{shown}");
                assert!(!shown.contains(&decimal[..12]), "{shown}");
            }
            assert!(display.contains("bad.key"), "{display}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn group_or_other_access_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write_key_file(&path, &SecretKey::from_seed([3; 32])).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o700 | 0o010] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap_or(());
            let err = read_key_file(&path)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            let fix = format!("chmod 600 {}", path.display());
            assert!(
                err.contains(&fix) && err.contains(&format!("{mode:03o}")),
                "{mode:o}: {err}"
            );
        }
        for mode in [0o600, 0o400] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap_or(());
            assert!(read_key_file(&path).is_ok(), "{mode:o}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_that_is_no_key_file_is_named_so_whatever_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesis.json");
        fs::write(&path, r#"{"version": 1, "name": "x"}"#).unwrap_or(());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap_or(());
        let err = read_key_file(&path).err();
        assert!(
            matches!(err, Some(KeyFileError::Malformed { .. })),
            "{err:?}"
        );
        let shown = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(shown.contains("is not a key file"), "{shown}");
        assert!(!shown.contains("chmod"), "{shown}");
    }

    #[test]
    fn io_errors_say_their_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nonexistent.key");
        let err = read_key_file(&path).err();
        let shown = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(shown.contains("nonexistent.key"), "{shown}");
        // The cause is in the message, so it is not also the source a chain printer shows.
        let source = err.as_ref().and_then(std::error::Error::source);
        assert!(source.is_none(), "{shown}: source {source:?}");
    }
}
