//! One DM 1.2 session (digest §5, §8): Package#1, the authentication rounds, then server
//! package → executed commands → client package, until the server sends nothing to answer.
use super::enablers;
use super::exec::{Executor, LargeObject};
use super::{tree, GenericAlert, Job, Shared, EXEC_RESULT_TYPE, MAX_MSG_SIZE};
use crate::wire::dm12::auth::{self, AUTH_BASIC, AUTH_MAC, AUTH_MD5};
use crate::wire::dm12::{
    wbxml, Alert, Chal, Command, Cred, Data, Encoding, Item, ItemCommand, LocRef, Message, Meta, Status, SyncBody,
    SyncHdr, MEDIA_WBXML, MEDIA_XML,
};
use std::sync::Arc;

/// Authentication retries (401/407 answered with a new Cred) per session before giving up
/// (digest §8.4 proposal: one per challenge type).
const MAX_AUTH_RETRIES: usize = 2;

/// Runs one queued job: a whole session. Asynchronous Exec results found on the way are
/// queued as a new client-initiated session once this one is over.
pub(super) async fn run_job(sh: &Arc<Shared>, job: Job) {
    let f = &sh.faults;
    let (session_id, alert_code, alerts, encoding) = match job {
        Job::Notified { session_id, resync, encoding } => {
            if resync {
                // After a resync acceptance the Cred uses the resync nonce too (digest §9.4).
                sh.lock().auth.nonce = Some(auth::encode_nonce(&super::RESYNC_NONCE));
            }
            let id = if f.has("dm12-session-id-decimal") { session_id.to_string() } else { format!("{session_id:X}") };
            let code = if f.has("dm12-notified-1201") { "1201" } else { "1200" };
            (id, code, vec![], encoding.unwrap_or(sh.cfg.encoding))
        }
        Job::ClientInitiated { alerts, encoding } => {
            let id = {
                let mut st = sh.lock();
                let id = st.next_session;
                st.next_session += 1;
                id
            };
            let code = if f.has("dm12-initiated-1200") { "1200" } else { "1201" };
            (id.to_string(), code, alerts, encoding.unwrap_or(sh.cfg.encoding))
        }
    };
    let mut s = Session {
        sh,
        session_id,
        encoding,
        target: sh.cfg.server_uri.clone(),
        msg_id: 0,
        authenticated: false,
        cred_each_message: false,
        server_authenticated: false,
        lo: None,
        async_execs: vec![],
        enabler_jobs: vec![],
        pending: vec![],
        pending_final: true,
        server_max_msg_size: None,
    };
    s.run(alert_code, &alerts).await;
    let mut results: Vec<GenericAlert> = s
        .async_execs
        .iter()
        .map(|(uri, correlator)| GenericAlert {
            r#type: EXEC_RESULT_TYPE.into(),
            format: "int".into(),
            data: "200".into(),
            source: Some(uri.clone()),
            target: None,
            correlator: Some(correlator.clone()),
            mark: None,
        })
        .collect();
    // The FUMO/SCOMO operations the session accepted (202) run now, the session being over.
    for job in std::mem::take(&mut s.enabler_jobs) {
        results.extend(run_enabler_job(sh, &job).await);
    }
    if !results.is_empty() {
        sh.enqueue(Job::ClientInitiated { alerts: results, encoding: Some(encoding) });
    }
}

