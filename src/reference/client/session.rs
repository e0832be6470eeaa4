//! DM sessions: Package#1 → Package#2 → command processing → Package#3 …, until END, an
//! abort, or the round bound.
use super::fumo;
use super::store::{Store, Target};
use super::{Job, Shared};
use crate::wire::dm2::fumo::Operation;
use crate::wire::dm2::profile::{DefaultParameterOrder, ExecParameterOrder};
use crate::wire::dm2::{
    Command, ALERT_CLIENT_INITIATED, ALERT_SERVER_INITIATED, HEADER_DEVID, HEADER_OMADM_ACCEPT, MEDIA_PACKAGE1,
    MEDIA_PACKAGE2, MEDIA_PACKAGE3,
};
use crate::wire::http_auth;
use crate::wire::media::{accepts, media_type_of};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Command names of Package#2; anything else gets 501.
const KNOWN: [&str; 12] =
    ["HGET", "HPUT", "HPOST", "DELETE", "EXEC", "GET", "SHOW", "CONT", "END", "DEFAULT", "SUB", "UNSUB"];

/// Session-wide state changed by commands.
#[derive(Default)]
struct Session {
    /// Target of later Package#3s after CONT.
    cont: Option<String>,
    ended: bool,
    /// (EXEC ServerURI, result alert) to send in new sessions once this one is over.
    async_results: Vec<(String, Value)>,
    /// Long operations EXEC'd without a ServerURI and answered 202: they run once the session is
    /// over, and their results go to the DM server in new sessions.
    deferred: Vec<Deferred>,
    /// Alerts for the first Package#3 of this session (`ClientConfig::async_result_in_package3`).
    pending_alerts: Vec<Value>,
}

/// An operation reported asynchronously that runs after the session.
struct Deferred {
    target: Target,
    /// The EXEC's ClientURI as sent (the result alert's SourceURI).
    client_uri: String,
    alert_type: String,
    download_url: Option<String>,
    /// A FUMO operation, run by the firmware update agent.
    fumo: Option<Operation>,
    /// The EXEC's ServerURI: where the result goes (else the DM server).
    server_uri: Option<String>,
}

