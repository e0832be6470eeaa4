//! The gateway's DM server side toward its End Devices (proxy mode, seed 003 steps 4-6), and
//! its gateway-local download server (the LocalImageURIs, seed 000 step 8).
use super::{Pending, Shared};
use crate::wire::dm2::gwmo::DeviceResult;
use crate::wire::dm2::notification::{self, NotificationFields};
use crate::wire::dm2::{HEADER_DEVID, MEDIA_PACKAGE2};
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

/// The southbound DM server (End Devices' Package#1 and Package#3).
pub const DM_PATH: &str = "/gw/dm";
/// The gateway-local download server: `<base>/gw/img/<name>`.
pub const IMG_PATH: &str = "/gw/img/";

pub(super) fn router(sh: Arc<Shared>) -> Router {
    Router::new()
        .route(DM_PATH, axum::routing::post(handle_dm))
        .route(&format!("{IMG_PATH}{{name}}"), axum::routing::get(handle_img))
        .with_state(sh)
}

async fn handle_img(AxState(sh): AxState<Arc<Shared>>, Path(name): Path<String>) -> Response {
    if sh.faults.has("gw-local-uri-not-served") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let img = sh.lock().images.get(&name).cloned();
    match img {
        Some(bytes) => ([("content-type", "application/octet-stream")], bytes.as_ref().clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn package2(cmds: Value) -> Response {
    ([("content-type", MEDIA_PACKAGE2)], json!({ "CMD": cmds }).to_string()).into_response()
}

async fn handle_dm(AxState(sh): AxState<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(id) = headers.get(HEADER_DEVID).and_then(|v| v.to_str().ok()).map(str::to_string) else {
        return (StatusCode::BAD_REQUEST, "400: no OMADM-DevID").into_response();
    };
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let Ok(doc) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "400: not JSON").into_response();
    };
    let mut st = sh.lock();
    if ct.starts_with(crate::wire::dm2::MEDIA_PACKAGE1) {
        // Package#1: the device a fan-out notified gets the DMCommands (no END: its Package#3
        // brings the results).
        return match st.waiting.get(&id) {
            Some(p) => package2(json!(*p.commands)),
            None => package2(json!([["END"]])),
        };
    }
    // Package#3: the device's response, collected (seed 003 step 6).
    if let Some(mut p) = st.waiting.remove(&id) {
        if let Some(tx) = p.result.take() {
            let _ = tx.send(DeviceResult { device_id: id, dev_result: Some(doc), error: None });
        }
    }
    package2(json!([["END"]]))
}

/// Notifies every member, hands each its commands in its session, and collects its Package#3;
/// at most `fanout_window` devices at once, each bounded by `device_timeout`. The results come
/// in member order.
pub(super) async fn fan_out(
    sh: &Arc<Shared>,
    members: &[String],
    commands: Arc<Vec<Vec<String>>>,
) -> Vec<DeviceResult> {
    let base = sh.lock().notify_base.clone();
    super::members::windowed(members, sh.cfg.fanout_window, |id| {
        let (sh, commands, base) = (sh.clone(), commands.clone(), base.clone());
        async move { one_device(&sh, id, commands, base.as_deref()).await }
    })
    .await
}

async fn one_device(sh: &Arc<Shared>, id: String, commands: Arc<Vec<Vec<String>>>, base: Option<&str>) -> DeviceResult {
    let failed = |why: String| DeviceResult { device_id: id.clone(), dev_result: None, error: Some(why) };
    let Some(base) = base else { return failed("no notification address (gateway.attach)".into()) };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let nid = {
        let mut st = sh.lock();
        st.notification_id = st.notification_id.wrapping_add(1).max(1);
        st.waiting.insert(id.clone(), Pending { commands, result: Some(tx) });
        st.notification_id
    };
    let fields = NotificationFields {
        server_id: super::SERVER_ID.into(),
        preferred_con_type: Some(0),
        notification_id: Some(nid),
        timestamp: Some(super::common::posix_now()),
        req_mos: false,
        digest: false,
    };
    let bytes = notification::encode(&fields, None, &sh.cfg.profile, None);
    let url = format!("{base}/{id}");
    let media = &sh.cfg.profile.notification_media_type;
    let out = super::members::notify_and_wait(&sh.http, &url, media, bytes, sh.cfg.device_timeout, rx)
        .await
        .unwrap_or_else(failed);
    sh.lock().waiting.remove(&id);
    out
}
