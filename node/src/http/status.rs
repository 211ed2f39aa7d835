//! `GET /v1/status` and `GET /metrics`.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use p2p::NetworkHandle;
use registry_core::api::{CheckpointStatus, EquivocationView, RootEpochView, Status};

use super::AppState;
use crate::metrics::Gauges;

/// `GET /v1/status`: identity of the registry, the ledger head, and the roots in force.
pub async fn status(State(st): State<AppState>) -> Json<Status> {
    let head = st.head();
    let (pending, roots, threshold, governance) = {
        let registry = st.registry();
        let epoch = registry.state().current_epoch();
        let history = registry
            .state()
            .epochs()
            .iter()
            .map(|e| RootEpochView {
                since: e.since,
                cause: e.cause,
                roots: e.roots.clone(),
                threshold: e.threshold,
            })
            .collect();
        let (roots, threshold) = (epoch.roots.clone(), epoch.threshold);
        (registry.pending_len(), roots, threshold, history)
    };
    let net = st.network.as_ref().map(NetworkHandle::info);
    let (peer_id, listen_addrs) = match &net {
        Some(net) => (
            Some(net.peer_id.to_string()),
            net.listen_addrs
                .iter()
                .map(|a| format!("{a}/p2p/{}", net.peer_id))
                .collect(),
        ),
        None => (None, Vec::new()),
    };
    Json(Status {
        registry_id: st.registry_id,
        authority_id: st.genesis.authority_id.to_string(),
        name: st.genesis.name.clone(),
        peer_id,
        listen_addrs,
        peers: net.as_ref().map_or(0, |n| n.peers),
        height: head.height,
        head: head.hash,
        state_root: head.state_root,
        entries: head.entries,
        pending,
        last_sync_at: net
            .and_then(|n| n.last_sync_at)
            .map(|t| registry_core::Timestamp::from_system_time(t).to_rfc3339()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        roots,
        threshold,
        max_depth: st.genesis.max_depth,
        governance,
        checkpoint: checkpoint_status(&st),
    })
}

/// The status's `checkpoint` member (absent when no checkpointer runs).
fn checkpoint_status(st: &AppState) -> Option<CheckpointStatus> {
    let checkpointer = st.checkpoints.checkpointer()?;
    let snapshot = checkpointer.snapshot();
    let latest = st.checkpoints.latest();
    let config = checkpointer.config();
    Some(CheckpointStatus {
        interval_secs: config.interval_secs,
        lag_secs: config.lag_secs,
        latest_slot: latest.as_ref().map(|n| n.slot().as_secs()),
        latest_signatures: latest.as_ref().map_or(0, |n| n.witness_signatures()),
        quorum: latest
            .as_ref()
            .and_then(|n| n.witnesses.as_ref())
            .map(|w| w.quorum),
        cosigned: latest.as_ref().is_some_and(|n| n.cosigned()),
        witness: snapshot.witness,
        witness_key: *checkpointer.key(),
        last_signed_slot: snapshot.last_signed_slot,
        equivocations: snapshot
            .equivocations
            .iter()
            .map(|e| EquivocationView {
                signer: e.signer,
                slot: e.slot,
                commitments: e.commitments,
            })
            .collect(),
        clock_skew_suspected: snapshot.clock_skew_suspected,
    })
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    let head = st.head();
    let gauges = {
        let registry = st.registry();
        Gauges {
            entries: head.entries,
            pending: registry.pending_len(),
            height: head.height,
            pending_capacity: registry.pending_capacity(),
            pending_sources: registry.pending_sources(),
            pending_largest_share: registry.pending_largest_share(),
            pending_evictions: registry.pending_evictions(),
        }
    };
    let mut text = st.metrics.render(&gauges);
    if let Some(checkpointer) = st.checkpoints.checkpointer() {
        let age = st
            .checkpoints
            .cosigned_slot()
            .map(|s| crate::checkpoint::slots::unix_now().saturating_sub(s.as_secs()));
        crate::metrics::render_checkpoints(&mut text, checkpointer.counters(), age);
    }
    if let Some(network) = &st.network {
        st.metrics
            .render_network(&mut text, network.info().peers, network.counters());
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
}