/// Runs one queued job to completion (a whole session, or a skipped one).
pub(super) async fn run_job(sh: &Arc<Shared>, job: Job) {
    let f = &sh.faults;
    if let Job::FumoRetry { url } = &job {
        return fumo::retry(sh, url).await;
    }
    let job_kind = match job {
        Job::AsyncResult { .. } => JobKind::AsyncResult,
        _ => JobKind::Other,
    };
    let (target, session_alert, mut alerts, mos) = match job {
        Job::Notified { notification_id, req_mos } => {
            let mut a = json!({ "AlertType": ALERT_SERVER_INITIATED });
            if let (Some(id), false) = (notification_id, f.has("notification-id-not-echoed")) {
                a["DataType"] = json!("int");
                a["Data"] = json!({ sh.cfg.profile.notification_id_key.clone(): id });
            }
            if f.has("session-alert-wrong") {
                a = json!({ "AlertType": ALERT_CLIENT_INITIATED });
            }
            (sh.cfg.server_uri.clone(), a, vec![], req_mos)
        }
        Job::ClientInitiated { alerts } => {
            (sh.cfg.server_uri.clone(), json!({ "AlertType": ALERT_CLIENT_INITIATED }), alerts, false)
        }
        Job::AsyncResult { server_uri, alert } => {
            (server_uri, json!({ "AlertType": ALERT_CLIENT_INITIATED }), vec![alert], false)
        }
        Job::FumoRetry { .. } => return,
    };
    let result_session = matches!(job_kind, JobKind::AsyncResult);
    let mut sess = Session::default();
    // The seed lets the result come in the Package#1 or a Package#3 of the new session.
    if result_session && sh.cfg.async_result_in_package3 {
        sess.pending_alerts = std::mem::take(&mut alerts);
    }
    for a in alerts.iter_mut() {
        tamper_alert(sh, a);
    }
    let mut all_alerts = Vec::new();
    let no_session_alert = f.has("session-alert-missing") || (result_session && f.has("async-result-no-session-alert"));
    if !no_session_alert {
        all_alerts.push(session_alert);
    }
    all_alerts.extend(alerts);
    let mut p1 = Map::new();
    if mos && !f.has("mos-missing") {
        let mut mos = sh.lock().store.mos();
        if f.has("fumo-mos-wrong-moid") {
            for e in mos.iter_mut().filter(|e| e.moid.as_deref() == Some(super::store::MOID_FUMO)) {
                e.moid = Some("urn:oma:mo:acme-firmware:1.0".into());
            }
        }
        p1.insert("MOS".into(), serde_json::to_value(mos).unwrap_or(Value::Null));
    }
    if !all_alerts.is_empty() {
        p1.insert("Alert".into(), Value::Array(all_alerts));
    }
    run_rounds(sh, &target, Value::Object(p1), &mut sess).await;
    // Operations reported 202 without a ServerURI run now; their results go to the DM server.
    let mut retries = Vec::new();
    for d in std::mem::take(&mut sess.deferred) {
        let (result, alert) = match d.fumo {
            Some(op) if f.has("exec-not-executed") => (200, fumo::result_alert(sh, op, &d.client_uri, 200)),
            Some(op) if f.has("exec-download-skipped") && op != Operation::Update => {
                fumo::download_failed_at_once(sh, d.target.instance);
                (503, fumo::result_alert(sh, op, &d.client_uri, 503))
            }
            Some(op) => {
                let ended = fumo::run(sh, &d.target, op).await;
                retries.extend(ended.retry);
                (ended.result, fumo::result_alert(sh, op, &d.client_uri, ended.result))
            }
            None => {
                let result = operate(sh, &d.target, d.download_url).await;
                (result, result_alert(sh, &d.alert_type, &d.client_uri, result))
            }
        };
        let to = d.server_uri.clone().unwrap_or_else(|| sh.cfg.server_uri.clone());
        let missing = match &d.server_uri {
            None => f.has("exec-async-result-missing"),
            Some(_) => f.has("async-alert-never-sent"),
        } || (d.fumo.is_some() && f.has("fumo-result-alert-missing"));
        if missing {
            sh.log(format!("result {result} of EXEC {} not reported (fault)", d.client_uri));
            continue;
        }
        sess.async_results.push((to, alert));
    }
    // Asynchronous EXEC results go out in NEW sessions, after this one (seed, Change 4); for
    // FUMO that is the session after the simulated power cycle.
    let mut st = sh.lock();
    for (server_uri, alert) in sess.async_results {
        st.queue.push_back(Job::AsyncResult { server_uri, alert });
    }
    for url in retries {
        st.queue.push_back(Job::FumoRetry { url });
    }
    drop(st);
    sh.wake.notify_one();
}

/// What kind of session a job opens.
enum JobKind {
    AsyncResult,
    Other,
}

/// The Generic Alert carrying an EXEC's final result (MO-specific AlertType; digest §11).
fn result_alert(sh: &Shared, alert_type: &str, client_uri: &str, result: u16) -> Value {
    let source = if sh.faults.has("async-alert-wrong-source") {
        format!("{}/d0/", super::store::MOID_DEVINFO)
    } else {
        client_uri.to_string()
    };
    json!({
        "AlertType": alert_type,
        "SourceURI": source,
        "Mark": if result == 200 { "informational" } else { "critical" },
        "DataType": "int",
        "Data": { "result": result },
    })
}

/// Runs an executable node's operation (its download first, if it has one), with the EXEC
/// faults; returns the operation's ResultCode (200: success).
async fn operate(sh: &Shared, t: &Target, download_url: Option<String>) -> u16 {
    let f = &sh.faults;
    // Under exec-not-executed nothing happens (no download either) yet all is reported fine.
    if f.has("exec-not-executed") {
        return 200;
    }
    let download = match download_url {
        // As if the download had failed at once: nothing is fetched.
        Some(_) if f.has("exec-download-skipped") => Some(503),
        Some(url) => Some(download_package(sh, &url).await),
        None => None,
    };
    if f.has("exec-state-unchanged") {
        // The operation runs (its download above), but the tree is left as it was.
        download.unwrap_or(200)
    } else {
        sh.lock().store.execute(t, download).unwrap_or(200)
    }
}

/// Applies the Generic Alert faults to an alert other than the session alert.
fn tamper_alert(sh: &Shared, a: &mut Value) {
    let Some(o) = a.as_object_mut() else { return };
    if sh.faults.has("alert-no-datatype") && o.contains_key("Data") {
        o.remove("DataType");
    }
    if sh.faults.has("alert-bad-mark") {
        o.insert("Mark".into(), json!("urgent"));
    }
    if sh.faults.has("alert-missing-alerttype") {
        o.remove("AlertType");
    }
}

