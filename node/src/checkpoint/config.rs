//! `[checkpoint]`: when slots fall, how far the checkpoint state trails, how many slots are
//! kept, and how far a peer's slot may be from our clock.

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// `[checkpoint]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Seconds between slots; slots are the wall-clock multiples of it.
    pub interval_secs: u64,
    /// Seconds the checkpoint state trails a slot: entries issued before `slot - lag`.
    pub lag_secs: u64,
    /// Slots whose notes are kept in memory and served.
    pub keep: usize,
    /// Signatures on slots further than this from our clock are ignored.
    pub max_skew_secs: u64,
}

impl Default for CheckpointConfig {
    fn default() -> CheckpointConfig {
        CheckpointConfig {
            interval_secs: 10,
            lag_secs: 5,
            keep: 360,
            max_skew_secs: 30,
        }
    }
}

/// Most slots kept: a day of one-second slots. Notes are a few KiB each.
pub const MAX_KEEP: usize = 86_400;

impl CheckpointConfig {
    /// Refuses settings the checkpoint machinery cannot run with.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=86_400).contains(&self.interval_secs) {
            bail!("checkpoint.interval_secs must be between 1 and 86400");
        }
        if self.lag_secs >= 3600 {
            bail!("checkpoint.lag_secs must be less than 3600");
        }
        if !(1..=MAX_KEEP).contains(&self.keep) {
            bail!("checkpoint.keep must be between 1 and {MAX_KEEP}");
        }
        if !(1..=86_400).contains(&self.max_skew_secs) {
            bail!("checkpoint.max_skew_secs must be between 1 and 86400");
        }
        Ok(())
    }

    /// The slot boundary at or before `now` (unix seconds).
    pub fn slot_at(&self, now: u64) -> u64 {
        let i = self.interval_secs.max(1);
        now - now % i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_refused() {
        assert!(CheckpointConfig::default().validate().is_ok());
        let bad = [
            CheckpointConfig {
                interval_secs: 0,
                ..Default::default()
            },
            CheckpointConfig {
                lag_secs: 3600,
                ..Default::default()
            },
            CheckpointConfig {
                keep: 0,
                ..Default::default()
            },
            CheckpointConfig {
                max_skew_secs: 0,
                ..Default::default()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }

    #[test]
    fn slots_are_multiples_of_the_interval() {
        let c = CheckpointConfig::default();
        assert_eq!(c.slot_at(1_000_009), 1_000_000);
        assert_eq!(c.slot_at(1_000_010), 1_000_010);
    }
}
