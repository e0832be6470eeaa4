//! A SyncML DM 1.2 End Device's session with the gateway (docs/gwmo.md, GwMO over DM 1.2).
//!
//! Package#1 (XML): SyncHdr with the Package#0's session id in upper-case hex as SessionID (1
//! when the Package#0 does not decode), MsgID 1 and up, Target the gateway's DM server URL,
//! Source the DeviceID; Alert 1200, the Replace of ./DevInfo/{DevId, Man, Mod, DmV, Lang},
//! Final. No Cred: an End Device authenticates to the gateway only when challenged (a Status
//! 401/407 with Chal for its SyncHdr): it then resends Package#1 with a `syncml:auth-basic` or
//! `syncml:auth-md5` Cred, user the DeviceID, password [`PASSWORD`], at most twice.
//!
//! Each gateway message with commands is executed and answered (a Status for the gateway's
//! SyncHdr, then one per command, Final): Add, Replace, Delete, Copy and Alert succeed (200);
//! an Exec downloads the URL of the last `…PkgURL` node Replaced or Added in the session, if
//! any (200, or the download's failure code), else succeeds; a Get gives 404; Atomic and
//! Sequence are answered and their commands executed in order. An `erroring` device answers
//! every command 500. A gateway message with nothing but Status/Results ends the session.
use super::{fetch, fetch_code, record, session_start, Behaviour, Shared, MAX_ROUNDS};
use crate::wire::dm12::auth::{self, AUTH_BASIC, AUTH_MD5};
use crate::wire::dm12::message::all_commands;
use crate::wire::dm12::notification::Notification;
use crate::wire::dm12::{
    Alert, Chal, Command, Cred, Data, Item, ItemCommand, LocRef, Message, Meta, Status, SyncBody, SyncHdr, MEDIA_XML,
};
use std::sync::Arc;

/// The password an End Device answers a challenge with (user: its DeviceID).
pub const PASSWORD: &str = "dmcts-ed";
/// Challenges answered per session before the device gives up.
const MAX_AUTH_RETRIES: usize = 2;

/// One device's session with the gateway, from Package#1 until the gateway has nothing more.
pub(super) async fn session(sh: Arc<Shared>, i: usize, package0: axum::body::Bytes) {
    let session_id =
        Notification::decode(&package0).map(|n| format!("{:X}", n.session_id)).unwrap_or_else(|_| "1".into());
    let Some((id, behaviour, mut target)) = session_start(&sh, i).await else { return };
    let package1 = package1(&id);
    let mut msg_id = 1u32;
    let mut msg = message(&session_id, msg_id, &target, &id, package1.clone(), None);
    let mut pkg_url: Option<String> = None;
    let mut challenges = 0;
    for _ in 0..MAX_ROUNDS {
        let reply = match exchange(&sh, &target, &msg).await {
            Ok(m) => m,
            Err(e) => return record(&sh, i, |s| s.errors.push(e)),
        };
        if let Some(r) = reply.hdr.resp_uri.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            target = r.to_string();
        }
        let head = header_status(&reply);
        let challenge = reply.body.commands.iter().find_map(|c| match c {
            Command::Status(s) if s.cmd_ref.trim() == "0" && matches!(s.data.trim(), "401" | "407") => Some(s),
            _ => None,
        });
        if let Some(st) = challenge {
            challenges += 1;
            let cred = st.chal.as_ref().and_then(|c| cred_for(c, &id));
            let Some(cred) = cred.filter(|_| challenges <= MAX_AUTH_RETRIES) else {
                let why =
                    format!("the gateway answered {} to the device's SyncHdr (challenge not met)", st.data.trim());
                return record(&sh, i, |s| s.errors.push(why));
            };
            msg_id += 1;
            let mut commands = vec![head];
            commands.extend(package1.iter().cloned());
            msg = message(&session_id, msg_id, &target, &id, commands, Some(cred));
            continue;
        }
        let commands: Vec<Command> = reply
            .body
            .commands
            .iter()
            .filter(|c| !matches!(c, Command::Status(_) | Command::Results(_)))
            .cloned()
            .collect();
        if commands.is_empty() {
            return record(&sh, i, |s| s.done = true);
        }
        let mut statuses = Vec::new();
        for c in all_commands(&commands) {
            let code = match (behaviour, c) {
                (Behaviour::Erroring, _) => 500,
                (_, Command::Add(x) | Command::Replace(x)) => {
                    for item in &x.items {
                        let uri = item.target.as_ref().map(|t| t.loc_uri.trim()).unwrap_or_default();
                        if uri.ends_with("PkgURL") {
                            pkg_url = item.data.as_ref().map(|d| String::from_utf8_lossy(d.bytes()).trim().to_string());
                        }
                    }
                    200
                }
                (_, Command::Exec(_)) => match pkg_url.as_deref().filter(|u| !u.is_empty()) {
                    Some(url) => {
                        let f = fetch(&sh.http, url).await;
                        let code = fetch_code(&f);
                        record(&sh, i, |s| s.fetches.push(f));
                        code
                    }
                    None => 200,
                },
                (_, Command::Get(_)) => 404,
                _ => 200,
            };
            statuses.push(status_for(c, &reply.hdr.msg_id, code));
        }
        let received = crate::wire::dm12::commands::to_arrays(&commands);
        let codes: Vec<u16> = statuses
            .iter()
            .filter_map(|c| match c {
                Command::Status(s) => s.data.trim().parse().ok(),
                _ => None,
            })
            .collect();
        record(&sh, i, |s| {
            s.commands.get_or_insert_with(Vec::new).extend(received);
            s.statuses.extend(codes);
        });
        msg_id += 1;
        let mut out = vec![head];
        out.extend(statuses);
        msg = message(&session_id, msg_id, &target, &id, out, None);
    }
    record(&sh, i, |s| s.errors.push(format!("the gateway did not end the session within {MAX_ROUNDS} messages")));
}

