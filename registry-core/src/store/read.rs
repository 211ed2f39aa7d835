//! Reading every entry back, for rebuilding in-memory state: block by block
//! ([`Ledger::entries`]) or in one scan ([`Ledger::load_all`]).

use crate::entry::{Signature, SignedEntry};
use crate::hash::{EntryId, IdMap};

use super::error::{corrupt, StoreError};
use super::{layout, verify, Ledger};

impl Ledger {
    /// Every listing in ledger order (block by block, each in block order; an entry listed
    /// again comes again, with the signature set it gained there), for rebuilding
    /// in-memory state at start-up. Stops after the first error.
    pub fn entries(&self) -> impl Iterator<Item = Result<SignedEntry, StoreError>> + '_ {
        Entries {
            ledger: self,
            next_height: 1,
            pending: Vec::new().into_iter(),
            done: false,
        }
    }

    /// Every stored entry with its latest signature set, ordered by the height of the block
    /// that first listed it: the fast way to
    /// rebuild in-memory state at start-up. One sequential scan instead of a lookup per
    /// entry; within one block the order is by id, not acceptance order, which acceptance
    /// does not depend on (references inside a block wait in the pending pool for at most
    /// one block). Checks each entry's id against its key, its height against the chain
    /// and the total against the head record; signatures are left to [`Ledger::verify`].
    pub fn load_all(&self) -> Result<Vec<SignedEntry>, StoreError> {
        let height = self.height();
        let mut loaded: Vec<(u64, SignedEntry)> =
            Vec::with_capacity(self.entry_count().min(1 << 24) as usize);
        for item in self.db.scan_prefix([layout::ENTRY_PREFIX]) {
            let (key, value) = item?;
            let (stored, entry) = layout::parse_entry_value(&value)
                .map_err(|e| corrupt(format!("entry under key {}: {e}", hex::encode(&key))))?;
            if key.get(1..) != Some(entry.id().as_bytes().as_slice()) {
                return Err(corrupt(format!(
                    "entry under key {} has id {}",
                    hex::encode(&key),
                    entry.id()
                )));
            }
            if stored == 0 || stored > height {
                return Err(corrupt(format!(
                    "entry {} claims block {stored}; the head is {height}",
                    entry.id()
                )));
            }
            loaded.push((stored, entry));
        }
        if loaded.len() as u64 != self.entry_count() {
            return Err(corrupt(format!(
                "{} entries stored, the head record counts {}",
                loaded.len(),
                self.entry_count()
            )));
        }
        loaded.sort_by_key(|(h, e)| (*h, e.id()));
        // Signature records sort by id, then height: the last one of an id is its set now.
        let mut latest: IdMap<Vec<Signature>> = Default::default();
        for item in self.db.scan_prefix([layout::SIGNATURES_PREFIX]) {
            let (key, value) = item?;
            let (id, at) = layout::parse_signatures_key(&key)
                .ok_or_else(|| corrupt(format!("malformed signature key {}", hex::encode(&key))))?;
            if at == 0 || at > height {
                return Err(corrupt(format!(
                    "signatures of entry {id} claim block {at}; the head is {height}"
                )));
            }
            let set = layout::parse_signatures(&value)
                .map_err(|e| corrupt(format!("signatures of entry {id}: {e}")))?;
            latest.insert(id, set);
        }
        if latest.is_empty() {
            return Ok(loaded.into_iter().map(|(_, e)| e).collect());
        }
        Ok(loaded
            .into_iter()
            .map(|(_, mut e)| {
                if let Some(set) = latest.remove(&e.id()) {
                    e.signatures = set;
                }
                e
            })
            .collect())
    }
}

/// The iterator behind [`Ledger::entries`].
struct Entries<'a> {
    ledger: &'a Ledger,
    next_height: u64,
    /// Ids of the current block not yet read, with their block's height.
    pending: std::vec::IntoIter<EntryId>,
    done: bool,
}

impl Entries<'_> {
    fn next_entry(&mut self) -> Result<Option<SignedEntry>, StoreError> {
        loop {
            if let Some(id) = self.pending.next() {
                let height = self.next_height - 1;
                return Ok(Some(
                    verify::read_listed_entry(&self.ledger.db, height, &id)?.0,
                ));
            }
            if self.next_height > self.ledger.height() {
                return Ok(None);
            }
            let (block, _) = verify::read_block(&self.ledger.db, self.next_height)?;
            self.pending = block.entries.into_iter();
            self.next_height += 1;
        }
    }
}

impl Iterator for Entries<'_> {
    type Item = Result<SignedEntry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_entry().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}
