//! `GET /v1/checkpoints/latest` and `GET /v1/checkpoints/{slot}`: checkpoint notes as
//! C2SP signed-note text, so standard tooling reads them.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use registry_core::Timestamp;

use super::problem::{ApiError, ApiPath};
use super::AppState;
use crate::checkpoint::SlotNote;

/// The header naming the slot of the note served.
pub const SLOT_HEADER: &str = "x-checkpoint-slot";

fn note_response(note: &SlotNote) -> Response {
    let mut response = (
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        note.note.text(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&note.slot().as_secs().to_string()) {
        response.headers_mut().insert(SLOT_HEADER, v);
    }
    response
}

/// `GET /v1/checkpoints/latest`: the newest cosigned slot's note (else the newest), with
/// every signature merged on it. A note nobody signed is not a signed note: 404.
pub async fn latest(State(st): State<AppState>) -> Result<Response, ApiError> {
    let note = st
        .checkpoints
        .latest()
        .filter(|n| !n.note.signatures.is_empty())
        .ok_or_else(|| {
            ApiError::not_found("no_checkpoint", "this node holds no signed checkpoint yet")
        })?;
    Ok(note_response(&note))
}

/// `GET /v1/checkpoints/{slot}`: the note of a kept slot (unix seconds).
pub async fn at_slot(
    State(st): State<AppState>,
    ApiPath(slot): ApiPath<String>,
) -> Result<Response, ApiError> {
    let secs: u64 = match slot.parse() {
        Ok(s) if slot.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_slot",
                format!("{slot:?} is not a slot (unix seconds)"),
            ))
        }
    };
    let note = st
        .checkpoints
        .at(Timestamp(secs))
        .filter(|n| !n.note.signatures.is_empty())
        .ok_or_else(|| {
            ApiError::not_found(
                "checkpoint_not_kept",
                format!(
                    "no signed checkpoint of slot {secs} is kept (the last {} slots are)",
                    st.checkpoints.keep()
                ),
            )
        })?;
    Ok(note_response(&note))
}