fn package1(id: &str) -> Vec<Command> {
    let devinfo = [
        ("./DevInfo/DevId", id),
        ("./DevInfo/Man", "dmcts"),
        ("./DevInfo/Mod", "dmcts-end-device"),
        ("./DevInfo/DmV", "1.2"),
        ("./DevInfo/Lang", "en"),
    ];
    vec![
        Command::Alert(Alert { data: Some("1200".into()), ..Alert::default() }),
        Command::Replace(ItemCommand {
            items: devinfo
                .iter()
                .map(|(uri, v)| Item {
                    source: Some(LocRef::uri(*uri)),
                    meta: Some(Meta { format: Some("chr".into()), ..Meta::default() }),
                    data: Some(Data::Text(v.to_string())),
                    ..Item::default()
                })
                .collect(),
            ..ItemCommand::default()
        }),
    ]
}

/// The Status for the gateway's SyncHdr: 200.
fn header_status(reply: &Message) -> Command {
    Command::Status(Status {
        msg_ref: reply.hdr.msg_id.clone(),
        cmd_ref: "0".into(),
        cmd: "SyncHdr".into(),
        target_refs: vec![reply.hdr.target.loc_uri.clone()],
        source_refs: vec![reply.hdr.source.loc_uri.clone()],
        data: "200".into(),
        ..Status::default()
    })
}

fn status_for(c: &Command, msg_ref: &str, code: u16) -> Command {
    let items: &[Item] = match c {
        Command::Add(x) | Command::Copy(x) | Command::Delete(x) | Command::Get(x) | Command::Replace(x) => &x.items,
        Command::Exec(x) => &x.items,
        _ => &[],
    };
    Command::Status(Status {
        msg_ref: msg_ref.to_string(),
        cmd_ref: c.cmd_id().unwrap_or_default().to_string(),
        cmd: c.name().to_string(),
        target_refs: items.iter().filter_map(|i| i.target.as_ref().map(|t| t.loc_uri.clone())).collect(),
        data: code.to_string(),
        ..Status::default()
    })
}

