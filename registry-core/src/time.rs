//! Points in time as unix seconds, and their RFC 3339 spelling.
//!
//! registry-core never reads a clock: every function that needs "now" takes a
//! [`Timestamp`] argument.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Seconds since the unix epoch (UTC).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

/// Largest timestamp that has an RFC 3339 spelling (9999-12-31T23:59:59Z).
pub const MAX_RFC3339: u64 = 253_402_300_799;

/// A time that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeParseError {
    #[error("{input:?} is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z) or unix seconds")]
    Malformed { input: String },
    #[error("{input:?} must be in UTC, ending in Z")]
    NotUtc { input: String },
    #[error("{input:?} is before 1970-01-01T00:00:00Z")]
    BeforeEpoch { input: String },
    #[error("{input:?} is after 9999-12-31T23:59:59Z")]
    TooLate { input: String },
}

impl Timestamp {
    pub fn as_secs(self) -> u64 {
        self.0
    }

    /// A system time as a timestamp (whole seconds; times before 1970 are 0). The caller
    /// reads the clock: registry-core never does.
    pub fn from_system_time(t: std::time::SystemTime) -> Timestamp {
        Timestamp(
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
    }

    /// Parses RFC 3339 with any offset (fractions of a second are dropped).
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeParseError> {
        let input = || s.chars().take(64).collect::<String>();
        let dt = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| TimeParseError::Malformed { input: input() })?;
        let secs = dt.unix_timestamp();
        if secs < 0 {
            return Err(TimeParseError::BeforeEpoch { input: input() });
        }
        Ok(Timestamp(secs as u64))
    }

    /// Parses RFC 3339 in UTC only (`...Z`), as TRQP's `context.time` requires.
    pub fn parse_rfc3339_utc(s: &str) -> Result<Timestamp, TimeParseError> {
        if !(s.ends_with('Z') || s.ends_with('z')) {
            // Distinguish "not a time at all" from "a time with an offset".
            Timestamp::parse_rfc3339(s)?;
            return Err(TimeParseError::NotUtc {
                input: s.chars().take(64).collect(),
            });
        }
        Timestamp::parse_rfc3339(s)
    }

    /// Parses what a person types: RFC 3339 (any offset) or plain unix seconds.
    pub fn parse_human(s: &str) -> Result<Timestamp, TimeParseError> {
        let s = s.trim();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let secs: u64 = s.parse().map_err(|_| TimeParseError::TooLate {
                input: s.chars().take(64).collect(),
            })?;
            if secs > MAX_RFC3339 {
                return Err(TimeParseError::TooLate {
                    input: s.to_string(),
                });
            }
            return Ok(Timestamp(secs));
        }
        Timestamp::parse_rfc3339(s)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`; times past year 9999 are shown as 9999-12-31T23:59:59Z.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.min(MAX_RFC3339) as i64;
        match OffsetDateTime::from_unix_timestamp(secs) {
            Ok(dt) => {
                let dt = dt.to_offset(UtcOffset::UTC);
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    dt.year(),
                    u8::from(dt.month()),
                    dt.day(),
                    dt.hour(),
                    dt.minute(),
                    dt.second()
                )
            }
            Err(_) => "9999-12-31T23:59:59Z".to_string(),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.0, self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let t = Timestamp::parse_rfc3339_utc("2026-11-22T02:31:46Z").unwrap_or_default();
        assert_eq!(t, Timestamp(1_795_314_706));
        assert_eq!(t.to_rfc3339(), "2026-11-22T02:31:46Z");
        assert_eq!(Timestamp::parse_rfc3339("2026-11-22T03:31:46+01:00"), Ok(t));
        assert_eq!(Timestamp::parse_human("1795314706"), Ok(t));
        assert_eq!(
            Timestamp::parse_rfc3339_utc("2026-11-22T02:31:46.9Z"),
            Ok(t)
        );
    }

    #[test]
    fn rejects_bad_times() {
        assert!(matches!(
            Timestamp::parse_rfc3339_utc("2026-11-22T03:31:46+01:00"),
            Err(TimeParseError::NotUtc { .. })
        ));
        assert!(matches!(
            Timestamp::parse_rfc3339_utc("yesterday"),
            Err(TimeParseError::Malformed { .. })
        ));
        assert!(matches!(
            Timestamp::parse_human("1969-12-31T23:59:59Z"),
            Err(TimeParseError::BeforeEpoch { .. })
        ));
        assert!(Timestamp::parse_human("99999999999999999999999").is_err());
        assert!(Timestamp::parse_human("").is_err());
    }
}

/// Serde for a [`Timestamp`] spelled as RFC 3339 in JSON answers
/// (`#[serde(with = "crate::time::as_rfc3339")]`).
pub mod as_rfc3339 {
    use serde::{de, Deserialize, Deserializer, Serializer};

    use super::Timestamp;

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(de::Error::custom)
    }
}

/// [`as_rfc3339`] for an optional time (`null` when absent).
pub mod as_rfc3339_opt {
    use serde::{de, Deserialize, Deserializer, Serializer};

    use super::Timestamp;

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&t.to_rfc3339()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| Timestamp::parse_rfc3339(&s).map_err(de::Error::custom))
            .transpose()
    }
}
