//! The local ledger: a hash chain of blocks and the entries they hold, in sled.
