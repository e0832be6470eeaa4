//! The suite as DM 1.2 client of a server IUT: Package#1 (Alert 1201, or 1200 when notified,
//! with the DevInfo Replace, digest §5.2), then messages answering the server's: a Status for
//! its SyncHdr and each command, Results for Get from the small tree the suite's device holds;
//! a challenge is answered by sending the Package#1 content again with credentials (§8.4).
use super::{encode, media_type, Dm12};
use crate::binding::{ClientMessage, ClientSpec, Outgoing, ServerPackage};
use crate::wire::dm12::auth::{self, AUTH_BASIC};
use crate::wire::dm12::commands::{self, CmdIds};
use crate::wire::dm12::{
    Alert, Command, Cred, Data, Item, ItemCommand, LocRef, Message, Meta, Results, Status, SyncBody, SyncHdr,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// The client side's record of the session.
#[derive(Debug, Default)]
pub struct State {
    session_counter: u32,
    session_id: String,
    msg_id: u32,
    /// The server URI the session talks to (SyncHdr Target).
    target: String,
    /// The Package#1 commands, sent again after a challenge.
    package1: Vec<Command>,
    /// The server's last message.
    pub last_server: Option<Message>,
    /// The suite's last message.
    pub last_sent: Option<Message>,
    /// The nonce the server gave last (bytes), for the next md5 Cred.
    pub nonce: Option<Vec<u8>>,
    /// The MsgIDs of the server's messages in this session, in order.
    server_msg_ids: Vec<String>,
    /// The challenge of the server's last message: (status code, Chal type).
    challenge: Option<(String, String)>,
    /// The device's tree as the server changed it: URI → value.
    tree: BTreeMap<String, String>,
    /// The nonce of the suite's last challenge of the server (options.challenge), what the
    /// server's Cred must use (digest §8.5).
    pub server_nonce: Option<Vec<u8>>,
    /// The rest of a Large Object the suite is sending in Results chunks (options.chunk).
    chunks: Option<Chunks>,
    /// The Correlator of the last Exec the suite's device answered: what an alert's
    /// `correlator = "@exec"` stands for (the device reports an operation's result, digest §1.2).
    exec_correlator: Option<String>,
}

/// How the suite answers the server's commands: the code, the codes per element name, and
/// the chunk size of Results sent as a Large Object.
struct Answering<'a> {
    code: u16,
    status_for: &'a BTreeMap<String, u16>,
    chunk: Option<usize>,
}

/// A Large Object going out in Results chunks (digest §5.7).
#[derive(Debug)]
struct Chunks {
    msg_ref: String,
    cmd_ref: String,
    uri: String,
    rest: Vec<String>,
}

/// The DM 1.2 options of a client step (docs/dm12.md).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// `false`: the message does not end the package (no Final; digest §5.6).
    #[serde(rename = "final", default = "yes")]
    r#final: bool,
    /// Challenge the server: this status for its SyncHdr, with a Chal (a fresh nonce).
    #[serde(default)]
    challenge: Option<u16>,
    /// The Chal's type (default: the profile's `auth_type`); `syncml:auth-MAC` asks the server
    /// to sign its messages in `x-syncml-hmac` (digest §8.6).
    #[serde(default)]
    challenge_type: Option<String>,
    /// Authenticate with these instead of the account's credentials.
    #[serde(default)]
    credentials: Option<OptCredentials>,
    /// Opening: values the device's tree holds besides DevInfo (URI → value).
    #[serde(default)]
    tree: BTreeMap<String, String>,
    /// Send Results larger than this many bytes as a Large Object, a chunk per message.
    #[serde(default)]
    chunk: Option<usize>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OptCredentials {
    username: String,
    password: String,
}

/// The DevInfo the suite's device reports.
fn devinfo(dev_id: &str) -> Vec<(String, String)> {
    vec![
        ("./DevInfo/DevId".into(), dev_id.into()),
        ("./DevInfo/Man".into(), "dmcts".into()),
        ("./DevInfo/Mod".into(), "dmcts-device".into()),
        ("./DevInfo/DmV".into(), "1.2".into()),
        ("./DevInfo/Lang".into(), "en-US".into()),
    ]
}

