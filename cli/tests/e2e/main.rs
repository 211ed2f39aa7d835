//! End to end: a real `registry-node` process on a free port, driven by the `registry` CLI
//! as a process, exactly as the README's walk-through does it.
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod credentials;
mod governance;
mod peers;
mod walkthrough;
mod witnesses;

use serde_json::Value;
use support::node::cli;

fn trust(url: &str, entity: &str, at: Option<&str>) -> (i32, Value) {
    let mut args = vec![
        "--json",
        "trust",
        entity,
        "--action",
        "issue",
        "--resource",
        "UniversityDegree",
    ];
    if let Some(t) = at {
        args.extend(["--at", t]);
    }
    let out = cli(url, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v)
}
