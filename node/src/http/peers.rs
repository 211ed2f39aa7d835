//! `GET /v1/peers` and the deny-list: `POST /v1/admin/peers/deny` and
//! `POST /v1/admin/peers/allow`.
//!
//! The admin routes answer only clients on a loopback address (the TCP peer of the
//! request, whatever the API binds to): an operator on the node's machine, or the
//! testnet driving its own nodes. Anyone else gets 403.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, StatusCode};
use axum::Json;
use p2p::{NetworkError, PeerId};
use registry_core::api::{DeniedPeer, PeerChange, PeerList, PeerRequest, PeerView};

use super::problem::{ApiError, ApiJson};
use super::AppState;

fn stopped(e: NetworkError) -> ApiError {
    ApiError::unavailable("network_stopped", e.to_string())
}

/// `GET /v1/peers`: connected peers with their addresses and gossipsub score, and the
/// peers denied.
pub async fn list(State(st): State<AppState>) -> Result<Json<PeerList>, ApiError> {
    let peers = st.network.peers().await.map_err(stopped)?;
    let denied = st
        .deny_list()
        .listed()
        .into_iter()
        .map(|(p, source)| DeniedPeer {
            peer_id: p.to_string(),
            source: source.as_str().to_string(),
        })
        .collect();
    Ok(Json(PeerList {
        denied,
        peers: peers
            .into_iter()
            .map(|p| PeerView {
                peer_id: p.peer_id.to_string(),
                addresses: p.addresses.iter().map(ToString::to_string).collect(),
                score: p.score,
            })
            .collect(),
    }))
}

fn loopback_only(extensions: &Extensions) -> Result<(), ApiError> {
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) if addr.ip().is_loopback() => Ok(()),
        Some(ConnectInfo(addr)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_loopback_only",
            format!(
                "the admin API answers only clients on this machine (loopback); {} is not",
                addr.ip()
            ),
        )),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_loopback_only",
            "the client's address is unknown, so the admin API does not answer",
        )),
    }
}

fn parse_peer(raw: &str) -> Result<PeerId, ApiError> {
    raw.parse::<PeerId>().map_err(|e| {
        ApiError::bad_request(
            "invalid_peer_id",
            format!("peer_id {raw:?} is not a libp2p peer id: {e}"),
        )
    })
}

/// `POST /v1/admin/peers/deny {"peer_id": ...}`: disconnect and refuse the peer.
pub async fn deny(
    State(st): State<AppState>,
    extensions: Extensions,
    ApiJson(req): ApiJson<PeerRequest>,
) -> Result<Json<PeerChange>, ApiError> {
    set_denied(&st, &extensions, req, true).await
}

/// `POST /v1/admin/peers/allow {"peer_id": ...}`: undo a deny (and reconnect).
pub async fn allow(
    State(st): State<AppState>,
    extensions: Extensions,
    ApiJson(req): ApiJson<PeerRequest>,
) -> Result<Json<PeerChange>, ApiError> {
    set_denied(&st, &extensions, req, false).await
}

async fn set_denied(
    st: &AppState,
    extensions: &Extensions,
    req: PeerRequest,
    denied: bool,
) -> Result<Json<PeerChange>, ApiError> {
    loopback_only(extensions)?;
    let peer = parse_peer(&req.peer_id)?;
    if denied && peer == st.network.info().peer_id {
        return Err(ApiError::bad_request(
            "own_peer_id",
            format!("{peer} is this node's own peer id; a node cannot deny itself"),
        ));
    }
    let changed = if denied {
        st.network.deny(peer).await
    } else {
        st.network.allow(peer).await
    }
    .map_err(stopped)?;
    // Saved before the answer, so a change the operator was told of survives a restart.
    let saved = {
        let mut list = st.deny_list();
        if denied {
            list.deny(peer)
        } else {
            list.allow(peer)
        }
    };
    if let Err(e) = saved {
        return Err(ApiError::unavailable(
            "deny_list_not_saved",
            format!("the change holds until the node restarts, but {e:#}"),
        ));
    }
    Ok(Json(PeerChange {
        peer_id: req.peer_id,
        changed,
        denied,
    }))
}
