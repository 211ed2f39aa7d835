//! The registry CLI as a library: its HTTP client, used by the CLI and the testnet.