/// What came back for a Package#1/#3 POST.
struct Reply {
    status: u16,
    content_type: String,
    omadm_accept: Option<String>,
    body: bytes::Bytes,
}

async fn post_package(sh: &Shared, url: &str, package: u8, body: &Value) -> Result<Reply, String> {
    let f = &sh.faults;
    let media = match (package, f.has("p1-media-type"), f.has("p3-media-type")) {
        (1, true, _) | (3, _, true) => "application/json",
        (1, ..) => MEDIA_PACKAGE1,
        _ => MEDIA_PACKAGE3,
    };
    let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    sh.log(format!("-> POST {url} Package#{package} ({media}) {}", String::from_utf8_lossy(&bytes)));
    let mut req = sh.http.post(url).header("Content-Type", media).header("Accept", MEDIA_PACKAGE2).body(bytes);
    if !f.has("devid-missing") {
        let devid = if f.has("devid-wrong") { super::WRONG_DEV_ID } else { sh.cfg.dev_id.as_str() };
        req = req.header(HEADER_DEVID, devid);
    }
    let creds = sh.cfg.basic.as_ref().map(|(u, p)| {
        let p = if f.has("auth-wrong-password") { format!("{p}-wrong") } else { p.clone() };
        (u.clone(), p)
    });
    let retry = req.try_clone();
    let sent_basic = match &creds {
        Some((u, p)) if sh.cfg.basic_unasked => {
            req = req.header("Authorization", http_auth::basic_header(u, p));
            true
        }
        _ => false,
    };
    let mut resp = req.send().await.map_err(|e| format!("POST {url} failed: {e}"))?;
    // A 401 is answered once, in the scheme the server offers: Digest (the client MAY support
    // it) before Basic (it MUST).
    if let (401, Some((u, p)), Some(retry)) = (resp.status().as_u16(), &creds, retry) {
        let values: Vec<&str> =
            resp.headers().get_all("www-authenticate").iter().filter_map(|v| v.to_str().ok()).collect();
        let digest = match f.has("no-digest") {
            true => None,
            false => http_auth::Challenge::pick(values.iter().copied()).ok().flatten(),
        };
        let basic = values.iter().any(|v| v.trim_start().to_ascii_lowercase().starts_with("basic"));
        let answer = match digest {
            Some(c) => {
                let target = reqwest::Url::parse(url).map(|u| u.path().to_string()).unwrap_or_default();
                sh.log(format!("<- 401: answering the Digest challenge ({})", c.algorithm.name()));
                Some(c.answer("POST", &target, u, p, &http_auth::fresh_nonce(), 1).header())
            }
            None if basic && !sent_basic => {
                sh.log("<- 401: answering the Basic challenge".to_string());
                Some(http_auth::basic_header(u, p))
            }
            None => None,
        };
        if let Some(a) = answer {
            resp = retry.header("Authorization", a).send().await.map_err(|e| format!("POST {url} failed: {e}"))?;
        }
    }
    let status = resp.status().as_u16();
    let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let content_type = header("content-type").unwrap_or_default();
    let omadm_accept = header(HEADER_OMADM_ACCEPT);
    let body = resp.bytes().await.map_err(|e| format!("reading the reply from {url} failed: {e}"))?;
    sh.log(format!("<- {status} ({content_type}) {}", String::from_utf8_lossy(&body)));
    Ok(Reply { status, content_type, omadm_accept, body })
}

