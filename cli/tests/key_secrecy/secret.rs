//! What the programs printed, and every encoding of a secret key to search it for.

use std::path::Path;
use std::process::Output;

use registry_core::SecretKey;

/// Everything any program printed or answered during the test, to be searched for
/// secrets.
#[derive(Default)]
pub(crate) struct Haystack {
    pub(crate) texts: Vec<(String, Vec<u8>)>,
    pub(crate) log_lines: usize,
}

impl Haystack {
    pub(crate) fn add(&mut self, what: impl Into<String>, bytes: &[u8]) {
        self.texts.push((what.into(), bytes.to_vec()));
    }

    pub(crate) fn add_output(&mut self, what: &str, out: &Output) {
        self.add(format!("{what} stdout"), &out.stdout);
        self.add(format!("{what} stderr"), &out.stderr);
    }
}

/// Every encoding of a secret key the project or its libraries use or could print.
pub(crate) struct Secret {
    pub(crate) name: String,
    raw: Vec<u8>,
    pub(crate) needles: Vec<String>,
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8], url: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let c = B64[((n >> (18 - 6 * i)) & 63) as usize];
            out.push(match (url, c) {
                (true, b'+') => '-',
                (true, b'/') => '_',
                (_, c) => c as char,
            });
        }
    }
    out
}

impl Secret {
    pub(crate) fn of_key_file(name: &str, path: &Path) -> Secret {
        let text = std::fs::read_to_string(path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let hex_seed = v["secret_key"].as_str().unwrap().to_string();
        let seed: [u8; 32] = hex::decode(&hex_seed).unwrap().try_into().unwrap();
        let key = SecretKey::from_seed(seed);
        let public = *key.did().public_key();
        let pair: Vec<u8> = seed.iter().chain(public.iter()).copied().collect();
        // libp2p's protobuf encoding of an ed25519 private key (type 1, 64 bytes).
        let proto: Vec<u8> = [0x08, 0x01, 0x12, 0x40]
            .iter()
            .chain(&pair)
            .copied()
            .collect();
        // Multibase base58btc of the multicodec ed25519-priv (0x1300) key.
        let multicodec: Vec<u8> = [0x80, 0x26].iter().chain(&seed).copied().collect();
        let decimal = seed[..8]
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let mut needles = vec![
            hex_seed.to_lowercase(),
            hex_seed.to_uppercase(),
            hex_seed[..16].to_lowercase(),
            hex::encode(&pair),
            bs58::encode(seed).into_string(),
            bs58::encode(&pair).into_string(),
            bs58::encode(&proto).into_string(),
            format!("z{}", bs58::encode(&multicodec).into_string()),
            decimal,
            text.trim().to_string(),
        ];
        for bytes in [&seed[..], &pair[..], &proto[..]] {
            for url in [false, true] {
                // Any 24-character stretch of the base64 text, from a 3-byte boundary,
                // whatever the padding of the full encoding.
                let full = base64(bytes, url);
                needles.push(full[..24].to_string());
            }
        }
        // The same secret's Debug output is checked by the caller; the seed's own Debug
        // form is the decimal list above.
        Secret {
            name: name.to_string(),
            raw: seed.to_vec(),
            needles,
        }
    }

    /// Where in `hay` this secret shows, if anywhere.
    pub(crate) fn find_in(&self, hay: &[u8]) -> Option<String> {
        if hay
            .windows(self.raw.len())
            .any(|w| w == self.raw.as_slice())
        {
            return Some("raw bytes".into());
        }
        let text = String::from_utf8_lossy(hay);
        let lower = text.to_lowercase();
        for n in &self.needles {
            let found = if n.chars().all(|c| c.is_ascii_hexdigit()) {
                lower.contains(&n.to_lowercase())
            } else {
                text.contains(n.as_str())
            };
            if found {
                return Some(format!("encoding {n:.20}…"));
            }
        }
        None
    }
}
