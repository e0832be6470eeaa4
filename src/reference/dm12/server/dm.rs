//! The DM endpoint: one client message in, one server message out (rules in the module docs
//! of `dm12::server`).
use super::commands::{ItemCmd, Queued};
use super::state::{push_bounded, Credentials, Device, LargeObject, Report, Sent, Session, MAX_LARGE_OBJECT};
use super::{Shared, DM_PATH};
use crate::wire::dm12::auth::{self, AUTH_BASIC, AUTH_MAC, AUTH_MD5};
use crate::wire::dm12::{
    wbxml, xml, Alert, Chal, Command, Cred, Data, Element, Encoding, Item, LocRef, Message, Meta, Node, Results,
    Status, SyncBody, SyncHdr, MEDIA_WBXML, MEDIA_XML,
};
use crate::wire::media::media_type_of;
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

pub(super) fn router(sh: Arc<Shared>) -> Router {
    Router::new().route(DM_PATH, post(handle)).route(&format!("{DM_PATH}/{{*rest}}"), post(handle)).with_state(sh)
}

async fn handle(AxState(sh): AxState<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (status, media, bytes, mac) = exchange(&sh, &uri, content_type, &body);
    let mut resp = (status, bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(media) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Some(v) = mac.and_then(|m| HeaderValue::from_str(&m).ok()) {
        resp.headers_mut().insert(auth::HMAC_HEADER, v);
    }
    resp
}

/// Who signs the server's message in `x-syncml-hmac` and with which nonce (digest §8.6).
struct MacSigner {
    username: String,
    password: String,
    nonce: Vec<u8>,
}

/// The encoding of a request: its Content-Type when it names one, else what the body looks
/// like (a lenient server; the suite's checks judge the media type, digest §14.4).
fn encoding_of(content_type: &str, body: &[u8]) -> Encoding {
    match media_type_of(content_type).as_str() {
        MEDIA_WBXML => Encoding::Wbxml,
        MEDIA_XML => Encoding::Xml,
        _ if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') => Encoding::Xml,
        _ => Encoding::Wbxml,
    }
}

fn decode(body: &[u8], encoding: Encoding) -> Result<Message, String> {
    match encoding {
        Encoding::Wbxml => Message::from_wbxml(body).map_err(|e| e.to_string()),
        Encoding::Xml => match std::str::from_utf8(body) {
            Ok(t) => Message::from_xml(t).map_err(|e| e.to_string()),
            Err(e) => Err(format!("SyncML XML at byte {}: UTF-8 text", e.valid_up_to())),
        },
    }
}

/// The answer to one request: HTTP status, media type, body, and the `x-syncml-hmac` value when
/// HMAC is in use.
fn exchange(
    sh: &Shared,
    uri: &Uri,
    content_type: &str,
    body: &[u8],
) -> (StatusCode, &'static str, Vec<u8>, Option<String>) {
    sh.log(format!("→ POST {uri} Content-Type={content_type:?} body={}", crate::trace::body_for_trace(body)));
    let encoding = encoding_of(content_type, body);
    let msg = match decode(body, encoding) {
        Ok(m) => m,
        Err(e) => {
            sh.log(format!("← 400 (not a SyncML DM message: {e})"));
            return (
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                format!("not a SyncML DM message: {e}\n").into_bytes(),
                None,
            );
        }
    };
    let server_uri = format!("{}{}", sh.base, uri.path());
    let encoding = if sh.has("answers-xml-to-wbxml") { Encoding::Xml } else { encoding };
    let (tree, signer) = {
        let mut st = sh.lock();
        respond(sh, &mut st, &server_uri, &msg, encoding)
    };
    let encoded = match encoding {
        Encoding::Xml => xml::encode(&tree, false).map(|t| (MEDIA_XML, t.into_bytes())),
        Encoding::Wbxml => wbxml::encode(&tree, wbxml::Options::default()).map(|b| (MEDIA_WBXML, b)),
    };
    match encoded {
        Ok((media, bytes)) => {
            let mac = signer.map(|s| {
                auth::HmacHeader::new(&s.username, auth::hmac_mac(&s.username, &s.password, &s.nonce, &bytes))
                    .to_string()
            });
            sh.log(format!("← 200 {media} {}", crate::trace::body_for_trace(&bytes)));
            (StatusCode::OK, media, bytes, mac)
        }
        Err(e) => {
            sh.log(format!("← 500 (cannot encode the answer: {e})"));
            (StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", format!("{e}\n").into_bytes(), None)
        }
    }
}

fn fresh_nonce() -> Vec<u8> {
    use base64::Engine;
    let text = crate::wire::http_auth::fresh_nonce();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&text)
        .map(|b| b[..16].to_vec())
        .unwrap_or(text.into_bytes())
}

fn code_of(s: &Status) -> u16 {
    s.data.trim().parse().unwrap_or(0)
}

/// Where a status, alert or result is recorded: the registered device's report, or nowhere.
fn report<'a>(dev: &'a mut Option<&mut Device>) -> Option<&'a mut Report> {
    dev.as_mut().map(|d| &mut d.report)
}

