//! `GET /v1/peers` (public) and the deny-list's admin routes, `POST /v1/admin/peers/deny`
//! and `POST /v1/admin/peers/allow`, which only the admin router serves: who may call
//! them is decided by who can reach the admin listener (a 0600 Unix socket, or a loopback
//! address with a bearer token), never by a client's address on the public API.

use axum::extract::State;
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
    let peers = match &st.network {
        Some(network) => network.peers().await.map_err(stopped)?,
        None => Vec::new(),
    };
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
    ApiJson(req): ApiJson<PeerRequest>,
) -> Result<Json<PeerChange>, ApiError> {
    set_denied(&st, req, true).await
}

/// `POST /v1/admin/peers/allow {"peer_id": ...}`: undo a deny (and reconnect).
pub async fn allow(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<PeerRequest>,
) -> Result<Json<PeerChange>, ApiError> {
    set_denied(&st, req, false).await
}

async fn set_denied(
    st: &AppState,
    req: PeerRequest,
    denied: bool,
) -> Result<Json<PeerChange>, ApiError> {
    let peer = parse_peer(&req.peer_id)?;
    let network = st.network()?;
    if denied && peer == network.info().peer_id {
        return Err(ApiError::bad_request(
            "own_peer_id",
            format!("{peer} is this node's own peer id; a node cannot deny itself"),
        ));
    }
    let changed = if denied {
        network.deny(peer).await
    } else {
        network.allow(peer).await
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
