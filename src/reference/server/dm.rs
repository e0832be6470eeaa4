//! The DM endpoints: Package#1/#3 in, Package#2 out (module docs of `server` give the rules).
use super::state::{Device, OpenSession, PendingExec, Queued, SessionRecord, State};
use super::{Shared, CONT_PATH_PREFIX, DM_PATH};
use crate::wire::dm2::{
    Command, GenericAlert, Package1, Package3, ALERT_BOOTSTRAP_COMPLETE, ALERT_CLIENT_INITIATED,
    ALERT_SERVER_INITIATED, HEADER_DEVID, MARK_VALUES, MEDIA_PACKAGE1, MEDIA_PACKAGE2, MEDIA_PACKAGE3,
};
use crate::wire::media::{accepts, media_type_of};
use axum::extract::{Path, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// What the `mos-ignored` fault addresses instead of the MOs the device listed.
const ASSUMED_INSTANCE_PROBE: &str = "urn:oma:mo:oma-fumo:1.0/fw-main/State";

const SESSION_ALERTS: [&str; 3] = [ALERT_SERVER_INITIATED, ALERT_CLIENT_INITIATED, ALERT_BOOTSTRAP_COMPLETE];

pub(super) fn router(sh: Arc<Shared>) -> Router {
    Router::new()
        .route(DM_PATH, post(handle_dm))
        .route(&format!("{CONT_PATH_PREFIX}{{token}}"), post(handle_cont))
        .route(&format!("{}{{*rest}}", super::scomo::REPO_PREFIX), axum::routing::get(handle_repo))
        .route(&format!("{}{{*rest}}", super::gwmo::REPO_PREFIX), axum::routing::get(handle_gwmo_repo))
        .route(&format!("{}{{dev}}/{{n}}", super::fumo::PKGURL_PATH_PREFIX), axum::routing::get(handle_pkgurl))
        .with_state(sh)
}

/// The MO data an HGET of a FUMO PkgURL fetches (`firmware.update`, alternate download).
async fn handle_pkgurl(AxState(sh): AxState<Arc<Shared>>, Path((dev, n)): Path<(String, usize)>) -> Response {
    match super::fumo::pkgurl_data(&sh, &dev, n) {
        Some(v) => ([("content-type", sh.cfg.profile.mo_media_type.clone())], v.to_string()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn handle_dm(AxState(sh): AxState<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    exchange(&sh, None, &headers, &body)
}

/// SCOMO package metadata and data the server serves for the HGETs it sends.
async fn handle_repo(AxState(sh): AxState<Arc<Shared>>, Path(rest): Path<String>) -> Response {
    let served = sh.lock().scomo_repo.get(&rest).cloned();
    sh.log(format!("GET {}{rest}: {}", super::scomo::REPO_PREFIX, if served.is_some() { "served" } else { "404" }));
    match served {
        Some((ct, body)) => ([(header::CONTENT_TYPE, ct)], body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// GwMO MO data the server serves for the HGETs of `gateway.*`.
async fn handle_gwmo_repo(AxState(sh): AxState<Arc<Shared>>, Path(rest): Path<String>) -> Response {
    let served = sh.lock().gwmo_repo.get(&rest).cloned();
    sh.log(format!("GET {}{rest}: {}", super::gwmo::REPO_PREFIX, if served.is_some() { "served" } else { "404" }));
    match served {
        Some((ct, body)) => ([(header::CONTENT_TYPE, ct)], body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn handle_cont(
    AxState(sh): AxState<Arc<Shared>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    exchange(&sh, Some(&token), &headers, &body)
}

/// One HTTP answer of the DM endpoints.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: String,
    /// `WWW-Authenticate` values of a 401.
    challenges: Vec<String>,
}

impl Reply {
    fn text(status: StatusCode, body: impl Into<String>) -> Reply {
        Reply { status, content_type: "text/plain; charset=utf-8", body: body.into(), challenges: Vec::new() }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    P1,
    P3,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::P1 => "Package#1",
            Kind::P3 => "Package#3",
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn exchange(sh: &Shared, token: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Response {
    let path = token.map_or_else(|| DM_PATH.to_string(), |t| format!("{CONT_PATH_PREFIX}{t}"));
    sh.log(format!(
        "→ POST {path} DevID={:?} Content-Type={:?} Accept={:?} body={}",
        header_str(headers, HEADER_DEVID).unwrap_or(""),
        header_str(headers, "content-type").unwrap_or(""),
        header_str(headers, "accept").unwrap_or(""),
        crate::trace::body_for_trace(body)
    ));
    let reply = decide(sh, token, headers, body);
    sh.log(format!(
        "← {} {} {}",
        reply.status.as_u16(),
        reply.content_type,
        crate::trace::truncate_marked(&reply.body, 4096)
    ));
    let mut resp = (reply.status, reply.body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    for c in reply.challenges {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// Records `text` under the device named by the request, if it is registered.
fn note(st: &mut State, dev_id: Option<&str>, text: String) {
    if let Some(d) = dev_id.and_then(|id| st.devices.get_mut(id)) {
        d.error(text);
    }
}

fn decide(sh: &Shared, token: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Reply {
    let dev_id = header_str(headers, HEADER_DEVID).map(str::trim).filter(|s| !s.is_empty());
    let mut st = sh.lock();
    st.expire_sessions(sh.cfg.session_timeout);

    // 1. The body's media type decides which package this is.
    let ct_raw = header_str(headers, "content-type").unwrap_or("");
    let ct = media_type_of(ct_raw);
    let kind = match (token, ct.as_str()) {
        (_, MEDIA_PACKAGE3) => Kind::P3,
        (None, MEDIA_PACKAGE1) => Kind::P1,
        _ if sh.faults.has("no-415") => {
            let looks_p3 = serde_json::from_slice::<Value>(body).is_ok_and(|v| v.get("Status").is_some());
            if token.is_some() || looks_p3 {
                Kind::P3
            } else {
                Kind::P1
            }
        }
        _ => {
            let want = if token.is_some() {
                MEDIA_PACKAGE3.to_string()
            } else {
                format!("{MEDIA_PACKAGE1} or {MEDIA_PACKAGE3}")
            };
            let msg = format!("415: Content-Type {ct_raw:?} is not {want}");
            note(&mut st, dev_id, msg.clone());
            return Reply::text(StatusCode::UNSUPPORTED_MEDIA_TYPE, msg);
        }
    };

    // 2. Content negotiation of the Package#2 we would answer with.
    let accept: Vec<&str> = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    if !accept.is_empty() && !sh.faults.has("no-406") && !accepts(&accept.join(","), MEDIA_PACKAGE2) {
        let msg = format!("406: Accept {:?} admits no {MEDIA_PACKAGE2}", accept.join(","));
        note(&mut st, dev_id, format!("{}: {msg}", kind.name()));
        return Reply::text(StatusCode::NOT_ACCEPTABLE, msg);
    }

    // 3. Which device, and 4. is it authenticated.
    let Some(dev_id) = dev_id else {
        return Reply::text(StatusCode::BAD_REQUEST, format!("400: {} without the {HEADER_DEVID} header", kind.name()));
    };
    let Some(dev) = st.devices.get_mut(dev_id) else {
        return Reply::text(
            StatusCode::FORBIDDEN,
            format!("403: device {dev_id:?} is not registered with this server"),
        );
    };
    if let (Some((user, pass)), false) = (&dev.credentials, sh.faults.has("auth-not-required")) {
        if let Err(why) = super::auth::check(sh, user, pass, header_str(headers, "authorization")) {
            let msg = format!("401: {} needs the HTTP credentials of device {dev_id:?}: {why}", kind.name());
            dev.error(msg.clone());
            let mut r = Reply::text(StatusCode::UNAUTHORIZED, msg);
            r.challenges = super::auth::challenges(sh);
            return r;
        }
    }

    match kind {
        Kind::P1 => package1(sh, &mut st, dev_id, body),
        Kind::P3 => package3(sh, &mut st, dev_id, token, body),
    }
}

fn bad_body(dev: &mut Device, kind: Kind, e: impl std::fmt::Display) -> Reply {
    let msg = format!("400: {} is not valid: {e}", kind.name());
    dev.error(msg.clone());
    Reply::text(StatusCode::BAD_REQUEST, msg)
}

fn package1(sh: &Shared, st: &mut State, dev_id: &str, body: &[u8]) -> Reply {
    let State { devices, tokens, .. } = &mut *st;
    let Some(dev) = devices.get_mut(dev_id) else { return Reply::text(StatusCode::FORBIDDEN, "403: not registered") };
    let p1 = match Package1::parse(body) {
        Ok(p) => p,
        Err(e) => return bad_body(dev, Kind::P1, e),
    };
    dev.rec.package1.push(serde_json::from_slice(body).unwrap_or(Value::Null));
    if dev.session.is_some() {
        dev.error("Package#1 arrived while a session was open; the old session is superseded".into());
        dev.close_session("superseded by a new Package#1", tokens);
    }
    if let Some(mos) = &p1.mos {
        if sh.faults.has("mos-ignored") {
            // Its built-in inventory instead of the device's list: probe the FUMO instance it
            // assumes every device has.
            dev.queue.push_front(Queued::Command(Command::Get { client_uri: ASSUMED_INSTANCE_PROBE.into() }));
        } else {
            dev.rec.mos = serde_json::to_value(mos).unwrap_or(Value::Null);
        }
    }
    let alerts = p1.alert.unwrap_or_default();
    let (session_alerts, generic): (Vec<_>, Vec<_>) =
        alerts.iter().partition(|a| SESSION_ALERTS.contains(&a.alert_type.as_str()));
    match session_alerts.len() {
        0 => dev.error(
            "Package#1 carries no session alert (ServerInitiatedMgmt, ClientInitiatedMgmt or BootstrapComplete)".into(),
        ),
        1 => {}
        n => dev.error(format!("Package#1 carries {n} session alerts, expected one")),
    }
    let outcome = match generic_alerts(sh, dev, &generic, "Package#1") {
        Ok(o) => o,
        Err(r) => return r,
    };
    if sh.faults.has("p1-rejected") {
        return Reply::text(StatusCode::INTERNAL_SERVER_ERROR, "500: internal server error");
    }
    let first = session_alerts.first();
    let notification_id = first.filter(|a| a.alert_type == ALERT_SERVER_INITIATED).and_then(|a| {
        a.data.as_ref().map(|d| d.get(&sh.cfg.profile.notification_id_key).cloned().unwrap_or_else(|| d.clone()))
    });
    let server_initiated = first.is_some_and(|a| a.alert_type == ALERT_SERVER_INITIATED);
    if server_initiated && notification_id.is_none() {
        dev.error("ServerInitiatedMgmt alert without NOTIFICATION-ID".into());
    }
    // The notification this session answers: one this server sent the device.
    let notification_matched = notification_id.as_ref().map(|echoed| {
        dev.notification_ids.iter().any(|sent| match sh.faults.has("notification-unmatched") {
            // notification-unmatched: the ids are compared as text, which the number a device
            // echoes never is.
            true => echoed.as_str() == Some(sent.to_string().as_str()),
            false => echoed.as_u64() == Some(u64::from(*sent)),
        })
    });
    if notification_matched == Some(false) {
        if sh.faults.has("notification-unmatched") {
            return Reply::text(
                StatusCode::NOT_FOUND,
                format!("404: no notification with NOTIFICATION-ID {} was sent to {dev_id:?}", show(&notification_id)),
            );
        }
        dev.error(format!(
            "ServerInitiatedMgmt echoes NOTIFICATION-ID {}, which this server never sent the device",
            show(&notification_id)
        ));
    }
    dev.rec.sessions.push(SessionRecord {
        alert_type: first.map(|a| a.alert_type.clone()),
        notification_id,
        notification_matched,
        package2: 0,
        package3: 0,
        open: true,
        end: None,
    });
    dev.session = Some(OpenSession {
        record: dev.rec.sessions.len() - 1,
        token: None,
        last_sent: Vec::new(),
        last_activity: Instant::now(),
    });
    // An asynchronous-result session only delivers its results: END, the queue stays.
    // server-initiated-ignored: a notified device's session is treated the same way.
    let results_only = outcome.exec_results > 0 && outcome.exec_results == generic.len();
    let ignored = server_initiated && sh.faults.has("server-initiated-ignored");
    let consume = !results_only && !ignored;
    package2(sh, st, dev_id, consume, alerts.len())
}

/// A JSON value for a message, `none` when absent.
fn show(v: &Option<Value>) -> String {
    v.as_ref().map_or_else(|| "none".to_string(), Value::to_string)
}

fn package3(sh: &Shared, st: &mut State, dev_id: &str, token: Option<&str>, body: &[u8]) -> Reply {
    let State { devices, tokens, .. } = &mut *st;
    let Some(dev) = devices.get_mut(dev_id) else { return Reply::text(StatusCode::FORBIDDEN, "403: not registered") };
    // The session this Package#3 continues.
    let expected_token = dev.session.as_ref().map(|s| s.token.clone());
    match (token, expected_token) {
        (Some(t), Some(Some(cur))) if cur == t && tokens.get(t).is_some_and(|d| d == dev_id) => {}
        (Some(t), _) => {
            let msg = format!("404: {CONT_PATH_PREFIX}{t} is not a live CONT endpoint of a session of {dev_id:?}");
            dev.error(msg.clone());
            return Reply::text(StatusCode::NOT_FOUND, msg);
        }
        (None, None) => {
            let msg = "400: Package#3 but no session is open (none began, or END was sent)".to_string();
            dev.error(msg.clone());
            return Reply::text(StatusCode::BAD_REQUEST, msg);
        }
        (None, Some(Some(cur))) => {
            let msg = format!("400: after CONT the Package#3 belongs at {}{CONT_PATH_PREFIX}{cur}", sh.base);
            dev.error(msg.clone());
            return Reply::text(StatusCode::BAD_REQUEST, msg);
        }
        (None, Some(None)) => {}
    }
    let p3 = match Package3::parse(body) {
        Ok(p) => p,
        Err(e) => return bad_body(dev, Kind::P3, e),
    };
    let Some(session) = dev.session.as_mut() else { return Reply::text(StatusCode::BAD_REQUEST, "400: no session") };
    session.last_activity = Instant::now();
    let sent = std::mem::take(&mut session.last_sent);
    let record = session.record;
    if sh.faults.has("p3-rejected") {
        return Reply::text(StatusCode::INTERNAL_SERVER_ERROR, "500: internal server error");
    }
    if let Some(r) = dev.rec.sessions.get_mut(record) {
        r.package3 += 1;
    }
    let raw: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let index = dev.rec.statuses.len();
    if !sh.faults.has("p3-statuses-not-recorded") {
        dev.rec.statuses.push(raw.get("Status").cloned().unwrap_or_else(|| json!([])));
        if p3.status.len() != sent.len() {
            dev.rec.status_count_mismatches.push(json!({
                "package3": index, "expected": sent.len(), "received": p3.status.len()
            }));
            dev.error(format!(
                "Package#3 #{index}: {} status(es) for the {} command(s) of the preceding Package#2",
                p3.status.len(),
                sent.len()
            ));
        }
    }
    // HGET without a ClientURI: the device chose where to store the data and says where (the
    // URI array), e.g. the MIID of an instance it created.
    for (cmd, st) in sent.iter().zip(&p3.status) {
        if let Command::Hget { client_uri: None, server_uri } = cmd {
            match &st.uri {
                _ if sh.faults.has("hget-uri-ignored") => {}
                Some(uris) if (200..300).contains(&st.sc) => dev.rec.hget_locations.extend(uris.iter().cloned()),
                None if (200..300).contains(&st.sc) => {
                    dev.error(format!("HGET {server_uri} without ClientURI succeeded ({}) but names no URI", st.sc))
                }
                _ => {}
            }
        }
    }
    // An EXEC with a ServerURI must be accepted (202); any other answer means no result will come.
    // One without a ServerURI may be answered either way; a 202 announces a result to the DM server.
    for (cmd, st) in sent.iter().zip(&p3.status) {
        if let Command::Exec { client_uri, server_uri } = cmd {
            super::fumo::exec_status(sh, dev, client_uri, st.sc);
            super::gwmo::exec_status(dev, client_uri, st.sc);
            let su = server_uri.clone().unwrap_or_else(|| format!("{}{DM_PATH}", sh.base));
            if st.sc != 202 {
                dev.pending_execs.retain(|p| !(&p.client_uri == client_uri && p.server_uri == su));
                if server_uri.is_some() && (200..300).contains(&st.sc) {
                    dev.error(format!("EXEC {client_uri} with ServerURI {su} was answered {} (202 expected)", st.sc));
                }
            }
        }
    }
    super::scomo::statuses(sh, dev, &sent, &p3.status);
    let alerts = p3.alert.unwrap_or_default();
    if !alerts.is_empty() && sh.faults.has("p3-alert-rejected") {
        return Reply::text(StatusCode::BAD_REQUEST, "400: Generic Alerts are accepted in Package#1 only");
    }
    let refs: Vec<&GenericAlert> = alerts.iter().collect();
    if let Err(r) = generic_alerts(sh, dev, &refs, "Package#3") {
        return r;
    }
    let consume = !sh.faults.has("p3-ends-session");
    package2(sh, st, dev_id, consume, alerts.len())
}

struct AlertOutcome {
    /// Alerts recognised as asynchronous EXEC results.
    exec_results: usize,
}

fn alert_type_known(known: &[String], t: &str) -> bool {
    known.iter().any(|k| match k.strip_suffix('*') {
        Some(prefix) => t.starts_with(prefix),
        None => k == t,
    })
}

/// Records Generic Alerts (never answered). Err only under the fault `unknown-alert-rejected`.
fn generic_alerts(sh: &Shared, dev: &mut Device, alerts: &[&GenericAlert], pkg: &str) -> Result<AlertOutcome, Reply> {
    let mut out = AlertOutcome { exec_results: 0 };
    for a in alerts {
        super::scomo::result_alert(sh, dev, a);
        super::gwmo::alert(sh, dev, a);
        let v = serde_json::to_value(a).unwrap_or(Value::Null);
        if let Some(m) = &a.mark {
            if !MARK_VALUES.contains(&m.as_str()) {
                dev.error(format!("{pkg}: alert {} has Mark {m:?}, not one of {MARK_VALUES:?}", a.alert_type));
            }
        }
        let pending = if sh.faults.has("exec-result-not-recorded") {
            None
        } else {
            a.source_uri.as_ref().and_then(|s| dev.pending_execs.iter().position(|p| &p.client_uri == s))
        };
        if let Some(i) = pending {
            let PendingExec { client_uri, server_uri } = dev.pending_execs.remove(i);
            super::fumo::result(sh, dev, &client_uri, &v);
            dev.rec.exec_results.push(json!({ "exec": ["EXEC", client_uri, server_uri], "alert": v, "package": pkg }));
            dev.rec.alerts.push(v);
            out.exec_results += 1;
        } else if alert_type_known(&sh.cfg.known_alert_types, &a.alert_type) {
            dev.rec.alerts.push(v);
        } else if sh.faults.has("unknown-alert-rejected") {
            return Err(Reply::text(StatusCode::BAD_REQUEST, format!("400: unknown AlertType {:?}", a.alert_type)));
        } else {
            dev.rec.ignored_alerts.push(v);
        }
    }
    Ok(out)
}

/// Emits one command as its JSON array, applying the `cmd-*-malformed` faults.
fn emit(sh: &Shared, cmd: &Command) -> Vec<Value> {
    let mut a = cmd.to_array();
    let f = |name: &str| sh.faults.has(name);
    match cmd {
        Command::Hget { .. } if f("cmd-hget-malformed") => a[0] = a[0].to_ascii_lowercase(),
        Command::Hput { .. } if f("cmd-hput-malformed") => {
            a.remove(1);
        }
        Command::Hpost { .. } if f("cmd-hpost-malformed") => a[1..].reverse(),
        Command::Delete { .. } if f("cmd-delete-malformed") => a.truncate(1),
        Command::Exec { .. } if f("cmd-exec-malformed") => {
            a.remove(1);
        }
        Command::Get { .. } if f("cmd-get-malformed") => a[0] = a[0].to_ascii_lowercase(),
        Command::Show { .. } if f("cmd-show-malformed") => a.truncate(1),
        Command::Default { .. } if f("cmd-default-malformed") => a.swap(1, 2),
        Command::End if f("end-with-parameter") => a.push("bye".into()),
        _ => {}
    }
    a.into_iter().map(Value::String).collect()
}

/// Where a Package#2 sends the session on.
enum Onward {
    /// Nowhere yet: END unless a fault says otherwise.
    Drained,
    /// The package ended with a queued END.
    Ended,
    /// A queued `["CONT"]`: this server's second endpoint, a fresh token.
    ContHere,
    /// A queued CONT with its URI.
    ContAt(String),
    /// The package ends without END: the session goes on with the device's Package#3.
    Awaiting,
}

/// Takes the commands of the next Package#2 from the queue: everything up to and including the
/// first CONT or END (after either, the package can carry no more of the session).
fn take_package(sh: &Shared, queue: &mut std::collections::VecDeque<Queued>) -> (Vec<Command>, Onward) {
    let mut cmds = Vec::new();
    let mut onward = Onward::Drained;
    while let Some(q) = queue.pop_front() {
        let cont = match q {
            Queued::AwaitStatuses if cmds.is_empty() => continue,
            Queued::AwaitStatuses => {
                onward = Onward::Awaiting;
                break;
            }
            Queued::ContHere => Onward::ContHere,
            Queued::Command(Command::Cont { server_uri }) => Onward::ContAt(server_uri),
            Queued::Command(Command::End) => {
                cmds.push(Command::End);
                onward = Onward::Ended;
                break;
            }
            Queued::Command(c) => {
                cmds.push(c);
                continue;
            }
        };
        if sh.faults.has("cont-ignored") {
            continue;
        }
        if sh.faults.has("cont-ends-session") {
            // The CONT goes out, but the package drains the queue and ends the session anyway.
            if let Onward::ContAt(uri) = &cont {
                cmds.push(Command::Cont { server_uri: uri.clone() });
            } else {
                cmds.push(Command::Cont { server_uri: format!("{}{CONT_PATH_PREFIX}never-used", sh.base) });
            }
            continue;
        }
        if let Onward::ContAt(uri) = &cont {
            cmds.push(Command::Cont { server_uri: uri.clone() });
        }
        onward = cont;
        break;
    }
    if sh.faults.has("commands-reordered") {
        let n = cmds.iter().take_while(|c| !matches!(c, Command::Cont { .. } | Command::End)).count();
        cmds[..n].reverse();
    }
    (cmds, onward)
}

/// Builds and records the next Package#2 of the open session: the queued commands up to the
/// first CONT or END (when `consume`), then END if the queue is drained; closes the session
/// when END goes out.
fn package2(sh: &Shared, st: &mut State, dev_id: &str, consume: bool, alerts_answered: usize) -> Reply {
    let (mut cmds, onward) = match st.devices.get_mut(dev_id) {
        None => return Reply::text(StatusCode::FORBIDDEN, "403: not registered"),
        Some(d) if consume => take_package(sh, &mut d.queue),
        Some(_) => (Vec::new(), Onward::Drained),
    };
    let fresh = matches!(onward, Onward::ContHere).then(|| st.fresh_token());
    let State { devices, tokens, .. } = st;
    let Some(dev) = devices.get_mut(dev_id) else { return Reply::text(StatusCode::FORBIDDEN, "403: not registered") };
    let own_dm = format!("{}{DM_PATH}", sh.base);
    // Where the next Package#3 is expected: Some(Some(token)) at a CONT endpoint, Some(None)
    // at /dm, None nowhere (END, or moved where this server cannot follow).
    let mut next: Option<Option<String>> = Some(dev.session.as_ref().and_then(|s| s.token.clone()));
    let mut ends = false;
    match onward {
        Onward::Ended => ends = true,
        Onward::ContHere => {
            let t = fresh.unwrap_or_default();
            // cont-endpoint-dead: name a token that is never served.
            let t = if sh.faults.has("cont-endpoint-dead") { format!("dead-{t}") } else { t };
            cmds.push(Command::Cont { server_uri: format!("{}{CONT_PATH_PREFIX}{t}", sh.base) });
            next = Some(Some(t));
        }
        Onward::ContAt(uri) if uri == own_dm => next = Some(None),
        Onward::ContAt(uri) => {
            dev.error(format!("CONT to {uri}: the session moved where this server cannot follow it"));
            next = None;
        }
        Onward::Awaiting => {}
        Onward::Drained if sh.faults.has("session-never-ended") => {}
        Onward::Drained => {
            cmds.push(Command::End);
            ends = true;
        }
    }
    for c in &cmds {
        if let Command::Exec { client_uri, server_uri } = c {
            // Without a ServerURI the result (if any) comes to the DM server.
            let su = server_uri.clone().unwrap_or_else(|| format!("{}{DM_PATH}", sh.base));
            dev.pending_execs.push(PendingExec { client_uri: client_uri.clone(), server_uri: su });
        }
    }
    super::scomo::sent(dev, &cmds);
    let mut arrays: Vec<Value> = cmds.iter().map(|c| Value::Array(emit(sh, c))).collect();
    if sh.faults.has("p2-malformed") {
        if let Some(Value::Array(last)) = arrays.last_mut() {
            last.push(json!(0));
        }
    }
    let mut body = json!({ "CMD": arrays });
    if sh.faults.has("status-for-alert") && alerts_answered > 0 {
        body["Status"] = Value::Array(vec![json!({ "sc": 200 }); alerts_answered]);
    }
    dev.rec.package2.push(body.clone());
    if let Some(s) = dev.session.as_mut() {
        if let Some(r) = dev.rec.sessions.get_mut(s.record) {
            r.package2 += 1;
        }
        s.last_sent = cmds;
        s.last_activity = Instant::now();
        if let Some(t) = next.clone() {
            if t != s.token {
                if let Some(old) = std::mem::replace(&mut s.token, t.clone()) {
                    tokens.remove(&old);
                }
                if let Some(t) = t.filter(|t| !t.starts_with("dead-")) {
                    tokens.insert(t, dev_id.to_string());
                }
            }
        }
    }
    if ends {
        dev.close_session("END sent", tokens);
    } else if next.is_none() {
        dev.close_session("moved away by CONT", tokens);
    }
    let content_type = if sh.faults.has("p2-media-type") { "application/json" } else { MEDIA_PACKAGE2 };
    Reply { status: StatusCode::OK, content_type, body: body.to_string(), challenges: Vec::new() }
}