/// Runs one accepted FUMO/SCOMO operation: its download (from PkgURL) first, then the work on
/// the tree; the result alert to report, unless a fault suppresses it.
async fn run_enabler_job(sh: &Arc<Shared>, job: &enablers::Job) -> Option<GenericAlert> {
    let url = enablers::fetch_url(&sh.lock().tree, job);
    let fetched = match url.clone() {
        None => None,
        Some(u) if u.trim().is_empty() => Some(Err(crate::wire::dm2::fumo::result::BAD_URL)),
        Some(u) => {
            sh.log(format!("{:?}: GET {u}", job.op));
            Some(match sh.http.get(u.trim()).send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.map(|b| b.to_vec()).map_err(|e| {
                    sh.log(format!("download body: {e}"));
                    crate::wire::dm2::fumo::result::DOWNLOAD_NETWORK
                }),
                Ok(r) => {
                    sh.log(format!("download answered {}", r.status()));
                    Err(crate::wire::dm2::fumo::result::DOWNLOAD_SERVER_ERROR)
                }
                Err(e) => {
                    sh.log(format!("download failed: {e}"));
                    Err(crate::wire::dm2::fumo::result::DOWNLOAD_SERVER_UNAVAILABLE)
                }
            })
        }
    };
    let retry = match (&fetched, &url) {
        (Some(Err(_)), Some(u)) if sh.faults.has("fumo12-retries") => Some(u.trim().to_string()),
        _ => None,
    };
    let mut st = sh.lock();
    let alert = enablers::run(&mut st.tree, job, fetched, &sh.faults);
    drop(st);
    sh.log(format!("{:?} of {} done: {alert:?}", job.op, job.uri));
    if let Some(u) = retry {
        // The fault: once the failure is reported (the alert's session, queued next, is over),
        // the client fetches the package again on its own (FUMO-016-C-M: no retry).
        let sh = sh.clone();
        tokio::spawn(async move {
            crate::reference::common::wait_until(std::time::Duration::from_secs(10), || sh.is_idle()).await;
            sh.log(format!("GET {u} again on its own (fault client.fumo12-retries)"));
            let _ = sh.http.get(&u).send().await;
        });
    }
    alert
}

struct Session<'a> {
    sh: &'a Shared,
    session_id: String,
    encoding: Encoding,
    /// Where the next message goes: the server URI, then the last RespURI.
    target: String,
    /// MsgID of the last message sent.
    msg_id: u32,
    /// The server answered 212: no more Cred this session.
    authenticated: bool,
    /// The server answered 200 to a Cred: the next message needs one again (digest §8.4).
    cred_each_message: bool,
    /// The server's Cred was accepted (only with `server_password`).
    server_authenticated: bool,
    lo: Option<LargeObject>,
    async_execs: Vec<(String, String)>,
    enabler_jobs: Vec<enablers::Job>,
    /// Commands of our package not sent yet (it is split when the server's MaxMsgSize is
    /// smaller than the package, digest §5.6), and whether the package ends with Final.
    pending: Vec<Command>,
    pending_final: bool,
    /// The server's MaxMsgSize (its SyncHdr Meta), the largest message it accepts.
    server_max_msg_size: Option<usize>,
}

fn alert(code: &str) -> Command {
    Command::Alert(Alert { data: Some(code.into()), ..Alert::default() })
}

fn status_code(s: &Status) -> u16 {
    s.data.trim().parse().unwrap_or(0)
}

