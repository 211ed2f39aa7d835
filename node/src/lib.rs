//! The library half of `registry-node`: the parts other programs read without running a
//! node. Today that is the configuration (defaults, TOML file, flags), which the fuzz
//! targets in `fuzz/` parse exactly as the daemon does.

pub mod config;
