//! The responder's side of sync: one request of a peer answered from the local set, within
//! the limits of [`crate::protocol`].

use registry_core::hash::IdMap;
use registry_core::trie::{NodeView, Prefix};
use registry_core::{EntryId, SignedEntry};

use super::LocalSet;
use crate::protocol::{
    ShortHash, Summary, SyncRequest, SyncResponse, LEAF_IDS, MAX_ENTRIES, MAX_IDS, MAX_PREFIXES,
    REPLY_BUDGET_BYTES,
};

/// The responder: answers one request from the local set, within the limits of
/// [`crate::protocol`]. A request over the protocol's list limits (which decoding already
/// refuses) is answered with `Refused`.
pub fn answer(request: &SyncRequest, local: &dyn LocalSet) -> SyncResponse {
    match request {
        SyncRequest::Root => SyncResponse::Root {
            root: local.root(),
            entries: local.len(),
        },
        SyncRequest::Nodes { prefixes } if prefixes.len() > MAX_PREFIXES => refused("prefixes"),
        SyncRequest::Nodes { prefixes } => SyncResponse::Nodes {
            summaries: prefixes.iter().map(|p| summarise(p, local)).collect(),
        },
        SyncRequest::Subtree { prefix } => subtree(prefix, local),
        SyncRequest::Entries { ids } if ids.len() > MAX_IDS => refused("ids"),
        SyncRequest::Entries { ids } => entries_by_id(ids, local),
    }
}

fn refused(what: &str) -> SyncResponse {
    SyncResponse::Refused {
        reason: format!("too many {what} in one request"),
    }
}

/// What the local set holds under one prefix.
fn summarise(prefix: &Prefix, local: &dyn LocalSet) -> Summary {
    let count = local.count_under(prefix);
    if count == 0 {
        return Summary::Empty;
    }
    if count <= LEAF_IDS {
        return leaves(prefix, local);
    }
    match local.node(prefix) {
        NodeView::Branch(children) => Summary::Branch {
            children: children.map(|h| ShortHash::of(&h)),
        },
        // More than one id under a prefix is always a branch; listing the ids is the
        // honest answer should a set ever disagree with its own count.
        NodeView::Leaf(..) | NodeView::Empty => leaves(prefix, local),
    }
}

/// The ids under `prefix` (at most [`LEAF_IDS`]) with their shortened leaf values.
fn leaves(prefix: &Prefix, local: &dyn LocalSet) -> Summary {
    let (ids, values) = local
        .leaves_under(prefix, LEAF_IDS)
        .into_iter()
        .map(|(id, value)| (id, ShortHash::of(&value)))
        .unzip();
    Summary::Ids { ids, values }
}

/// Every entry under `prefix`, or `TooLarge` if they exceed the entry count or byte budget.
fn subtree(prefix: &Prefix, local: &dyn LocalSet) -> SyncResponse {
    let count = local.count_under(prefix);
    let too_large = SyncResponse::TooLarge {
        count: count as u64,
    };
    if count > MAX_ENTRIES {
        return too_large;
    }
    let mut entries = Vec::with_capacity(count);
    let mut bytes = 0;
    for id in local.ids_under(prefix, MAX_ENTRIES) {
        let Some(entry) = local.entry(&id) else {
            continue;
        };
        bytes += entry.encode().len();
        if bytes > REPLY_BUDGET_BYTES {
            return too_large;
        }
        entries.push(SignedEntry::clone(&entry));
    }
    SyncResponse::Subtree { entries }
}

/// The requested entries held here, each once, stopping before the byte budget.
fn entries_by_id(ids: &[EntryId], local: &dyn LocalSet) -> SyncResponse {
    let mut seen = IdMap::default();
    let mut entries = Vec::new();
    let mut bytes = 0;
    for id in ids {
        if seen.insert(*id, ()).is_some() {
            continue;
        }
        let Some(entry) = local.entry(id) else {
            continue;
        };
        let len = entry.encode().len();
        if bytes + len > REPLY_BUDGET_BYTES {
            break;
        }
        bytes += len;
        entries.push(SignedEntry::clone(&entry));
    }
    SyncResponse::Entries { entries }
}