async fn run_rounds(sh: &Arc<Shared>, server_uri: &str, package1: Value, sess: &mut Session) {
    let mut url = server_uri.to_string();
    let mut body = package1;
    let mut package = 1u8;
    for _round in 0..sh.cfg.max_rounds {
        let reply = match post_package(sh, &url, package, &body).await {
            Ok(r) => r,
            Err(e) => return sh.log(format!("session aborted: {e}")),
        };
        // Any non-200 (4xx/5xx above all) aborts without retry (digest §5).
        if reply.status != 200 {
            return sh.log(format!("session aborted: HTTP {} from {url}", reply.status));
        }
        if media_type_of(&reply.content_type) != MEDIA_PACKAGE2 {
            return sh.log(format!("session aborted: reply is {:?}, not Package#2", reply.content_type));
        }
        let cmds = match serde_json::from_slice::<Value>(&reply.body) {
            Ok(Value::Object(mut o)) => match o.remove("CMD") {
                Some(Value::Array(a)) => a,
                _ => return sh.log("session aborted: Package#2 has no CMD array".to_string()),
            },
            Ok(_) => return sh.log("session aborted: Package#2 is not a JSON object".to_string()),
            Err(e) => return sh.log(format!("session aborted: Package#2 is not JSON: {e}")),
        };
        if sh.faults.has("end-ignores-commands") && cmds.iter().any(|c| c.get(0).and_then(Value::as_str) == Some("END"))
        {
            return sh
                .log("session ended by END; its other commands ignored (fault client.end-ignores-commands)".into());
        }
        let mut statuses = vec![Value::Null; cmds.len()];
        let mut order: Vec<usize> = (0..cmds.len()).collect();
        if sh.faults.has("commands-out-of-order") {
            order.reverse();
        }
        for i in order {
            let st = process(sh, &cmds[i], i, reply.omadm_accept.as_deref(), sess).await;
            statuses[i] = Value::Object(st);
        }
        if sess.ended && !sh.faults.has("p3-after-end") {
            return sh.log("session ended by END".to_string());
        }
        if sh.faults.has("package-flow-stops") {
            return sh.log("session dropped without Package#3 (fault client.package-flow-stops)".to_string());
        }
        body = json!({ "Status": tamper_statuses(sh, statuses) });
        if !sess.pending_alerts.is_empty() {
            body["Alert"] = Value::Array(std::mem::take(&mut sess.pending_alerts));
        }
        package = 3;
        if let Some(c) = &sess.cont {
            url = c.clone();
        }
        if sess.ended {
            // Only reachable under the fault p3-after-end: one Package#3, then stop.
            let _ = post_package(sh, &url, 3, &body).await;
            return;
        }
    }
    sh.log(format!("session aborted: {} rounds without END", sh.cfg.max_rounds));
}

fn tamper_statuses(sh: &Shared, mut st: Vec<Value>) -> Vec<Value> {
    let f = &sh.faults;
    if f.has("status-missing") {
        st.pop();
    }
    if f.has("status-reordered") {
        st.reverse();
    }
    if f.has("status-extra") {
        st.push(json!({ "sc": 200 }));
    }
    if f.has("sc-as-string") {
        for s in st.iter_mut() {
            if let Some(sc) = s.get("sc").cloned() {
                s["sc"] = json!(sc.to_string());
            }
        }
    }
    st
}

fn status(sc: u16) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sc".into(), json!(sc));
    m
}

/// Processes one CMD element; never fails: a bad command gets 400/501 and the next goes on.
async fn process(
    sh: &Arc<Shared>,
    raw: &Value,
    i: usize,
    omadm_accept: Option<&str>,
    sess: &mut Session,
) -> Map<String, Value> {
    let pointer = format!("/CMD/{i}");
    let Some(arr) =
        raw.as_array().and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
    else {
        sh.log(format!("{pointer}: not an array of strings: 400"));
        return status(400);
    };
    // The profile's parameter order on the wire (EXEC, DEFAULT); the faults read the other one.
    let mut order = sh.cfg.profile.clone();
    if sh.faults.has("exec-parameters-reversed") {
        order.exec_parameter_order = match order.exec_parameter_order {
            ExecParameterOrder::ClientUriFirst => ExecParameterOrder::ServerUriFirst,
            ExecParameterOrder::ServerUriFirst => ExecParameterOrder::ClientUriFirst,
        };
    }
    if sh.faults.has("default-parameters-reversed") {
        order.default_parameter_order = match order.default_parameter_order {
            DefaultParameterOrder::MoidFirst => DefaultParameterOrder::ServerUriFirst,
            DefaultParameterOrder::ServerUriFirst => DefaultParameterOrder::MoidFirst,
        };
    }
    let cmd = match Command::from_array(&order.reorder(&arr), &pointer) {
        Ok(c) => c,
        Err(e) => {
            let sc = if arr.first().is_some_and(|n| !KNOWN.contains(&n.as_str())) { 501 } else { 400 };
            sh.log(format!("{e}: {sc}"));
            return status(sc);
        }
    };
    let mut st = execute(sh, cmd, omadm_accept, sess).await;
    // Every command but EXEC must be reported synchronously (seed, Change 4).
    let name = arr[0].as_str();
    if sh.faults.has("non-exec-async")
        && ["HGET", "HPUT", "HPOST", "DELETE", "GET"].contains(&name)
        && st.get("sc").and_then(Value::as_u64).is_some_and(|s| (200..300).contains(&s))
    {
        st = status(202);
    }
    sh.log(format!("{pointer} {name}: {}", Value::Object(st.clone())));
    st
}

