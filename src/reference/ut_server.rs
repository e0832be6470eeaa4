//! The upper-tester HTTP contract, server side, as the reference peers implement it: one POST
//! endpoint taking a [`UtRequest`] and answering a [`UtAnswer`].
use crate::upper_tester::{UtAnswer, UtRequest};
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::post, Json, Router};
use futures::future::BoxFuture;
use serde_json::json;
use std::sync::Arc;

/// Handles one upper-tester request.
pub type UtHandler = Arc<dyn Fn(UtRequest) -> BoxFuture<'static, UtAnswer> + Send + Sync>;

/// Path of the upper-tester endpoint on a reference peer.
pub const UT_PATH: &str = "/ut";

/// The answer to `iut.state` of a peer that runs in the suite's own process: it cannot have
/// exited while it answers, so it is `idle` or `running`.
pub fn iut_state_answer(idle: bool) -> UtAnswer {
    UtAnswer::done(json!({ "state": if idle { "idle" } else { "running" } }))
}

/// A router serving the upper-tester contract at [`UT_PATH`]. A body that is not a valid
/// request gets 400 with a `failed` answer explaining why, never a panic.
pub fn router(handler: UtHandler) -> Router {
    Router::new().route(UT_PATH, post(handle)).with_state(handler)
}

async fn handle(State(handler): State<UtHandler>, body: axum::body::Bytes) -> impl IntoResponse {
    match serde_json::from_slice::<UtRequest>(&body) {
        Ok(req) => (StatusCode::OK, Json(handler(req).await)),
        Err(e) => (StatusCode::BAD_REQUEST, Json(UtAnswer::failed(format!("not an upper-tester request: {e}")))),
    }
}