/// The answer to one client message, as the element tree to encode (faults may make it
/// something the typed model cannot say).
fn respond(
    sh: &Shared,
    st: &mut super::state::State,
    server_uri: &str,
    m: &Message,
    encoding: Encoding,
) -> (Element, Option<MacSigner>) {
    st.expire_sessions(sh.cfg.session_timeout);
    let key = (m.hdr.session_id.clone(), m.hdr.source.loc_uri.clone());
    let dev_id = key.1.clone();
    let mut session = match st.sessions.remove(&key) {
        Some(s) => s,
        None => {
            st.bound_sessions();
            let mut s = Session::new(&dev_id, hex::encode(&fresh_nonce()[..6]));
            if let Some(d) = st.devices.get_mut(&dev_id) {
                d.report.sessions += 1;
                // No DM-level authentication for this device (transport only, digest §8.7).
                s.authenticated = d.credentials.is_none();
                // The server authenticates itself with the last nonce the device issued (§8.5).
                if let (Some(_), Some(n)) = (&d.server_credentials, &d.client_nonce) {
                    s.client_chal = Some((AUTH_MD5.into(), n.clone()));
                }
            }
            sh.log(format!("session {:?} of {dev_id:?} opened", key.0));
            s
        }
    };
    session.last_activity = Instant::now();
    let mut dev = st.devices.get_mut(&dev_id);
    let client_msg_id = m.hdr.msg_id.clone();

    // ---- the client's Statuses ----
    let statuses: Vec<&Status> =
        m.body.commands.iter().filter_map(|c| if let Command::Status(s) = c { Some(s) } else { None }).collect();
    if let Some(r) = report(&mut dev) {
        push_bounded(&mut r.statuses, statuses.iter().map(|s| code_of(s)).collect());
        for s in &statuses {
            push_bounded(
                &mut r.status_details,
                json!({"msg_ref": s.msg_ref, "cmd_ref": s.cmd_ref, "cmd": s.cmd, "code": code_of(s),
                       "target_refs": s.target_refs}),
            );
        }
    }
    let mut client_refused_server = false;
    for s in statuses.iter().filter(|s| s.cmd == "SyncHdr") {
        let chal = s.chal.as_ref().map(|c| &c.meta);
        let nonce =
            chal.and_then(|c| c.next_nonce.as_deref()).map(|n| auth::decode_nonce(n).unwrap_or(n.as_bytes().to_vec()));
        if let (Some(n), Some(d)) = (&nonce, dev.as_mut()) {
            d.client_nonce = Some(n.clone());
        }
        // A syncml:auth-MAC Chal (with a challenge, or with the 200 of HMAC in use) names the
        // nonce of the server's next MAC (digest §8.6).
        if let Some(n) = nonce.as_ref().filter(|_| chal.and_then(|c| c.r#type.as_deref()) == Some(AUTH_MAC)) {
            session.mac_nonce = Some(n.clone());
        }
        if matches!(code_of(s), 401 | 407) {
            client_refused_server = true;
            let ty = chal.and_then(|c| c.r#type.clone()).unwrap_or_else(|| AUTH_BASIC.into());
            let nonce = nonce.or_else(|| dev.as_ref().and_then(|d| d.client_nonce.clone())).unwrap_or_default();
            session.client_chal = Some((ty, nonce));
        }
    }
    for s in statuses.iter().filter(|s| s.cmd != "SyncHdr") {
        if let Some(i) = session.awaiting.iter().position(|a| a.msg_id == s.msg_ref && a.cmd_id == s.cmd_ref) {
            let sent = session.awaiting.remove(i);
            if let (super::commands::Queued::Exec { target, .. }, Some(d)) = (&sent.command, dev.as_mut()) {
                super::enablers::on_exec_status(&mut d.jobs, target, code_of(s), &sh.faults);
                d.gateway.exec_status(target, code_of(s));
            }
            if client_refused_server && matches!(code_of(s), 401 | 407) {
                session.resend.push(sent.command);
            }
        }
    }

    // ---- authentication of the client (digest §8.3, §8.4) ----
    let mut hdr_code = 200;
    let mut chal = None;
    if !session.authenticated {
        let (code, why) = authenticate(sh, dev.as_deref(), &m.hdr);
        hdr_code = code;
        if !why.is_empty() {
            sh.log(format!("session {:?}: SyncHdr {code}: {why}", key.0));
            if let Some(r) = report(&mut dev) {
                push_bounded(&mut r.errors, format!("message {client_msg_id} of session {}: {why}", key.0));
            }
        }
        if matches!(code, 401 | 407 | 212) {
            let (text, bytes) = if code == 212 && sh.has("nextnonce-not-b64") {
                // Raw text that is no base64 at all ('!' and '-' are outside the alphabet).
                let raw = format!("n-{}!", hex::encode(fresh_nonce()));
                (raw.clone(), raw.into_bytes())
            } else {
                let n = fresh_nonce();
                (auth::encode_nonce(&n), n)
            };
            if let Some(d) = dev.as_mut() {
                d.nonce = Some(bytes);
            }
            chal = Some(Chal {
                meta: Meta {
                    r#type: Some(AUTH_MD5.into()),
                    format: Some("b64".into()),
                    next_nonce: Some(text),
                    ..Meta::default()
                },
            });
        }
        session.authenticated = matches!(code, 200 | 212);
    }

    // ---- the answer's body ----
    let mut statuses_out: Vec<Status> = Vec::new();
    let status = |cmd: &str, cmd_ref: &str, code: u16| Status {
        msg_ref: client_msg_id.clone(),
        cmd_ref: cmd_ref.to_string(),
        cmd: cmd.to_string(),
        data: code.to_string(),
        ..Status::default()
    };
    let mut commands: Vec<Queued> = Vec::new();
    // Large objects the client left unfinished: each gets an Alert 1225 (digest §6.7).
    let mut interrupted: Vec<String> = Vec::new();
    let mut next_message_alert = false;
    let mut r#final = true;
    let mut ends = false;
    if !session.authenticated {
        // Only Statuses, every command answered with the header's verdict (digest §8.4).
        for c in &m.body.commands {
            let dropped = match c {
                Command::Alert(_) => sh.has("no-alert-status"),
                Command::Replace(_) => sh.has("no-devinfo-status"),
                _ => false,
            };
            if !dropped && !matches!(c, Command::Status(_) | Command::Results(_)) {
                statuses_out.push(status(c.name(), c.cmd_id().unwrap_or(""), hdr_code));
            }
        }
    } else {
        let mut abort = false;
        for c in &m.body.commands {
            match c {
                Command::Status(_) => {}
                Command::Alert(a) => {
                    let (code, aborts) = alert(sh, &mut dev, a);
                    abort |= aborts;
                    if !sh.has("no-alert-status") {
                        statuses_out.push(status("Alert", &a.cmd_id, code));
                    }
                }
                Command::Replace(r) => {
                    let uri = |i: &Item| {
                        i.source.as_ref().or(i.target.as_ref()).map(|l| l.loc_uri.clone()).unwrap_or_default()
                    };
                    let devinfo = !r.items.is_empty()
                        && r.items.iter().all(|i| {
                            let u = uri(i);
                            u.starts_with("./DevInfo/") || u.starts_with("DevInfo/")
                        });
                    if devinfo {
                        if let Some(rep) = report(&mut dev) {
                            for i in &r.items {
                                let v = i.data.as_ref().map(|d| String::from_utf8_lossy(d.bytes()).into_owned());
                                rep.devinfo.insert(uri(i), v.unwrap_or_default());
                            }
                        }
                    }
                    if !(devinfo && sh.has("no-devinfo-status")) {
                        // A client sends no Replace but the DevInfo one (digest §3.8).
                        statuses_out.push(status("Replace", &r.cmd_id, if devinfo { 200 } else { 405 }));
                    }
                }
                Command::Results(r) => {
                    if let Some((code, source)) = results(sh, &mut session, &mut dev, r, &mut interrupted) {
                        let mut s = status("Results", &r.cmd_id, code);
                        s.source_refs = vec![source];
                        statuses_out.push(s);
                    }
                }
                // Commands a client must not send (digest §3.8) and elements DM does not use.
                Command::Other { name, cmd_id } => {
                    statuses_out.push(status(name, cmd_id.as_deref().unwrap_or(""), 501))
                }
                other => statuses_out.push(status(other.name(), other.cmd_id().unwrap_or(""), 405)),
            }
        }
        if m.body.r#final {
            // The package is over: a chunk without its last one will never be completed.
            if let Some(lo) = session.large_object.take() {
                interrupted.push(lo.source);
            }
        }
        if abort {
            ends = true;
        } else if session.package_open {
            // The client asks for the rest of the server's package (large object, digest §5.7).
            (commands, r#final) = take_package(sh, &mut session, &mut dev);
        } else if !m.body.r#final {
            // A multi-message client package: the "Next Message" response (digest §5.6).
            next_message_alert = true;
            r#final = false;
            if sh.has("commands-before-final") {
                (commands, _) = take_package(sh, &mut session, &mut dev);
            }
        } else {
            (commands, r#final) = take_package(sh, &mut session, &mut dev);
            if commands.is_empty() {
                if sh.has("never-ends") && session.needless_gets < 10 {
                    session.needless_gets += 1;
                    commands.push(Queued::Item(ItemCmd {
                        name: "Get",
                        target: "./DevInfo/DevId".into(),
                        source: None,
                        data: None,
                        format: None,
                        r#type: None,
                        size: None,
                        more: false,
                    }));
                } else {
                    ends = true;
                }
            }
        }
        if !commands.is_empty() && r#final && sh.has("no-final") {
            r#final = false;
        }
    }

    // ---- the header ----
    let msg_id = if sh.has("msgid-repeats") { 1 } else { session.next_msg_id };
    session.next_msg_id += 1;
    let msg_id = msg_id.to_string();
    let cred = match session.client_chal.take() {
        Some(_) if sh.has("ignores-client-challenge") => None,
        // HMAC: the MAC goes into the transport header, not into a Cred (digest §8.6).
        Some((ty, _)) if ty == AUTH_MAC && !sh.has("hmac-in-cred") => None,
        Some((ty, nonce)) => server_cred(dev.as_deref(), &sh.cfg, &ty, &nonce),
        None => None,
    };
    let signer = session.mac_nonce.clone().filter(|_| !sh.has("hmac-in-cred")).map(|nonce| {
        let Credentials { username, password } = dev
            .as_deref()
            .and_then(|d| d.server_credentials.clone())
            .unwrap_or(Credentials { username: sh.cfg.server_id.clone(), password: sh.cfg.server_password.clone() });
        MacSigner { username, password, nonce }
    });
    let session_id =
        if sh.has("wrong-session-id") { format!("{}0", m.hdr.session_id) } else { m.hdr.session_id.clone() };
    let hdr = SyncHdr {
        ver_dtd: "1.2".into(),
        ver_proto: "DM/1.2".into(),
        session_id,
        msg_id: msg_id.clone(),
        target: LocRef::uri(&m.hdr.source.loc_uri),
        source: LocRef::uri(server_uri),
        resp_uri: Some(format!("{}{DM_PATH}?s={}", sh.base, session.token)),
        no_resp: false,
        cred,
        meta: None,
    };
    let mut head = Vec::new();
    if !sh.has("no-synchdr-status") {
        head.push(Command::Status(Status {
            msg_ref: client_msg_id.clone(),
            cmd_ref: "0".into(),
            cmd: "SyncHdr".into(),
            target_refs: vec![m.hdr.target.loc_uri.clone()],
            source_refs: vec![m.hdr.source.loc_uri.clone()],
            chal,
            data: hdr_code.to_string(),
            ..Status::default()
        }));
    }
    head.extend(statuses_out.into_iter().map(Command::Status));
    // An Alert 1225 asks for a Status: the session is not over.
    ends &= interrupted.is_empty();
    for uri in interrupted {
        if let Some(r) = report(&mut dev) {
            push_bounded(&mut r.errors, format!("large object {uri:?} interrupted before its last chunk (1225)"));
        }
        let item = Item { target: Some(LocRef::uri(&uri)), ..Item::default() };
        head.push(Command::Alert(Alert { data: Some("1225".into()), items: vec![item], ..Alert::default() }));
    }
    if next_message_alert {
        head.push(Command::Alert(Alert { data: Some("1222".into()), ..Alert::default() }));
    }
    // The client's MaxMsgSize (digest §3.6): commands that do not fit go in the next message of
    // the package (no Final; the client asks for it with 1222, digest §5.6). A single command
    // too large is sent all the same (a command is never split, digest §5.1).
    if let Some(max) = m.hdr.meta.as_ref().and_then(|x| x.max_msg_size.as_deref()).and_then(|x| x.trim().parse().ok()) {
        session.max_msg_size = Some(max);
    }
    let mut answer = build(sh, hdr.clone(), &head, &commands, r#final, encoding);
    if let Some(max) = session.max_msg_size {
        while commands.len() > 1 && encoded_len(&answer, encoding) > max {
            let last = commands.pop().expect("len > 1");
            session.resend.insert(0, last);
            session.package_open = true;
            r#final = false;
            answer = build(sh, hdr.clone(), &head, &commands, r#final, encoding);
        }
    }
    let first_command = answer.body.commands.len() - commands.len();
    for (q, c) in commands.into_iter().zip(&answer.body.commands[first_command..]) {
        session.awaiting.push(Sent { msg_id: msg_id.clone(), cmd_id: c.cmd_id().unwrap_or("").into(), command: q });
    }
    if ends {
        sh.log(format!("session {:?} of {dev_id:?} ends", key.0));
    } else {
        st.sessions.insert(key, session);
    }
    (to_tree(sh, &answer), signer)
}

/// The server message: `head` (Statuses, a 1222) then `commands`, CmdIDs from 1 in document
/// order (nested ones included). Over XML, `bin` data goes as `b64` (digest §10.6).
fn build(
    sh: &Shared,
    hdr: SyncHdr,
    head: &[Command],
    commands: &[Queued],
    r#final: bool,
    encoding: Encoding,
) -> Message {
    let mut n = 0u32;
    let mut next_id = move || {
        n += 1;
        n.to_string()
    };
    let mut body: Vec<Command> = head
        .iter()
        .cloned()
        .map(|mut c| {
            c.set_cmd_id(next_id());
            c
        })
        .collect();
    let format_meta = !sh.has("no-format-meta");
    let mut tail: Vec<Command> = commands.iter().map(|q| q.to_wire(&mut next_id, format_meta)).collect();
    if encoding == Encoding::Xml {
        // A chunk that cannot be encoded on its own (not a multiple of 3 bytes) stays `bin`.
        let mut b64 = tail.clone();
        if crate::wire::dm12::commands::binary_as_b64(&mut b64).is_ok() {
            tail = b64;
        }
    }
    body.extend(tail);
    if sh.has("duplicate-cmdid") && body.len() >= 2 {
        let first = body[0].cmd_id().unwrap_or("1").to_string();
        body[1].set_cmd_id(first);
    }
    Message { hdr, body: SyncBody { commands: body, r#final } }
}

/// The element tree to encode (the `status-no-cmdref` fault cannot be said in the typed model).
fn to_tree(sh: &Shared, m: &Message) -> Element {
    let mut tree = m.to_tree();
    if sh.has("status-no-cmdref") {
        drop_cmd_refs(&mut tree);
    }
    tree
}

fn encoded_len(m: &Message, encoding: Encoding) -> usize {
    match encoding {
        Encoding::Xml => m.to_xml(false).map(|t| t.len()).unwrap_or(0),
        Encoding::Wbxml => m.to_wbxml().map(|b| b.len()).unwrap_or(0),
    }
}

/// The verdict on a client message's credentials (before the session is authenticated): the
/// SyncHdr status code and, on failure, why.
fn authenticate(sh: &Shared, dev: Option<&Device>, hdr: &SyncHdr) -> (u16, String) {
    let Some(d) = dev else {
        let code = if hdr.cred.is_some() { 401 } else { 407 };
        return (code, format!("device {:?} is not registered", hdr.source.loc_uri));
    };
    let Some(creds) = &d.credentials else { return (200, String::new()) };
    let Some(cred) = &hdr.cred else {
        if sh.has("no-auth-required") {
            return (200, String::new());
        }
        return (407, "no Cred: the server demands syncml:auth-md5".into());
    };
    if sh.has("accepts-wrong-cred") {
        return (212, String::new());
    }
    let ty = cred.meta.as_ref().and_then(|m| m.r#type.as_deref()).unwrap_or(AUTH_BASIC);
    if ty != AUTH_MD5 {
        return (401, format!("Cred of type {ty:?}: the server demands {AUTH_MD5}"));
    }
    // The user id: Source/LocName, else Source/LocURI (digest §8.3, §14.4 md5_username_source).
    let user = hdr.source.loc_name.as_deref().unwrap_or(&hdr.source.loc_uri);
    if user != creds.username {
        return (401, format!("Cred for user {user:?}; the device is registered as {:?}", creds.username));
    }
    let Some(nonce) = &d.nonce else { return (401, "Cred before the server issued any nonce".into()) };
    let expected = auth::md5_cred(&creds.username, &creds.password, nonce);
    let got = cred.data.text().unwrap_or("").trim();
    if got != expected {
        return (
            401,
            format!("Cred {got:?} is not the md5 digest with the last nonce issued (wrong password or stale nonce)"),
        );
    }
    (212, String::new())
}

/// The server's Cred answering a client's challenge of type `ty` with its nonce (digest §8.5).
fn server_cred(dev: Option<&Device>, cfg: &super::Dm12ServerConfig, ty: &str, nonce: &[u8]) -> Option<Cred> {
    let registered = dev.and_then(|d| d.server_credentials.clone());
    let Credentials { username, password } =
        registered.unwrap_or(Credentials { username: cfg.server_id.clone(), password: cfg.server_password.clone() });
    let (ty, data) = if ty == AUTH_BASIC {
        (AUTH_BASIC, auth::basic(&username, &password))
    } else if ty == AUTH_MAC {
        // Only under the hmac-in-cred fault: the MAC of an empty body, where it must not go.
        (AUTH_MAC, auth::hmac_mac(&username, &password, nonce, b""))
    } else {
        // md5 for md5 and for any type the server does not know (it has no other).
        (AUTH_MD5, auth::md5_cred(&username, &password, nonce))
    };
    Some(Cred {
        meta: Some(Meta { r#type: Some(ty.into()), format: Some("b64".into()), ..Meta::default() }),
        data: Data::Text(data),
    })
}

/// A client Alert: its status code, and whether it aborts the session (1223).
fn alert(sh: &Shared, dev: &mut Option<&mut Device>, a: &Alert) -> (u16, bool) {
    let code = a.data.as_deref().unwrap_or("").trim();
    // A Client Event or Generic Alert needs Items, each with Meta Type and Format and Data
    // (digest §6.6, §6.8): otherwise 412 (incomplete command).
    let complete = !a.items.is_empty()
        && a.items.iter().all(|i| {
            let meta = i.meta.as_ref();
            meta.is_some_and(|m| m.r#type.is_some() && m.format.is_some()) && i.data.is_some()
        });
    let status = match code {
        "1200" | "1201" | "1222" | "1223" | "1225" => 200,
        "1226" if sh.has("generic-alert-406") => 406,
        "1224" | "1226" if !complete => 412,
        "1224" | "1226" => 200,
        _ if sh.has("unknown-alert-200") => 200,
        _ => 406,
    };
    if let Some(r) = report(dev) {
        if status == 412 {
            push_bounded(&mut r.errors, format!("alert {code}: an Item without Meta Type, Format or Data (412)"));
        }
        if matches!(code, "1224" | "1226") {
            for i in &a.items {
                let meta = i.meta.as_ref();
                push_bounded(
                    &mut r.alerts,
                    json!({
                        "code": code,
                        "type": meta.and_then(|m| m.r#type.clone()),
                        "format": meta.and_then(|m| m.format.clone()),
                        "mark": meta.and_then(|m| m.mark.clone()),
                        "data": i.data.as_ref().map(|d| String::from_utf8_lossy(d.bytes()).into_owned()),
                        "correlator": a.correlator,
                        "source": i.source.as_ref().map(|l| l.loc_uri.clone()),
                        "target": i.target.as_ref().map(|l| l.loc_uri.clone()),
                    }),
                );
            }
        } else if status == 406 {
            push_bounded(&mut r.errors, format!("alert code {code:?} not supported (406)"));
        }
    }
    // A Generic Alert may bring the result of a FUMO/SCOMO operation the server started.
    if let (true, Some(d)) = (code == "1226" && status == 200, dev.as_mut()) {
        for i in &a.items {
            let data = i.data.as_ref().map(|d| String::from_utf8_lossy(d.bytes()).into_owned());
            super::enablers::on_result_alert(
                &mut d.jobs,
                a.correlator.as_deref(),
                i.source.as_ref().map(|l| l.loc_uri.as_str()),
                data.as_deref(),
                &sh.faults,
            );
        }
        // … or be a DM Gateway's Image Ready or Fanout alert (GwMO).
        super::gateway::on_alert(d, a, &sh.cfg.profile, &sh.faults);
    }
    (status, code == "1223")
}

/// A client Results: recorded, or buffered when it is a large-object chunk (digest §5.7). The
/// status to send, when not 200 (no Status answers a Results that is fine, digest §4.9), with
/// the item's Source.
fn results(
    sh: &Shared,
    s: &mut Session,
    dev: &mut Option<&mut Device>,
    r: &Results,
    interrupted: &mut Vec<String>,
) -> Option<(u16, String)> {
    let mut out = None;
    for item in &r.items {
        let source =
            item.source.as_ref().map(|l| l.loc_uri.clone()).or_else(|| r.source_ref.clone()).unwrap_or_default();
        // Another object before the last chunk: the pending one is dropped (digest §5.7, 1225).
        if let Some(lo) = s.large_object.take_if(|lo| lo.source != source) {
            interrupted.push(lo.source);
        }
        let meta = item.meta.as_ref().or(r.meta.as_ref());
        let format = meta.and_then(|m| m.format.clone());
        let data = item.data.as_ref().map(|d| d.bytes().to_vec()).unwrap_or_default();
        let chunked = item.more_data || s.large_object.as_ref().is_some_and(|lo| lo.source == source);
        if !chunked {
            record_result(dev, &source, &data, format);
            continue;
        }
        let lo = s.large_object.get_or_insert_with(|| LargeObject {
            source: source.clone(),
            size: meta.and_then(|m| m.size.as_deref()).and_then(|n| n.trim().parse().ok()),
            format,
            data: Vec::new(),
        });
        lo.data.extend_from_slice(&data);
        if lo.data.len() > MAX_LARGE_OBJECT {
            s.large_object = None;
            out = Some((413, source));
            continue;
        }
        if item.more_data {
            out = Some((if sh.has("lo-no-213") { 200 } else { 213 }, source));
            continue;
        }
        let lo = s.large_object.take().expect("just filled");
        match lo.size {
            Some(n) if n != lo.data.len() => {
                if let Some(rep) = report(dev) {
                    push_bounded(
                        &mut rep.errors,
                        format!("large object {source:?}: Size {n}, {} bytes received (424)", lo.data.len()),
                    );
                }
                out = Some((424, source));
            }
            _ => record_result(dev, &lo.source, &lo.data, lo.format),
        }
    }
    out
}

fn record_result(dev: &mut Option<&mut Device>, source: &str, data: &[u8], format: Option<String>) {
    if let Some(d) = dev.as_mut() {
        if let Some(inv) = d.inventory.as_mut() {
            let more = inv.on_result(source, &String::from_utf8_lossy(data));
            d.queue.extend(more);
        }
    }
    if let Some(r) = report(dev) {
        push_bounded(
            &mut r.results,
            json!({"source": source, "data": String::from_utf8_lossy(data), "format": format}),
        );
    }
}

/// The commands of the next server package (or of its next message): commands to send again
/// first, then the device's queue, up to and including a large-object chunk that is not the
/// last one (the package then goes on in the next message, without Final). Also says whether
/// the message gets Final.
fn take_package(sh: &Shared, s: &mut Session, dev: &mut Option<&mut Device>) -> (Vec<Queued>, bool) {
    let mut out: Vec<Queued> = std::mem::take(&mut s.resend);
    let mut open = out.iter().any(Queued::is_open_chunk);
    if let Some(d) = dev.as_mut() {
        while !open {
            let Some(q) = d.queue.pop_front() else { break };
            open = q.is_open_chunk();
            out.push(q);
        }
    }
    s.package_open = open;
    if !open && sh.has("drops-last-command") {
        out.pop();
    }
    (out, !open)
}

/// `status-no-cmdref`: every Status but the SyncHdr's loses its CmdRef.
fn drop_cmd_refs(el: &mut Element) {
    let is_hdr_status = el.name == "Status"
        && el
            .elements()
            .any(|c| c.name == "Cmd" && c.children.iter().any(|t| matches!(t, Node::Text(t) if t == "SyncHdr")));
    if el.name == "Status" && !is_hdr_status {
        el.children.retain(|c| !matches!(c, Node::Element(e) if e.name == "CmdRef"));
    }
    for c in &mut el.children {
        if let Node::Element(e) = c {
            drop_cmd_refs(e);
        }
    }
}