/// HTTP GET of an MO serialization; Err carries the status to report.
async fn fetch_mo(sh: &Shared, url: &str) -> Result<Vec<Value>, u16> {
    sh.log(format!("-> GET {url} (repository)"));
    let resp = sh.http.get(url).header("Accept", &sh.cfg.profile.mo_media_type).send().await.map_err(|e| {
        sh.log(format!("repository GET {url} failed: {e}"));
        500u16
    })?;
    let code = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|_| 500u16)?;
    sh.log(format!("<- {code} {}", String::from_utf8_lossy(&body)));
    if !(200..300).contains(&code) {
        return Err(code);
    }
    // Strictly an MO serialization (shared codec), else 400; the JSON is kept for storing.
    let doc: Value = serde_json::from_slice(&body).map_err(|e| {
        sh.log(format!("repository body is not JSON: {e}"));
        400u16
    })?;
    if let Err(e) = crate::wire::dm2::mo::serialization_from_value(&doc) {
        sh.log(format!("repository body is not an MO serialization: {e}"));
        return Err(400);
    }
    match doc {
        Value::Array(a) => Ok(a),
        _ => Err(400),
    }
}

/// The HGET procedure (also used for DEFAULT fallback): fetch, then store at `client_uri` or
/// create new instances. Returns the status entry.
pub(super) async fn hget(sh: &Shared, url: &str, client_uri: Option<&str>) -> Map<String, Value> {
    if let Some(st) = match client_uri {
        Some(cu) => super::scomo::hget(sh, url, cu).await,
        None => None,
    } {
        return st;
    }
    let elements = match fetch_mo(sh, url).await {
        Ok(e) => e,
        Err(sc) => return status(sc),
    };
    let not_stored = sh.faults.has("hget-not-stored");
    let mut guard = sh.lock();
    let mut scratch;
    // Under hget-not-stored the work happens on a copy that is thrown away.
    let store: &mut Store = if not_stored {
        scratch = guard.store.clone();
        &mut scratch
    } else {
        &mut guard.store
    };
    match client_uri {
        Some(cu) => match store.store_at(cu, &elements) {
            Ok(_) => status(200),
            Err(e) => status(e.status()),
        },
        None => match store.create_instances(&elements) {
            Ok(mut uris) => {
                let mut st = status(200);
                if sh.faults.has("uri-without-instance-slash") {
                    uris = uris.into_iter().map(|u| u.trim_end_matches('/').to_string()).collect();
                }
                if !sh.faults.has("hget-no-uri") {
                    st.insert("URI".into(), json!(uris));
                }
                st
            }
            Err((sc, _)) => status(sc),
        },
    }
}

fn resolve(sh: &Shared, uri: &str) -> Result<Vec<Target>, u16> {
    sh.lock().store.resolve(uri).map_err(|e| {
        sh.log(e.to_string());
        e.status()
    })
}