impl State {
    pub fn message(&mut self, b: &Dm12, spec: ClientSpec) -> Result<Outgoing, String> {
        if let (Some(Value::String(raw)), _) = (&spec.body, spec.message) {
            return Ok(Outgoing {
                headers: vec![("Content-Type".into(), media_type(b.encoding).into())],
                body: raw.clone().into_bytes(),
            });
        }
        let opts: Options = if spec.options.is_null() {
            Options { r#final: true, ..Options::default() }
        } else {
            serde_json::from_value(spec.options.clone()).map_err(|e| {
                format!(
                    "DM 1.2 options {}: {e} (expected final, challenge, challenge_type, credentials, tree, chunk)",
                    spec.options
                )
            })?
        };
        let mut ids = CmdIds::starting_at(1);
        let mut body = Vec::new();
        let mut with_cred = false;
        let mut r#final = opts.r#final;
        match spec.message {
            ClientMessage::Open => {
                self.session_counter += 1;
                self.session_id = match &spec.notification {
                    Some(n) => {
                        let id = n.get("session_id").and_then(Value::as_u64).ok_or_else(|| {
                            format!("a DM 1.2 notification with a session_id (a value expect-notification saved), found {n}")
                        })?;
                        b.profile.session_id_text(id as u16)
                    }
                    None => self.session_counter.to_string(),
                };
                self.msg_id = 0;
                self.target = spec.to.to_string();
                self.tree = devinfo(spec.dev_id).into_iter().collect();
                self.tree.extend(opts.tree.clone());
                self.chunks = None;
                self.server_nonce = None;
                self.challenge = None;
                self.last_server = None;
                self.server_msg_ids.clear();
                let code = if spec.notification.is_some() { "1200" } else { "1201" };
                let mut p1 =
                    vec![Command::Alert(Alert { cmd_id: String::new(), data: Some(code.into()), ..Alert::default() })];
                p1.push(Command::Replace(ItemCommand {
                    cmd_id: String::new(),
                    items: devinfo(spec.dev_id)
                        .into_iter()
                        .map(|(uri, v)| Item {
                            source: Some(LocRef::uri(uri)),
                            data: Some(Data::Text(v)),
                            ..Item::default()
                        })
                        .collect(),
                    ..ItemCommand::default()
                }));
                for a in spec.alerts.iter() {
                    p1.push(generic_alert(a, self.exec_correlator.as_deref())?);
                }
                self.package1 = p1.clone();
                body.extend(renumber(p1, &mut ids));
                with_cred = self.nonce.is_some() || b.profile.auth_type == AUTH_BASIC;
            }
            ClientMessage::Reply => {
                let server = self.last_server.clone().ok_or("a reply needs a server message received earlier")?;
                let chal_nonce = opts.challenge.map(|_| super::server_side::fresh_nonce());
                body.push(header_status(
                    &server,
                    &mut ids,
                    opts.challenge,
                    chal_nonce.as_deref(),
                    opts.challenge_type.as_deref().unwrap_or(&b.profile.auth_type),
                ));
                if chal_nonce.is_some() {
                    self.server_nonce = chal_nonce;
                }
                if let Some(mut ch) = self.chunks.take() {
                    // The next chunk of the Large Object (the server's 1222 asks for it).
                    for c in &server.body.commands {
                        let how = Answering { code: 200, status_for: spec.status_for, chunk: None };
                        self.answer_command(c, &server.hdr.msg_id, &how, &mut ids, &mut body);
                    }
                    let data = ch.rest.remove(0);
                    let more = !ch.rest.is_empty();
                    body.push(results_chunk(&ch, &mut ids, data, None, more));
                    r#final = !more;
                    if more {
                        self.chunks = Some(ch);
                    }
                } else if self.challenge.take().is_some() {
                    // Package#1 again, now with credentials (digest §8.4).
                    body.extend(renumber(self.package1.clone(), &mut ids));
                    with_cred = true;
                } else {
                    let code = spec.auto_status.unwrap_or(200);
                    let how = Answering { code, status_for: spec.status_for, chunk: opts.chunk };
                    for c in &server.body.commands {
                        self.answer_command(c, &server.hdr.msg_id, &how, &mut ids, &mut body);
                    }
                    if self.chunks.is_some() {
                        r#final = false;
                    }
                    let corr = self.exec_correlator.clone();
                    let alerts =
                        spec.alerts.iter().map(|a| generic_alert(a, corr.as_deref())).collect::<Result<_, _>>()?;
                    body.extend(renumber(alerts, &mut ids));
                }
            }
        }
        self.msg_id += 1;
        let account =
            opts.credentials.as_ref().map(|c| (c.username.as_str(), c.password.as_str())).or(spec.credentials);
        let cred = match (with_cred, account) {
            (true, Some((u, p))) => Some(self.cred(b, u, p)),
            _ => None,
        };
        let m = Message {
            hdr: SyncHdr {
                ver_dtd: "1.2".into(),
                ver_proto: "DM/1.2".into(),
                session_id: self.session_id.clone(),
                msg_id: self.msg_id.to_string(),
                target: LocRef::uri(self.target.clone()),
                source: LocRef {
                    loc_uri: spec.dev_id.to_string(),
                    loc_name: spec.credentials.map(|(u, _)| u.to_string()),
                },
                cred,
                meta: Some(Meta { max_msg_size: Some(b.profile.max_msg_size.to_string()), ..Meta::default() }),
                ..SyncHdr::default()
            },
            body: SyncBody { commands: body, r#final },
        };
        let bytes = encode(&m, b.encoding)?;
        self.last_sent = Some(m);
        Ok(Outgoing { headers: vec![("Content-Type".into(), media_type(b.encoding).into())], body: bytes })
    }

    fn cred(&self, b: &Dm12, user: &str, password: &str) -> Cred {
        let (t, data) = match (b.profile.auth_type.as_str(), &self.nonce) {
            (auth::AUTH_MD5, Some(n)) => (auth::AUTH_MD5, auth::md5_cred(user, password, n)),
            (auth::AUTH_MD5, None) => (auth::AUTH_MD5, auth::md5_cred(user, password, b"")),
            _ => (AUTH_BASIC, auth::basic(user, password)),
        };
        Cred {
            meta: Some(Meta { r#type: Some(t.into()), format: Some("b64".into()), ..Meta::default() }),
            data: Data::Text(data),
        }
    }

    /// The Status (and Results) answering one server command, executing it on the tree.
    fn answer_command(
        &mut self,
        c: &Command,
        msg_ref: &str,
        how: &Answering,
        ids: &mut CmdIds,
        out: &mut Vec<Command>,
    ) {
        let (code, status_for, chunk) = (how.code, how.status_for, how.chunk);
        let Some(cmd_ref) = c.cmd_id().map(str::to_string) else { return };
        let status = |ids: &mut CmdIds, code: String, targets: Vec<String>| {
            Command::Status(Status {
                cmd_id: ids.next_id(),
                msg_ref: msg_ref.to_string(),
                cmd_ref: cmd_ref.clone(),
                cmd: c.name().to_string(),
                target_refs: targets,
                data: code,
                ..Status::default()
            })
        };
        let named = status_for.get(c.name()).copied();
        let code = named.unwrap_or(code);
        match c {
            Command::Status(_) | Command::Results(_) => {}
            Command::Get(g) => {
                let uri =
                    g.items.first().and_then(|i| i.target.as_ref()).map(|l| l.loc_uri.clone()).unwrap_or_default();
                match (named, self.tree.get(&uri)) {
                    (None, Some(v)) if chunk.is_some_and(|n| n > 0 && v.len() > n) => {
                        let n = chunk.unwrap_or(1);
                        let total = v.len();
                        let mut parts: Vec<String> =
                            v.as_bytes().chunks(n).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
                        out.push(status(ids, "200".into(), vec![uri.clone()]));
                        let first = parts.remove(0);
                        let ch = Chunks { msg_ref: msg_ref.to_string(), cmd_ref: cmd_ref.clone(), uri, rest: parts };
                        out.push(results_chunk(&ch, ids, first, Some(total), true));
                        self.chunks = Some(ch);
                    }
                    (None, Some(v)) => {
                        let v = v.clone();
                        out.push(status(ids, "200".into(), vec![uri.clone()]));
                        out.push(Command::Results(Results {
                            cmd_id: ids.next_id(),
                            msg_ref: Some(msg_ref.to_string()),
                            cmd_ref: cmd_ref.clone(),
                            items: vec![Item {
                                source: Some(LocRef::uri(uri)),
                                meta: Some(Meta { format: Some("chr".into()), ..Meta::default() }),
                                data: Some(Data::Text(v)),
                                ..Item::default()
                            }],
                            ..Results::default()
                        }));
                    }
                    (None, None) => out.push(status(ids, "404".into(), vec![uri])),
                    (Some(code), _) => out.push(status(ids, code.to_string(), vec![uri])),
                }
            }
            Command::Add(x) | Command::Replace(x) => {
                if (200..300).contains(&code) {
                    for i in &x.items {
                        if let (Some(t), Some(d)) = (&i.target, &i.data) {
                            self.tree.insert(t.loc_uri.clone(), String::from_utf8_lossy(d.bytes()).into_owned());
                        }
                    }
                }
                let targets = x.items.iter().filter_map(|i| i.target.as_ref().map(|l| l.loc_uri.clone())).collect();
                let code = if x.items.iter().any(|i| i.more_data) && named.is_none() { 213 } else { code };
                out.push(status(ids, code.to_string(), targets));
            }
            Command::Delete(x) => {
                for i in &x.items {
                    if let Some(t) = &i.target {
                        self.tree.retain(|k, _| k != &t.loc_uri && !k.starts_with(&format!("{}/", t.loc_uri)));
                    }
                }
                let targets = x.items.iter().filter_map(|i| i.target.as_ref().map(|l| l.loc_uri.clone())).collect();
                out.push(status(ids, code.to_string(), targets));
            }
            Command::Atomic(x) | Command::Sequence(x) => {
                out.push(status(ids, code.to_string(), Vec::new()));
                for inner in &x.commands {
                    self.answer_command(inner, msg_ref, how, ids, out);
                }
            }
            Command::Exec(x) => {
                if x.correlator.is_some() {
                    self.exec_correlator = x.correlator.clone();
                }
                let targets = x.items.iter().filter_map(|i| i.target.as_ref().map(|l| l.loc_uri.clone())).collect();
                out.push(status(ids, code.to_string(), targets));
            }
            _ => out.push(status(ids, code.to_string(), Vec::new())),
        }
    }

    /// The server's MsgIDs before its last message.
    pub fn server_msg_ids_before(&self) -> Vec<String> {
        let n = self.server_msg_ids.len().saturating_sub(1);
        self.server_msg_ids[..n].to_vec()
    }

    pub fn parse(&mut self, body: &[u8]) -> Option<ServerPackage> {
        let (m, _) = super::decode_any(body).ok()?;
        let mut cmds = commands::to_arrays(&m.body.commands);
        self.challenge = None;
        for c in &m.body.commands {
            if let Command::Status(s) = c {
                if s.cmd == "SyncHdr" {
                    if let Some(n) = s.chal.as_ref().and_then(|ch| ch.meta.next_nonce.as_deref()) {
                        self.nonce = Some(auth::decode_nonce(n).unwrap_or_else(|| n.as_bytes().to_vec()));
                    }
                    if matches!(s.data.trim(), "401" | "407") {
                        let t = s.chal.as_ref().and_then(|ch| ch.meta.r#type.clone()).unwrap_or_default();
                        self.challenge = Some((s.data.trim().to_string(), t));
                    }
                }
            }
        }
        if let Some((code, t)) = &self.challenge {
            cmds.insert(0, vec!["@challenge".into(), code.clone(), t.clone()]);
        }
        if !m.body.r#final {
            cmds.push(vec!["@no-final".into()]);
        }
        let ends = !cmds.iter().any(|c| !super::is_pseudo(c) || c[0] == "@challenge" || c[0] == "@no-final");
        let continue_at = m.hdr.resp_uri.clone();
        if let Some(r) = &continue_at {
            self.target = r.clone();
        }
        self.server_msg_ids.push(m.hdr.msg_id.clone());
        self.last_server = Some(m);
        Some(ServerPackage { commands: cmds, ends_session: ends, continue_at })
    }
}

/// One Results chunk of a Large Object: Meta Size on the first, MoreData on all but the last.
fn results_chunk(ch: &Chunks, ids: &mut CmdIds, data: String, size: Option<usize>, more: bool) -> Command {
    Command::Results(Results {
        cmd_id: ids.next_id(),
        msg_ref: Some(ch.msg_ref.clone()),
        cmd_ref: ch.cmd_ref.clone(),
        items: vec![Item {
            source: Some(LocRef::uri(ch.uri.clone())),
            meta: Some(Meta { format: Some("chr".into()), size: size.map(|n| n.to_string()), ..Meta::default() }),
            data: Some(Data::Text(data)),
            more_data: more,
            ..Item::default()
        }],
        ..Results::default()
    })
}

/// The Status for the server's SyncHdr: 200, or a challenge of the server (`code` with a Chal
/// of `auth_type` carrying `nonce`).
fn header_status(
    server: &Message,
    ids: &mut CmdIds,
    code: Option<u16>,
    nonce: Option<&[u8]>,
    auth_type: &str,
) -> Command {
    let chal = code.map(|_| crate::wire::dm12::Chal {
        meta: Meta {
            r#type: Some(auth_type.to_string()),
            format: Some("b64".into()),
            next_nonce: nonce.map(auth::encode_nonce),
            ..Meta::default()
        },
    });
    Command::Status(Status {
        chal,
        cmd_id: ids.next_id(),
        msg_ref: server.hdr.msg_id.clone(),
        cmd_ref: "0".into(),
        cmd: "SyncHdr".into(),
        target_refs: vec![server.hdr.target.loc_uri.clone()],
        source_refs: vec![server.hdr.source.loc_uri.clone()],
        data: code.unwrap_or(200).to_string(),
        ..Status::default()
    })
}

/// Commands with fresh CmdIDs.
fn renumber(cmds: Vec<Command>, ids: &mut CmdIds) -> Vec<Command> {
    cmds.into_iter()
        .map(|mut c| {
            match &mut c {
                Command::Alert(a) => a.cmd_id = ids.next_id(),
                Command::Replace(x) | Command::Add(x) => x.cmd_id = ids.next_id(),
                _ => {}
            }
            c
        })
        .collect()
}

/// A case's Generic Alert (`alerts = [...]`, docs/dm12.md): `{ type, format?, data?, source?,
/// target?, correlator?, mark?, code?, items? }`. Without `items` the alert has one Item made of
/// `source`, `target`, `type`, `format`, `mark`, `data`; with `items` (e.g. a DM Gateway's
/// aggregate, one Item per Results node) it has one Item per entry, each taking `type`,
/// `format` and `mark` from the alert unless it gives its own.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertSpec {
    #[serde(rename = "type")]
    r#type: Option<String>,
    format: Option<String>,
    data: Option<String>,
    source: Option<String>,
    target: Option<String>,
    correlator: Option<String>,
    mark: Option<String>,
    code: Option<String>,
    items: Option<Vec<ItemSpec>>,
}

/// One Item of an [`AlertSpec`] with `items`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemSpec {
    #[serde(rename = "type")]
    r#type: Option<String>,
    format: Option<String>,
    data: Option<String>,
    source: Option<String>,
    target: Option<String>,
    mark: Option<String>,
}

/// A Generic Alert 1226 (digest §6.8) from a case's alert object ([`AlertSpec`]);
/// `correlator = "@exec"` is `exec_correlator`, the Correlator of the last Exec the suite's
/// device answered (none: no Correlator). An error says what the object must be.
fn generic_alert(v: &Value, exec_correlator: Option<&str>) -> Result<Command, String> {
    const FORM: &str = "{ type, format?, data?, source?, target?, correlator?, mark?, code?, items? = [{ source?, \
                        target?, type?, format?, mark?, data? }] }";
    let a: AlertSpec = serde_json::from_value(v.clone()).map_err(|e| format!("alert {v}: {e} (expected {FORM})"))?;
    let correlator = match a.correlator.as_deref() {
        Some("@exec") => exec_correlator.map(str::to_string),
        other => other.map(str::to_string),
    };
    let item = |i: ItemSpec| Item {
        source: i.source.map(LocRef::uri),
        target: i.target.map(LocRef::uri),
        meta: Some(Meta {
            r#type: i.r#type.or_else(|| a.r#type.clone()),
            format: Some(i.format.or_else(|| a.format.clone()).unwrap_or_else(|| "chr".into())),
            mark: i.mark.or_else(|| a.mark.clone()),
            ..Meta::default()
        }),
        data: i.data.map(Data::Text),
        ..Item::default()
    };
    let items = match a.items.clone() {
        None => vec![item(ItemSpec {
            data: a.data.clone(),
            source: a.source.clone(),
            target: a.target.clone(),
            ..ItemSpec::default()
        })],
        Some(_) if a.data.is_some() || a.source.is_some() || a.target.is_some() => {
            return Err(format!("alert {v}: `items` and the single Item's `data`/`source`/`target` exclude each other"))
        }
        Some(list) if list.is_empty() => return Err(format!("alert {v}: `items` must not be empty (expected {FORM})")),
        Some(list) => list.into_iter().map(item).collect(),
    };
    Ok(Command::Alert(Alert {
        cmd_id: String::new(),
        data: Some(a.code.clone().unwrap_or_else(|| "1226".into())),
        correlator,
        items,
        ..Alert::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// (Source, Meta Type, Meta Format, Data) of an Item.
    type Shown = (Option<String>, Option<String>, Option<String>, Option<String>);

    fn items(c: &Command) -> Vec<Shown> {
        let Command::Alert(a) = c else { panic!("an Alert: {c:?}") };
        a.items
            .iter()
            .map(|i| {
                let m = i.meta.clone().unwrap_or_default();
                (
                    i.source.as_ref().map(|l| l.loc_uri.clone()),
                    m.r#type,
                    m.format,
                    i.data.as_ref().and_then(|d| d.text().map(String::from)),
                )
            })
            .collect()
    }

    #[test]
    fn a_generic_alert_has_one_item_or_one_per_entry_of_items() {
        let one =
            generic_alert(&json!({ "type": "t", "source": "./FUMO/Update", "data": "200", "format": "int" }), None)
                .unwrap();
        assert_eq!(
            items(&one),
            [(Some("./FUMO/Update".into()), Some("t".into()), Some("int".into()), Some("200".into()))]
        );
        let agg = generic_alert(
            &json!({ "type": "agg", "correlator": "@exec", "items": [
                { "source": "./GWMO/Fanout/fo1/Results/1/DeviceID", "data": "ED-1" },
                { "source": "./GWMO/Fanout/fo1/Results/1/DevResultXML", "format": "xml", "data": "<Status/>" },
            ] }),
            Some("c-7"),
        )
        .unwrap();
        let Command::Alert(a) = &agg else { panic!() };
        assert_eq!((a.data.as_deref(), a.correlator.as_deref()), (Some("1226"), Some("c-7")));
        assert_eq!(
            items(&agg),
            [
                (
                    Some("./GWMO/Fanout/fo1/Results/1/DeviceID".into()),
                    Some("agg".into()),
                    Some("chr".into()),
                    Some("ED-1".into())
                ),
                (
                    Some("./GWMO/Fanout/fo1/Results/1/DevResultXML".into()),
                    Some("agg".into()),
                    Some("xml".into()),
                    Some("<Status/>".into())
                ),
            ]
        );
    }

    #[test]
    fn a_malformed_alert_says_what_it_must_be() {
        let e = generic_alert(&json!({ "type": "t", "itemz": [] }), None).unwrap_err();
        assert!(e.contains("itemz") && e.contains("expected {"), "{e}");
        let e = generic_alert(&json!({ "type": "t", "data": "x", "items": [{ "data": "y" }] }), None).unwrap_err();
        assert!(e.contains("exclude each other"), "{e}");
        let e = generic_alert(&json!({ "type": "t", "items": [] }), None).unwrap_err();
        assert!(e.contains("must not be empty"), "{e}");
        let e = generic_alert(&json!({ "type": "t", "items": [{ "sauce": "x" }] }), None).unwrap_err();
        assert!(e.contains("sauce"), "{e}");
    }
}