/// The Cred a challenge asks for (basic, or md5 with the NextNonce base64-decoded).
fn cred_for(chal: &Chal, id: &str) -> Option<Cred> {
    let kind = chal.meta.r#type.clone().unwrap_or_else(|| AUTH_BASIC.into());
    let data = match kind.as_str() {
        AUTH_BASIC => auth::basic(id, PASSWORD),
        AUTH_MD5 => {
            let text = chal.meta.next_nonce.clone().unwrap_or_default();
            let nonce = auth::decode_nonce(&text).unwrap_or_else(|| text.into_bytes());
            auth::md5_cred(id, PASSWORD, &nonce)
        }
        _ => return None,
    };
    Some(Cred {
        meta: Some(Meta { r#type: Some(kind), format: Some("b64".into()), ..Meta::default() }),
        data: Data::Text(data),
    })
}

fn message(
    session_id: &str,
    msg_id: u32,
    target: &str,
    id: &str,
    mut commands: Vec<Command>,
    cred: Option<Cred>,
) -> Message {
    for (n, c) in commands.iter_mut().enumerate() {
        c.set_cmd_id((n + 1).to_string());
    }
    // Inner commands of a container are not renumbered: a device's messages hold none.
    let named = cred.is_some();
    Message {
        hdr: SyncHdr {
            ver_dtd: "1.2".into(),
            ver_proto: "DM/1.2".into(),
            session_id: session_id.to_string(),
            msg_id: msg_id.to_string(),
            target: LocRef::uri(target),
            source: LocRef { loc_uri: id.to_string(), loc_name: named.then(|| id.to_string()) },
            cred,
            ..SyncHdr::default()
        },
        body: SyncBody { commands, r#final: true },
    }
}

/// POSTs a message (XML) and decodes the gateway's answer (HTTP 200 required).
async fn exchange(sh: &Shared, target: &str, m: &Message) -> Result<Message, String> {
    let body = m.to_xml(false).map_err(|e| format!("encoding the device's message: {e}"))?;
    let resp = sh
        .http
        .post(target)
        .header("content-type", MEDIA_XML)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {target}: {e}"))?;
    let status = resp.status().as_u16();
    let media = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(MEDIA_XML).to_string();
    let bytes = resp.bytes().await.map_err(|e| format!("reading the gateway's message: {e}"))?;
    if status != 200 {
        return Err(format!("the gateway answered {status}"));
    }
    crate::wire::dm12::decode(&bytes, &media).map_err(|e| format!("the gateway's message does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::{EndDevices, EndDevicesConfig, GroupSpec, Protocol};
    use crate::wire::dm12::commands::{from_arrays, CmdIds};
    use crate::wire::dm12::notification::{encode, Trigger, UiMode, MEDIA_NOTIFICATION, VERSION_1_1};
    use crate::wire::dm12::{Chal, Command, Message, Meta, Status, SyncBody, SyncHdr, MEDIA_XML};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A fake gateway's DM server: a device's Package#1 gets `commands` (after a 401 with a
    /// Chal of the `challenge` type, md5 with NextNonce `nonce-1`), its answer ends the session;
    /// every message is kept.
    #[derive(Clone)]
    struct Fake {
        commands: Vec<Command>,
        challenge: Option<&'static str>,
        seen: Arc<Mutex<Vec<Message>>>,
    }

    fn reply(to: &Message, code: &str, mut commands: Vec<Command>) -> Message {
        let mut out = vec![Command::Status(Status {
            msg_ref: to.hdr.msg_id.clone(),
            cmd_ref: "0".into(),
            cmd: "SyncHdr".into(),
            data: code.into(),
            ..Status::default()
        })];
        out.append(&mut commands);
        for (n, c) in out.iter_mut().enumerate() {
            c.set_cmd_id((n + 1).to_string());
        }
        Message {
            hdr: SyncHdr {
                ver_dtd: "1.2".into(),
                ver_proto: "DM/1.2".into(),
                session_id: to.hdr.session_id.clone(),
                msg_id: to.hdr.msg_id.clone(),
                ..SyncHdr::default()
            },
            body: SyncBody { commands: out, r#final: true },
        }
    }

    async fn dm(
        axum::extract::State(f): axum::extract::State<Fake>,
        body: String,
    ) -> impl axum::response::IntoResponse {
        let m = Message::from_xml(&body).unwrap();
        f.seen.lock().unwrap().push(m.clone());
        let opens = m.body.commands.iter().any(|c| matches!(c, Command::Alert(_)));
        let r = if let Some(kind) = f.challenge.filter(|_| opens && m.hdr.cred.is_none()) {
            let mut r = reply(&m, "401", vec![]);
            if let Command::Status(s) = &mut r.body.commands[0] {
                let next_nonce = (kind == super::AUTH_MD5).then(|| crate::wire::dm12::auth::encode_nonce(b"nonce-1"));
                s.chal = Some(Chal {
                    meta: Meta { r#type: Some(kind.into()), format: Some("b64".into()), next_nonce, ..Meta::default() },
                });
            }
            r
        } else if opens {
            reply(&m, "200", f.commands.clone())
        } else {
            reply(&m, "200", vec![])
        };
        ([("content-type", MEDIA_XML)], r.to_xml(false).unwrap())
    }

    async fn image() -> &'static str {
        "the image"
    }

    fn commands(arrays: &[Vec<String>]) -> Vec<Command> {
        from_arrays(arrays, &mut CmdIds::starting_at(1)).unwrap()
    }

    /// Starts the fake gateway (an image at `/img`) and two DM 1.2 devices attached to it
    /// (`erroring` of them answering 500), notifies both and waits for their sessions. The
    /// commands are made from the fake's base URL. Returns the devices' log and what the fake
    /// received.
    async fn run(
        make: impl FnOnce(&str) -> Vec<Command>,
        challenge: Option<&'static str>,
        erroring: usize,
    ) -> (serde_json::Value, Vec<Message>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let fake = Fake { commands: make(&base), challenge, seen: seen.clone() };
        let app = axum::Router::new()
            .route("/dm", axum::routing::post(dm))
            .route("/img", axum::routing::get(image))
            .with_state(fake);
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let cfg = EndDevicesConfig {
            protocol: Protocol::Dm12,
            groups: vec![GroupSpec {
                name: "g".into(),
                id_prefix: "ED-".into(),
                count: 2,
                silent: 0,
                erroring,
                slow: 0,
            }],
            slow_ms: 1,
            http_timeout_ms: 5000,
        };
        let ed = EndDevices::spawn("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
        ed.set_gateway(&format!("{base}/dm"));
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        for (n, id) in ["ED-00001", "ED-00002"].iter().enumerate() {
            let t = Trigger {
                version: VERSION_1_1,
                ui_mode: UiMode::NotSpecified,
                server_initiated: true,
                session_id: 0x1A + n as u16,
                server_id: "gw".into(),
                vendor: vec![],
            };
            let r = http
                .post(format!("{}/{id}", ed.notify_base))
                .header("content-type", MEDIA_NOTIFICATION)
                .body(encode(&t, "x", &[]).unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
        }
        assert!(ed.wait_group_done("g", Duration::from_secs(10)).await, "{}", ed.log_json());
        let log = ed.log_json();
        ed.shutdown().await;
        server.abort();
        let seen = seen.lock().unwrap().clone();
        (log, seen)
    }

    fn arrays(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter().map(|c| c.iter().map(|s| s.to_string()).collect()).collect()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    }

    #[test]
    fn a_dm12_device_executes_the_gateways_commands_and_answers_them() {
        rt().block_on(async {
            let (log, seen) = run(
                |base| {
                    commands(&arrays(&[
                        &["Replace", "./SCOMO/Download/P/PkgURL", &format!("{base}/img")],
                        &["Exec", "./SCOMO/Download/P/Operations/Download"],
                        &["Get", "./DevInfo/Mod"],
                        &["Sequence", "1"],
                        &["Delete", "./x"],
                    ]))
                },
                None,
                0,
            )
            .await;
            let d = &log["devices"][0];
            assert_eq!(d["done"], true, "{log}");
            assert_eq!(d["sessions"], 1);
            assert_eq!(d["commands"][0][0], "Replace");
            assert_eq!(d["commands"][1], serde_json::json!(["Exec", "./SCOMO/Download/P/Operations/Download", "", ""]));
            assert_eq!(d["commands"].as_array().unwrap().len(), 5, "{log}");
            // Replace, Exec (the download), Get (404), Sequence, Delete.
            assert_eq!(d["statuses"], serde_json::json!([200, 200, 404, 200, 200]));
            assert_eq!(d["fetches"][0]["status"], 200);
            assert_eq!(d["fetches"][0]["bytes"], 9);
            // Package#1: SessionID from the Package#0 in upper hex, Alert 1200, DevInfo, no Cred.
            let p1 = seen.iter().find(|m| m.hdr.source.loc_uri == "ED-00001" && m.hdr.msg_id == "1").unwrap();
            assert_eq!(p1.hdr.session_id, "1A");
            assert!(p1.hdr.cred.is_none());
            assert!(matches!(&p1.body.commands[0], Command::Alert(a) if a.data.as_deref() == Some("1200")));
            assert!(p1.body.r#final);
            // Its answer: the Status for the gateway's SyncHdr, then one per command with CmdRef.
            let p3 = seen.iter().find(|m| m.hdr.source.loc_uri == "ED-00001" && m.hdr.msg_id == "2").unwrap();
            let refs: Vec<(&str, &str)> = p3
                .body
                .commands
                .iter()
                .filter_map(|c| match c {
                    Command::Status(s) => Some((s.cmd.as_str(), s.cmd_ref.as_str())),
                    _ => None,
                })
                .collect();
            assert_eq!(refs[0], ("SyncHdr", "0"));
            assert_eq!(refs[1], ("Replace", "2"));
            assert_eq!(refs.len(), 6);
        });
    }

    #[test]
    fn a_challenged_dm12_device_authenticates_and_an_erroring_one_answers_500() {
        rt().block_on(async {
            let (log, seen) = run(|_| commands(&arrays(&[&["Exec", "./dmcts/Op"]])), Some(super::AUTH_BASIC), 1).await;
            let creds: Vec<&Message> = seen.iter().filter(|m| m.hdr.cred.is_some()).collect();
            assert_eq!(creds.len(), 2, "each device resent its Package#1 with a Cred");
            assert_eq!(
                creds[0].hdr.cred.as_ref().unwrap().meta.as_ref().unwrap().r#type.as_deref(),
                Some(super::AUTH_BASIC)
            );
            let want = crate::wire::dm12::auth::basic("ED-00001", super::PASSWORD);
            assert!(seen.iter().any(|m| m.hdr.cred.as_ref().and_then(|c| c.data.text()) == Some(want.as_str())));
            assert_eq!(log["devices"][0]["statuses"], serde_json::json!([500]), "{log}");
            assert_eq!(log["devices"][1]["statuses"], serde_json::json!([200]), "{log}");
            assert!(log["devices"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["done"] == true && d["errors"].as_array().unwrap().is_empty()));
        });
    }

    #[test]
    fn an_md5_challenge_is_met_with_the_decoded_nonce() {
        rt().block_on(async {
            let (log, seen) = run(|_| commands(&arrays(&[&["Get", "./DevInfo/Mod"]])), Some(super::AUTH_MD5), 0).await;
            let want = crate::wire::dm12::auth::md5_cred("ED-00002", super::PASSWORD, b"nonce-1");
            let cred = seen
                .iter()
                .filter(|m| m.hdr.source.loc_uri == "ED-00002")
                .find_map(|m| m.hdr.cred.as_ref())
                .expect("ED-00002 resent its Package#1 with a Cred");
            assert_eq!(cred.data.text(), Some(want.as_str()));
            assert_eq!(log["devices"][1]["statuses"], serde_json::json!([404]), "{log}");
        });
    }
}