async fn execute(sh: &Arc<Shared>, cmd: Command, omadm_accept: Option<&str>, sess: &mut Session) -> Map<String, Value> {
    let f = &sh.faults;
    match cmd {
        Command::Hget { server_uri, client_uri: Some(cu) } if pkgdata_target(sh, &cu).is_some() => {
            let t = pkgdata_target(sh, &cu).expect("checked");
            status(fumo::deliver_pkgdata(sh, &server_uri, &t).await)
        }
        Command::Hget { server_uri, client_uri } => hget(sh, &server_uri, client_uri.as_deref()).await,
        Command::Hput { server_uri, client_uris } => {
            let method = if f.has("hput-wrong-method") { reqwest::Method::POST } else { reqwest::Method::PUT };
            push_mo(sh, method, &server_uri, &client_uris, omadm_accept).await
        }
        Command::Hpost { server_uri, client_uris } => {
            let method = if f.has("hpost-wrong-method") { reqwest::Method::PUT } else { reqwest::Method::POST };
            push_mo(sh, method, &server_uri, &client_uris, omadm_accept).await
        }
        Command::Delete { client_uri } => match resolve(sh, &client_uri) {
            Ok(t) if f.has("delete-dynamic-refused") && !sh.lock().store.is_permanent(&t) => status(405),
            Ok(t) => status(sh.lock().store.delete(&t, f.has("delete-permanent-allowed"))),
            Err(sc) => status(sc),
        },
        Command::Exec { client_uri, server_uri } => {
            let t = match resolve(sh, &client_uri) {
                Ok(t) if t.len() == 1 => t.into_iter().next(),
                Ok(_) => return status(400),
                // Fault: an operation on a component that is not deployed "succeeds".
                Err(404)
                    if f.has("scomo-absent-component-succeeds") && super::scomo::names_deployed_op(&client_uri) =>
                {
                    let (st, result) = super::scomo::phantom_success(sh, &client_uri, server_uri);
                    sess.async_results.extend(result);
                    return st;
                }
                Err(sc) => return status(sc),
            };
            let Some(t) = t else { return status(404) };
            // SCOMO operations: always asynchronous, with their own result alert (digest §3.4).
            let scomo_op = super::scomo::operation(&sh.lock().store, &t);
            if let Some(op) = scomo_op {
                let (st, result) = super::scomo::exec(sh, op, &client_uri, server_uri).await;
                sess.async_results.extend(result);
                return st;
            }
            let (alert_type, download_url, long) = {
                let g = sh.lock();
                let Some(alert_type) = g.store.exec_alert(&t) else { return status(405) };
                (alert_type, g.store.download_url(&t), g.store.is_long_operation(&t))
            };
            let op = fumo::operation_of(&sh.lock().store, &t);
            match (server_uri, op) {
                // A FUMO operation: the server's edge of fig 10.2 at once, 202, and the
                // operation after the session (seed 8.1.1 step 12, 8.1.2 step 12).
                (Some(_), Some(op)) if f.has("exec-async-reported-sync") => {
                    fumo::accept_exec(sh, &t, op);
                    fumo::run(sh, &t, op).await;
                    status(200)
                }
                (server_uri, Some(op)) => {
                    if !f.has("exec-not-executed") {
                        fumo::accept_exec(sh, &t, op);
                    }
                    let fumo = Some(op);
                    sess.deferred.push(Deferred { target: t, client_uri, alert_type, download_url, fumo, server_uri });
                    status(if f.has("fumo-no-202") { 200 } else { 202 })
                }
                (server_uri, None) => match server_uri {
                    // Without a ServerURI the client decides (digest §8.4): a long operation is
                    // reported 202 and runs once the session is over.
                    None if long => {
                        let fumo = None;
                        sess.deferred.push(Deferred {
                            target: t,
                            client_uri,
                            alert_type,
                            download_url,
                            fumo,
                            server_uri,
                        });
                        status(202)
                    }
                    // Synchronous: the operation's outcome is the command's status.
                    None => {
                        let result = operate(sh, &t, download_url).await;
                        status(if result == 200 { 200 } else { 500 })
                    }
                    Some(_) if f.has("exec-async-reported-sync") => {
                        operate(sh, &t, download_url).await;
                        status(200)
                    }
                    Some(uri) => {
                        let result = operate(sh, &t, download_url).await;
                        if !f.has("async-alert-never-sent") {
                            sess.async_results.push((uri, result_alert(sh, &alert_type, &client_uri, result)));
                        }
                        status(202)
                    }
                },
            }
        }
        Command::Get { .. } if f.has("get-unsupported") => status(501),
        Command::Get { client_uri } => match resolve(sh, &client_uri) {
            Ok(ts) => {
                let mut st = status(200);
                if !f.has("get-no-data") {
                    let g = sh.lock();
                    let data: Vec<Value> = ts.iter().map(|t| g.store.serialize(t)).collect();
                    st.insert(sh.cfg.profile.get_data_member.clone(), Value::Array(data));
                }
                st
            }
            Err(sc) => status(sc),
        },
        Command::Show { server_uri } => {
            if f.has("show-not-opened") {
                return status(200);
            }
            let browser = browse(sh.clone(), server_uri);
            if f.has("show-blocks") {
                browser.await;
            } else {
                // The browser runs on its own; the client goes straight on (digest §8.6).
                sh.lock().background.spawn(browser);
            }
            status(200)
        }
        Command::Cont { server_uri } => {
            if !f.has("cont-ignored") {
                sess.cont = Some(server_uri);
            }
            status(200)
        }
        Command::End => {
            sess.ended = true;
            status(200)
        }
        Command::Default { moid, server_uri } => {
            // One URI per MOID: a new DEFAULT replaces the old one (digest §8.9).
            let mut g = sh.lock();
            let keep_first = f.has("default-first-kept") && g.defaults.contains_key(&moid);
            if !f.has("default-ignored") && !keep_first {
                g.defaults.insert(moid, server_uri);
            }
            status(200)
        }
        Command::Sub { .. } | Command::Unsub { .. } => status(501),
    }
}