impl Session<'_> {
    fn log(&self, line: String) {
        self.sh.log(format!("session {}: {line}", self.session_id));
    }

    fn has(&self, fault: &str) -> bool {
        self.sh.faults.has(fault)
    }

    async fn run(&mut self, alert_code: &str, alerts: &[GenericAlert]) {
        let package1 = self.package1(alert_code, alerts);
        let cred = self.cred();
        let mut msg = self.message(package1.clone(), true, cred);
        let mut auth_retries = 0;
        for _ in 0..self.sh.cfg.max_rounds {
            let sent_cred = msg.hdr.cred.is_some();
            let reply = match self.exchange(&msg).await {
                Ok(r) => r,
                Err(e) => {
                    self.log(format!("session ends: {e}"));
                    return;
                }
            };
            if let Some(r) = reply.hdr.resp_uri.as_ref().filter(|r| !r.trim().is_empty()) {
                if !self.has("dm12-ignores-respuri") {
                    self.target = r.trim().to_string();
                }
            }
            // The server's verdict on our credentials: the Status for our SyncHdr (digest §8.4).
            let header_status = reply.body.commands.iter().find_map(|c| match c {
                Command::Status(s) if s.cmd == "SyncHdr" && s.cmd_ref.trim() == "0" => Some(s.clone()),
                _ => None,
            });
            let (server_code, server_chal) = self.judge_server(&reply);
            if let Some(hs) = &header_status {
                let code = status_code(hs);
                self.keep_nonce(code, hs.chal.as_ref());
                match code {
                    401 | 407 => {
                        auth_retries += 1;
                        let Some(chal) = &hs.chal else {
                            return self.log(format!("session ends: {code} for our SyncHdr without a Chal"));
                        };
                        let kind = chal.meta.r#type.clone().unwrap_or_else(|| AUTH_BASIC.into());
                        if kind != AUTH_MD5 && kind != AUTH_BASIC && kind != AUTH_MAC {
                            return self.log(format!("session ends: challenged for {kind:?}, not supported"));
                        }
                        if auth_retries > MAX_AUTH_RETRIES {
                            return self.log(format!("session ends: still {code} after {MAX_AUTH_RETRIES} retries"));
                        }
                        self.sh.lock().auth.cred_type = kind;
                        // Back to Package#1 with the requested Cred (digest §8.4).
                        let mut commands = self.header_status(&reply, server_code, server_chal);
                        commands.extend(package1.iter().cloned());
                        let cred = if self.has("dm12-ignores-challenge") { None } else { self.cred_now() };
                        msg = self.message(commands, true, cred);
                        continue;
                    }
                    212 => {
                        self.authenticated = true;
                        self.cred_each_message = false;
                    }
                    200 if sent_cred => self.cred_each_message = true,
                    _ => {}
                }
            }
            let commands: Vec<&Command> =
                reply.body.commands.iter().filter(|c| !matches!(c, Command::Status(_) | Command::Results(_))).collect();
            if commands.is_empty() {
                // Nothing to answer: the session is over (digest §5.5).
                self.log("the server package holds no command: session over".into());
                if self.has("dm12-talks-after-end") {
                    let m = self.message(self.header_status(&reply, server_code, server_chal), true, None);
                    let _ = self.exchange(&m).await;
                }
                return;
            }
            // A "Next Message" response (only 1222, no Final) asks for the rest of our package
            // (digest §5.6, §5.9): with nothing left to send, the session is over.
            let next_message_only = commands
                .iter()
                .all(|c| matches!(c, Command::Alert(a) if a.data.as_deref().map(str::trim) == Some("1222")));
            let continuing = next_message_only && !reply.body.r#final;
            if continuing && self.pending.is_empty() {
                return self.log("a Next Message response, and our package is complete: session over".into());
            }
            let (out, alerts, aborted) = self.execute(&reply, &reply.body.commands, server_code);
            if aborted {
                return self.log("the server aborted the session (1223): nothing is answered".into());
            }
            let mut body = std::mem::take(&mut self.pending);
            body.extend(out);
            body.extend(alerts);
            // A server message without Final (not a Next Message response): its package goes
            // on; ask for the next message and hold our own Final back (digest §5.6, §5.7).
            if !reply.body.r#final && !continuing {
                body.push(alert("1222"));
            }
            if !continuing {
                self.pending_final = reply.body.r#final && !self.has("dm12-no-final");
            }
            self.pending = body;
            if let Some(max) = reply.hdr.meta.as_ref().and_then(|m| m.max_msg_size.as_deref()) {
                self.server_max_msg_size = max.trim().parse().ok();
            }
            let cred = if self.cred_each_message { self.cred_now() } else { None };
            msg = self.next_part(self.header_status(&reply, server_code, server_chal), cred);
        }
        self.log(format!("session ends: {} rounds", self.sh.cfg.max_rounds));
    }

    /// Executes a server message's commands (or refuses them while the server is not
    /// authenticated). Returns the Statuses/Results, the extra Alerts, and whether 1223 came.
    fn execute(&mut self, reply: &Message, body: &[Command], server_code: u16) -> (Vec<Command>, Vec<Command>, bool) {
        let mut st = self.sh.lock();
        let st = &mut *st;
        let mut e = Executor::new(&mut st.tree, &self.sh.faults, reply.hdr.msg_id.clone(), &mut st.ui, &mut self.lo);
        if matches!(server_code, 401 | 407) {
            e.refuse_all(body, server_code);
        } else {
            e.run_all(body);
        }
        self.async_execs.append(&mut e.async_execs);
        self.enabler_jobs.append(&mut e.enabler_jobs);
        (e.out, e.alerts, e.aborted)
    }

    /// Stores a NextNonce the server sent with the Status for our SyncHdr (digest §8.3/§8.4).
    fn keep_nonce(&self, code: u16, chal: Option<&Chal>) {
        let Some(nonce) = chal.and_then(|c| c.meta.next_nonce.clone()) else { return };
        let mac = chal.and_then(|c| c.meta.r#type.as_deref()) == Some(AUTH_MAC);
        if matches!(code, 200 | 212) && !mac && self.has("dm12-reuses-old-nonce") {
            return;
        }
        if code == 200 && mac && self.has("dm12-hmac-stale-nonce") {
            return;
        }
        self.log(format!("NextNonce {nonce:?} kept (with {code})"));
        self.sh.lock().auth.nonce = Some(nonce);
    }

    /// The client's verdict on the server's Cred (digest §8.5): 200 when no server
    /// authentication is configured or the server already passed; else 212/401/407 with a Chal
    /// carrying a fresh nonce.
    fn judge_server(&mut self, reply: &Message) -> (u16, Option<Chal>) {
        let Some(pwd) = self.sh.cfg.server_password.clone() else { return (200, None) };
        if self.server_authenticated {
            return (200, None);
        }
        let code = match &reply.hdr.cred {
            None => 407,
            Some(c) => {
                let name = reply.hdr.source.loc_name.clone().unwrap_or_else(|| self.sh.cfg.server_id.clone());
                let kind = c.meta.as_ref().and_then(|m| m.r#type.clone()).unwrap_or_else(|| AUTH_BASIC.into());
                let expected = match kind.as_str() {
                    AUTH_MD5 => Some(auth::md5_cred(&name, &pwd, &self.sh.lock().auth.server_nonce)),
                    AUTH_BASIC => Some(auth::basic(&name, &pwd)),
                    _ => None,
                };
                if expected.is_some_and(|e| c.data.text().map(str::trim) == Some(e.as_str())) {
                    self.server_authenticated = true;
                    212
                } else {
                    401
                }
            }
        };
        self.log(format!("the server's Cred: {code}"));
        let nonce = self.sh.new_server_nonce();
        let chal = Chal {
            meta: Meta {
                r#type: Some(AUTH_MD5.into()),
                format: Some("b64".into()),
                next_nonce: Some(auth::encode_nonce(&nonce)),
                ..Meta::default()
            },
        };
        (code, Some(chal))
    }

    /// The Status for the server's SyncHdr (digest §3.4), unless the fault drops it.
    fn header_status(&self, reply: &Message, code: u16, chal: Option<Chal>) -> Vec<Command> {
        if self.has("dm12-no-synchdr-status") {
            return vec![];
        }
        // The nonce in our Chal is the one the server must use from now on.
        if let Some(n) = chal.as_ref().and_then(|c| c.meta.next_nonce.as_deref()).and_then(auth::decode_nonce) {
            self.sh.keep_server_nonce(n);
        }
        vec![Command::Status(Status {
            msg_ref: reply.hdr.msg_id.clone(),
            cmd_ref: "0".into(),
            cmd: "SyncHdr".into(),
            target_refs: vec![reply.hdr.target.loc_uri.clone()],
            source_refs: vec![reply.hdr.source.loc_uri.clone()],
            chal,
            data: code.to_string(),
            ..Status::default()
        })]
    }

    /// Package#1's commands: the session alert, Generic Alerts, the DevInfo Replace (§5.2).
    fn package1(&self, alert_code: &str, alerts: &[GenericAlert]) -> Vec<Command> {
        let mut out = vec![alert(alert_code)];
        out.extend(alerts.iter().map(|a| self.generic_alert(a)));
        let cfg = &self.sh.cfg;
        let mut items: Vec<(&str, &str)> = vec![
            ("./DevInfo/DevId", &cfg.dev_id),
            ("./DevInfo/Man", tree::MAN),
            ("./DevInfo/Mod", tree::MOD),
            ("./DevInfo/DmV", tree::DMV),
            ("./DevInfo/Lang", tree::LANG),
        ];
        if self.has("dm12-no-devinfo") {
            items.pop();
        }
        out.push(Command::Replace(ItemCommand {
            items: items
                .into_iter()
                .map(|(uri, v)| Item {
                    source: Some(LocRef::uri(uri)),
                    meta: Some(Meta {
                        format: Some("chr".into()),
                        r#type: Some("text/plain".into()),
                        ..Meta::default()
                    }),
                    data: Some(Data::Text(v.into())),
                    ..Item::default()
                })
                .collect(),
            ..ItemCommand::default()
        }));
        out
    }

    /// A Generic Alert 1226 (digest §6.8): Data, Correlator, one Item with Source, Meta Type,
    /// Format (and Mark), Data.
    fn generic_alert(&self, a: &GenericAlert) -> Command {
        let meta = (!self.has("dm12-generic-alert-no-meta")).then(|| Meta {
            r#type: Some(a.r#type.clone()),
            format: Some(a.format.clone()),
            mark: a.mark.clone(),
            ..Meta::default()
        });
        Command::Alert(Alert {
            data: Some("1226".into()),
            correlator: a.correlator.clone().filter(|_| !self.has("dm12-exec-no-correlator")),
            items: vec![Item {
                source: a.source.clone().map(LocRef::uri),
                target: a.target.clone().map(LocRef::uri),
                meta,
                data: Some(Data::Text(a.data.clone())),
                ..Item::default()
            }],
            ..Alert::default()
        })
    }

    /// The Cred of Package#1: only when a nonce is held (md5) or basic was asked for.
    fn cred(&self) -> Option<Cred> {
        let st = self.sh.lock();
        (st.auth.nonce.is_some() || st.auth.cred_type == AUTH_BASIC).then_some(())?;
        drop(st);
        self.cred_now()
    }

    /// A Cred of the type the server wants, with the last nonce it sent (digest §8.2, §8.3).
    fn cred_now(&self) -> Option<Cred> {
        let (kind, nonce) = {
            let st = self.sh.lock();
            (st.auth.cred_type.clone(), st.auth.nonce.clone())
        };
        let cfg = &self.sh.cfg;
        if kind == AUTH_MAC {
            // The MAC goes into the transport header (exchange), never into a Cred (§8.6).
            return self.has("dm12-hmac-in-cred").then(|| Cred {
                meta: Some(Meta { r#type: Some(AUTH_MAC.into()), format: Some("b64".into()), ..Meta::default() }),
                data: Data::Text(auth::md5_cred(&cfg.username, &cfg.password, &self.mac_nonce())),
            });
        }
        let data = if kind == AUTH_BASIC {
            auth::basic(&cfg.username, &cfg.password)
        } else {
            let text = nonce.unwrap_or_default();
            let bytes = match self.has("dm12-md5-nonce-not-decoded") {
                true => text.as_bytes().to_vec(),
                // A NextNonce that is not base64 is used as it came (MOT's fallback, §8.4).
                false => auth::decode_nonce(&text).unwrap_or_else(|| text.as_bytes().to_vec()),
            };
            auth::md5_cred(&cfg.username, &cfg.password, &bytes)
        };
        Some(Cred {
            meta: Some(Meta { r#type: Some(kind), format: Some("b64".into()), ..Meta::default() }),
            data: Data::Text(data),
        })
    }

    /// The nonce of the next MAC: the last NextNonce of a syncml:auth-MAC Chal, decoded.
    fn mac_nonce(&self) -> Vec<u8> {
        let text = self.sh.lock().auth.nonce.clone().unwrap_or_default();
        auth::decode_nonce(&text).unwrap_or_else(|| text.into_bytes())
    }

    /// The `x-syncml-hmac` value for `body` while HMAC is in use (§8.6), else None.
    fn hmac_header(&self, body: &[u8]) -> Option<String> {
        let st = self.sh.lock();
        let in_use = st.auth.cred_type == AUTH_MAC && st.auth.nonce.is_some();
        drop(st);
        if !in_use || self.has("dm12-hmac-in-cred") {
            return None;
        }
        let cfg = &self.sh.cfg;
        let mac = auth::hmac_mac(&cfg.username, &cfg.password, &self.mac_nonce(), body);
        Some(auth::HmacHeader::new(&cfg.username, mac).to_string())
    }

    /// The next message of our package: `head` (the Status for the server's SyncHdr), then as
    /// many pending commands as the server's MaxMsgSize admits (at least one); Final when the
    /// last one is out and the package ends. A single command larger than the limit goes alone
    /// (no large-object sending).
    fn next_part(&mut self, head: Vec<Command>, cred: Option<Cred>) -> Message {
        let pending = std::mem::take(&mut self.pending);
        let mut n = pending.len();
        if let Some(max) = self.server_max_msg_size {
            let size = |k: usize| {
                let mut c = head.clone();
                c.extend(pending[..k].iter().cloned());
                let m = self.build(self.msg_id + 1, c, false, cred.clone());
                self.encode(&m).map(|(b, _)| b.len()).unwrap_or(usize::MAX)
            };
            if size(n) > max {
                n = (1..n).rev().find(|&k| size(k) <= max).unwrap_or(1.min(n));
                self.log(format!("our package exceeds the server's MaxMsgSize {max}: {n} command(s) in this message"));
            }
        }
        let mut commands = head;
        let mut rest = pending;
        commands.extend(rest.drain(..n));
        let fin = rest.is_empty() && self.pending_final;
        self.pending = rest;
        self.message(commands, fin, cred)
    }

    /// The next message: header, commands numbered from CmdID 1, Final or not.
    fn message(&mut self, commands: Vec<Command>, fin: bool, cred: Option<Cred>) -> Message {
        self.msg_id += 1;
        self.build(self.msg_id, commands, fin, cred)
    }

    fn build(&self, n: u32, mut commands: Vec<Command>, fin: bool, cred: Option<Cred>) -> Message {
        let msg_id = if self.has("dm12-msgid-repeats") { 1 } else { n };
        let session_id = if self.has("dm12-session-id-changes") && n >= 2 {
            format!("{}1", self.session_id)
        } else {
            self.session_id.clone()
        };
        for (n, c) in commands.iter_mut().enumerate() {
            let id = if n == 1 && self.has("dm12-duplicate-cmdid") { 1 } else { n + 1 };
            c.set_cmd_id(id.to_string());
        }
        let cfg = &self.sh.cfg;
        // The account name goes with a Cred, and with HMAC (the header's username is the LocName).
        let mac = self.sh.lock().auth.cred_type == AUTH_MAC;
        let named = cred.is_some() || mac;
        let source = LocRef { loc_uri: cfg.dev_id.clone(), loc_name: named.then(|| cfg.username.clone()) };
        Message {
            hdr: SyncHdr {
                ver_dtd: "1.2".into(),
                ver_proto: if self.has("dm12-wrong-verproto") { "DM/1.1" } else { "DM/1.2" }.into(),
                session_id,
                msg_id: msg_id.to_string(),
                target: LocRef::uri(self.target.clone()),
                source,
                resp_uri: None,
                no_resp: false,
                cred,
                meta: Some(Meta { max_msg_size: Some(MAX_MSG_SIZE.to_string()), ..Meta::default() }),
            },
            body: SyncBody { commands, r#final: fin },
        }
    }

    /// POSTs a message to the current target and decodes the answer (HTTP 200 required).
    async fn exchange(&self, m: &Message) -> Result<Message, String> {
        let (body, media) = self.encode(m)?;
        let content_type = if self.has("dm12-wrong-content-type") {
            media.replace("vnd.syncml.dm+", "vnd.syncml+")
        } else {
            media.to_string()
        };
        let shown = m.to_xml(false).unwrap_or_else(|e| format!("(not writable as XML: {e})"));
        self.log(format!("→ POST {} ({content_type}, {} bytes): {shown}", self.target, body.len()));
        let mut request = self.sh.http.post(&self.target).header(reqwest::header::CONTENT_TYPE, content_type);
        if let Some(h) = self.hmac_header(&body) {
            request = request.header(auth::HMAC_HEADER, h);
        }
        let resp = request.body(body).send().await.map_err(|e| format!("POST {}: {e}", self.target))?;
        let status = resp.status();
        let media = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| self.media().into());
        let bytes = resp.bytes().await.map_err(|e| format!("reading the answer: {e}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {status} from the server"));
        }
        let reply = crate::wire::dm12::decode(&bytes, &media)
            .map_err(|e| format!("the answer ({media}, {} bytes) does not decode: {e}", bytes.len()))?;
        self.log(format!("← {media}: {}", reply.to_xml(false).unwrap_or_default()));
        Ok(reply)
    }

    fn media(&self) -> &'static str {
        match self.encoding {
            Encoding::Xml => MEDIA_XML,
            Encoding::Wbxml => MEDIA_WBXML,
        }
    }

    fn encode(&self, m: &Message) -> Result<(Vec<u8>, &'static str), String> {
        let bytes = match self.encoding {
            Encoding::Xml => m.to_xml(false).map(String::into_bytes),
            Encoding::Wbxml if self.has("dm12-wbxml-string-table-garbage") => {
                wbxml::encode(&m.to_tree(), wbxml::Options { version: 0x02, public_id: 0x1202 })
            }
            Encoding::Wbxml => m.to_wbxml(),
        };
        Ok((bytes.map_err(|e| format!("encoding our message: {e}"))?, self.media()))
    }
}
