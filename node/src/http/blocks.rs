//! `GET /v1/blocks?from=&limit=` and `GET /v1/blocks/{height}`: the local ledger.

use axum::extract::State;
use axum::Json;
use registry_core::api::{BlockList, BlockView};
use serde::Deserialize;

use super::problem::{ApiError, ApiPath, ApiQuery};
use super::{writer_error, AppState};

/// Most blocks in one answer of `GET /v1/blocks`.
const MAX_LIMIT: u64 = 100;

/// Query of `GET /v1/blocks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockParams {
    /// First height (default 1).
    from: Option<u64>,
    /// Most blocks (default and cap 100).
    limit: Option<u64>,
}

/// `GET /v1/blocks`: up to `limit` blocks from height `from`, and the current height.
pub async fn list(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<BlockParams>,
) -> Result<Json<BlockList>, ApiError> {
    let from = p.from.unwrap_or(1).max(1);
    let limit = p.limit.unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
    let limit = usize::try_from(limit).unwrap_or(0);
    let (blocks, height) = st
        .writer
        .read(move |l| Ok((l.blocks(from, limit)?, l.height())))
        .await
        .map_err(writer_error)?;
    Ok(Json(BlockList {
        blocks: blocks.iter().map(BlockView::from).collect(),
        height,
    }))
}

/// `GET /v1/blocks/{height}`: one block, 404 if there is none at that height.
pub async fn get_block(
    State(st): State<AppState>,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<BlockView>, ApiError> {
    let height: u64 = raw.parse().map_err(|_| {
        let shown: String = raw.chars().take(40).collect();
        ApiError::bad_request("invalid_height", format!("{shown:?} is not a block height"))
    })?;
    let block = st
        .writer
        .read(move |l| l.block(height))
        .await
        .map_err(writer_error)?;
    match block {
        Some(b) => Ok(Json(BlockView::from(&b))),
        None => Err(ApiError::not_found(
            "unknown_block",
            format!("no block at height {height}"),
        )),
    }
}