/// The download an EXEC of a FUMO operation starts (alternate download from PkgURL). Returns
/// the FUMO ResultCode: 200, 411 (no URL), 500 (the server answered non-2xx), 503 (transport).
async fn download_package(sh: &Shared, url: &str) -> u16 {
    if url.is_empty() {
        sh.log("EXEC: PkgURL is empty, nothing to download (ResultCode 411)".to_string());
        return 411;
    }
    sh.log(format!("-> GET {url} (firmware package)"));
    match sh.http.get(url).send().await {
        Ok(r) => {
            let code = r.status().as_u16();
            let body = r.bytes().await;
            sh.log(format!("<- {code} (firmware package, {} bytes)", body.as_ref().map_or(0, |b| b.len())));
            match (code, body) {
                (200..=299, Ok(_)) => 200,
                (200..=299, Err(_)) => 503,
                _ => 500,
            }
        }
        Err(e) => {
            sh.log(format!("firmware package GET {url} failed: {e}"));
            503
        }
    }
}

/// The FUMO `<x>/Update/PkgData` an HGET's ClientURI names, if it names one.
fn pkgdata_target(sh: &Shared, client_uri: &str) -> Option<Target> {
    let g = sh.lock();
    let t = g.store.resolve(client_uri).ok()?.into_iter().next()?;
    fumo::is_pkgdata(&g.store, &t).then_some(t)
}

/// The "Web Browser Component": loads the SHOW URL once.
async fn browse(sh: Arc<Shared>, url: String) {
    sh.log(format!("-> GET {url} (browser)"));
    match sh.http.get(&url).header("Accept", "text/html").send().await {
        Ok(r) => {
            let code = r.status().as_u16();
            let _ = r.bytes().await;
            sh.log(format!("<- {code} (browser)"));
        }
        Err(e) => sh.log(format!("browser GET {url} failed: {e}")),
    }
}

/// HPUT / HPOST: send the serialization of every ClientURI's data to the repository.
async fn push_mo(
    sh: &Shared,
    method: reqwest::Method,
    url: &str,
    client_uris: &[String],
    omadm_accept: Option<&str>,
) -> Map<String, Value> {
    let media = sh.cfg.profile.mo_media_type.clone();
    if omadm_accept.is_some_and(|h| !accepts(h, &media)) {
        sh.log(format!("OMADM-Accept {omadm_accept:?} lists nothing this client can produce ({media})"));
        return status(406);
    }
    let mut elements = Vec::new();
    for cu in client_uris {
        match resolve(sh, cu) {
            Ok(ts) => {
                let g = sh.lock();
                elements.extend(ts.iter().map(|t| g.store.serialize(t)));
            }
            Err(sc) => return status(sc),
        }
    }
    if sh.faults.has("upload-not-serialized") {
        // The data alone: no MO serialization element around it.
        elements = elements.into_iter().map(|e| e.get("MOData").cloned().unwrap_or(Value::Null)).collect();
    }
    let body = serde_json::to_vec(&elements).unwrap_or_default();
    sh.log(format!("-> {method} {url} (repository) {}", String::from_utf8_lossy(&body)));
    match sh.http.request(method, url).header("Content-Type", media).body(body).send().await {
        Ok(r) => {
            let code = r.status().as_u16();
            let _ = r.bytes().await;
            sh.log(format!("<- {code} (repository)"));
            status(if (200..300).contains(&code) { 200 } else { code })
        }
        Err(e) => {
            sh.log(format!("repository {url} failed: {e}"));
            status(500)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn omadm_accept_matching() {
        assert!(accepts("application/json", "application/json"));
        assert!(accepts("text/plain, application/*;q=0.5", "application/json"));
        assert!(accepts("*/*", "application/json"));
        assert!(!accepts("application/cbor", "application/json"));
    }
}
