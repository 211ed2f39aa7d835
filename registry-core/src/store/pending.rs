//! The pending records: entries acknowledged as pending, kept across restarts with the
//! source each came from (keys `p` and `q` in the layout table of the `store` module).

use crate::codec::MAX_MESSAGE_BYTES;
use crate::entry::SignedEntry;
use crate::hash::EntryId;
use crate::pending::Source;

use super::error::{corrupt, BatchError, StoreError};
use super::{layout, Ledger};

impl Ledger {
    /// Records entries acknowledged as pending (`put`, replacing an earlier copy) and
    /// forgets others (`remove`: accepted, rejected or evicted), in one atomic batch, then
    /// flushes: once this returns, a restart restores exactly this pending set, each
    /// entry with its source. Refuses an entry of another registry or one larger than an
    /// entry may be.
    pub fn save_pending(
        &mut self,
        put: &[(SignedEntry, Source)],
        remove: &[EntryId],
    ) -> Result<(), StoreError> {
        if let Some(why) = &self.failed {
            return Err(StoreError::Failed(why.clone()));
        }
        let mut batch = sled::Batch::default();
        for id in remove {
            batch.remove(&layout::pending_key(id)[..]);
            batch.remove(&layout::pending_source_key(id)[..]);
        }
        for (entry, source) in put {
            let id = entry.id();
            if entry.body.registry != self.registry_id {
                let (expected, got) = (self.registry_id, entry.body.registry);
                return Err(BatchError::WrongRegistry { id, expected, got }.into());
            }
            let encoded = entry.encode();
            if encoded.len() > MAX_MESSAGE_BYTES {
                let (bytes, max) = (encoded.len(), MAX_MESSAGE_BYTES);
                return Err(BatchError::EntryTooLarge { id, bytes, max }.into());
            }
            batch.insert(&layout::pending_key(&id)[..], encoded);
            batch.insert(&layout::pending_source_key(&id)[..], &source.to_bytes()[..]);
        }
        if let Err(e) = self.db.apply_batch(batch) {
            self.failed = Some(e.to_string());
            return Err(e.into());
        }
        if let Err(e) = self.db.flush() {
            self.failed = Some(e.to_string());
            return Err(e.into());
        }
        Ok(())
    }

    /// The entries recorded as pending, by id, each with its recorded source
    /// ([`Source::RESTORED`] where none was recorded). A record that does not decode, or
    /// is filed under another id, is an error naming it.
    pub fn load_pending(&self) -> Result<Vec<(SignedEntry, Source)>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix([layout::PENDING_PREFIX]) {
            let (key, value) = item?;
            let entry: SignedEntry =
                crate::codec::decode(&value, MAX_MESSAGE_BYTES).map_err(|e| {
                    corrupt(format!(
                        "pending record {} does not decode: {e}",
                        hex::encode(&key)
                    ))
                })?;
            if key.get(1..) != Some(entry.id().as_bytes().as_slice()) {
                return Err(corrupt(format!(
                    "pending record {} holds entry {}",
                    hex::encode(&key),
                    entry.id()
                )));
            }
            let id = entry.id();
            let source = match self.db.get(layout::pending_source_key(&id))? {
                None => Source::RESTORED,
                Some(bytes) => Source::from_bytes(&bytes).ok_or_else(|| {
                    corrupt(format!(
                        "the source recorded for pending entry {id} is not one"
                    ))
                })?,
            };
            out.push((entry, source));
        }
        Ok(out)
    }
}
