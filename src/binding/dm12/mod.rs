//! The SyncML DM 1.2 binding (issue 11; digest `../shared/spec/dm12-protocol.md`): messages in
//! XML or WBXML over HTTP, built on [`crate::wire::dm12`] and configured by its profile
//! (`[profile.dm12]`).
//!
//! Unlike DM 2.0, a DM 1.2 message answers the one before it: its SyncHdr echoes the peer's
//! SessionID, every command of the peer's message gets a Status naming its MsgID and CmdID,
//! MsgIDs count up within a session. The binding therefore keeps the session's bookkeeping
//! ([`server_side`] as DM server of a client IUT, [`client_side`] as DM client of a server
//! IUT); a binding is configured per case, so the state lives as long as the case.
//!
//! Header-level acts a case asks of the suite are pseudo-commands beginning with `@`
//! (docs/dm12.md): `["@challenge", "407"|"401", type?]` (the SyncHdr Status with a Chal),
//! `["@next-nonce"]` (a Chal with a fresh NextNonce beside 212), `["@mac-nonce"]` (200 with a
//! syncml:auth-MAC Chal and a fresh NextNonce), `["@resp-uri", url]`,
//! `["@no-final"]`. Parsing a server's package, the binding reports a challenge the same way.
pub mod checks;
pub mod client_side;
pub mod enabler_checks;
pub mod gwmo_checks;
pub mod server_side;

use super::{
    Binding, BuiltNotification, ClientMessage, ClientSpec, Commands, DecodeError, NotificationSpec, Outgoing,
    ServerPackage,
};
use crate::peers::{HttpAnswer, Incoming};
use crate::runner::checks::{BuiltinInfo, CheckCtx, CheckDef, Credentials, Failure, Observed};
use crate::wire::dm12::notification::{Notification, Trigger, UiMode, MEDIA_NOTIFICATION, VERSION_1_1};
use crate::wire::dm12::profile::Profile;
use crate::wire::dm12::tamper::NotificationTamper;
use crate::wire::dm12::{Encoding, Message, MEDIA_WBXML, MEDIA_XML};
use serde_json::{json, Value};
use std::sync::Mutex;

/// The binding names: DM 1.2 in XML, and in WBXML. One binding, two encodings of the suite's
/// own messages and of what it demands of the IUT's.
pub const NAME_XML: &str = "dm12";
pub const NAME_WBXML: &str = "dm12-wbxml";

/// The DM 1.2 binding with the profile in force.
pub struct Dm12 {
    pub profile: Profile,
    pub encoding: Encoding,
    server: Mutex<server_side::State>,
    client: Mutex<client_side::State>,
}

impl Dm12 {
    pub fn new(profile: Profile, encoding: Encoding) -> Dm12 {
        Dm12 { profile, encoding, server: Mutex::default(), client: Mutex::default() }
    }

    fn server(&self) -> std::sync::MutexGuard<'_, server_side::State> {
        self.server.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn client(&self) -> std::sync::MutexGuard<'_, client_side::State> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The encoding's name in case files and the ICS (`xml`, `wbxml`).
    pub fn encoding_name(&self) -> &'static str {
        encoding_name(self.encoding)
    }
}

pub fn encoding_name(e: Encoding) -> &'static str {
    match e {
        Encoding::Xml => "xml",
        Encoding::Wbxml => "wbxml",
    }
}

/// The media type of a message in `e`.
pub fn media_type(e: Encoding) -> &'static str {
    match e {
        Encoding::Xml => MEDIA_XML,
        Encoding::Wbxml => MEDIA_WBXML,
    }
}

/// Encodes a message; a message the encoding cannot carry is a defect of the suite.
pub fn encode(m: &Message, e: Encoding) -> Result<Vec<u8>, String> {
    match e {
        Encoding::Xml => m.to_xml(false).map(String::into_bytes),
        Encoding::Wbxml => m.to_wbxml(),
    }
    .map_err(|e| e.to_string())
}

/// The encoding a body is in, by its first byte (a WBXML version byte, or XML text).
pub fn sniff(body: &[u8]) -> Encoding {
    match body.first() {
        Some(0x01..=0x03) => Encoding::Wbxml,
        _ => Encoding::Xml,
    }
}

/// Decodes a body in the encoding it is in.
pub fn decode_any(body: &[u8]) -> Result<(Message, Encoding), crate::wire::dm12::DecodeError> {
    let e = sniff(body);
    crate::wire::dm12::decode(body, media_type(e)).map(|m| (m, e))
}

/// Whether a command array is one of the binding's pseudo-commands.
pub fn is_pseudo(c: &[String]) -> bool {
    c.first().is_some_and(|n| n.starts_with('@'))
}

/// The notification defects a `notify` step may ask for.
const TAMPERS: &[&str] = &["wrong-digest", "wrong-version", "future-use-set"];

impl Binding for Dm12 {
    fn name(&self) -> &'static str {
        match self.encoding {
            Encoding::Xml => NAME_XML,
            Encoding::Wbxml => NAME_WBXML,
        }
    }

    fn family(&self) -> &'static str {
        NAME_XML
    }

    fn profile_json(&self) -> Value {
        let mut v = serde_json::to_value(&self.profile).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("encoding".into(), json!(self.encoding_name()));
            o.insert("media_type".into(), json!(media_type(self.encoding)));
        }
        v
    }

    fn informational(&self) -> Vec<String> {
        self.profile.informational.clone()
    }

    fn builtins(&self) -> Vec<BuiltinInfo> {
        checks::CHECKS
            .iter()
            .chain(enabler_checks::CHECKS)
            .chain(gwmo_checks::CHECKS)
            .map(CheckDef::info)
            .chain(crate::binding::peer_logs::infos())
            .collect()
    }

    fn run_builtin(
        &self,
        name: &str,
        args: &toml::Table,
        obs: &Observed,
        ctx: &CheckCtx,
    ) -> Option<Result<(), Failure>> {
        checks::CHECKS
            .iter()
            .chain(enabler_checks::CHECKS)
            .chain(gwmo_checks::CHECKS)
            .find(|d| d.name == name)
            .map(|d| (d.run)(self, args, obs, ctx))
            .or_else(|| crate::binding::peer_logs::run(name, args, obs, ctx))
    }

    fn observe_inbound(&self, endpoint: &str, headers: &[(String, String)], body: &[u8]) {
        if endpoint == "dm" || endpoint == "cont" {
            self.server().observe(headers, body);
        }
    }

    fn encoding_defect(&self, endpoint: Option<&str>, _: &[(String, String)], body: &[u8]) -> Option<Failure> {
        // SyncML messages only: the session endpoints, or a server IUT's answer.
        if !matches!(endpoint, None | Some("dm" | "cont")) || self.encoding != Encoding::Wbxml || body.is_empty() {
            return None;
        }
        let expected = "a WBXML document (public id 0x1201, the SyncML code pages), as the session's encoding";
        if sniff(body) != Encoding::Wbxml {
            return Some(Failure::new(expected, "an XML message"));
        }
        crate::wire::dm12::wbxml::decode(body).err().map(|e| Failure::new(expected, e.to_string()))
    }

    fn server_package(&self, commands: &[Vec<String>]) -> HttpAnswer {
        self.server().answer(self, commands)
    }

    fn late_answer(&self, inc: &Incoming) -> HttpAnswer {
        server_side::late_answer(self, inc)
    }

    fn ends_session(&self, commands: &[Vec<String>]) -> bool {
        // A package with no command and no challenge ends the session (digest §5.5); one
        // without Final (a Next Message response, a Large Object chunk) does not.
        !commands.iter().any(|c| !is_pseudo(c) || c[0] == "@challenge" || c[0] == "@no-final")
    }

    fn session_end_commands(&self) -> Commands {
        Vec::new()
    }

    fn notification_tampers(&self) -> &'static [&'static str] {
        TAMPERS
    }

    fn encode_notification(
        &self,
        spec: &NotificationSpec,
        credentials: Option<&Credentials>,
    ) -> Result<BuiltNotification, String> {
        let trigger = Trigger {
            version: VERSION_1_1,
            ui_mode: UiMode::NotSpecified,
            server_initiated: true,
            session_id: spec.notification_id,
            server_id: spec.server_id.clone(),
            vendor: Vec::new(),
        };
        let password = match credentials {
            Some(c) => String::from_utf8_lossy(&c.secret).into_owned(),
            None => return Err("PIXIT notification.secret (the server password of the digest) is needed".into()),
        };
        let nonce = self.profile.notification_nonce();
        let bytes = match spec.tamper.as_deref() {
            None => crate::wire::dm12::notification::encode(&trigger, &password, &nonce)?,
            Some("wrong-digest") => NotificationTamper::WrongDigest.encode(&trigger, &password, &nonce)?,
            Some("wrong-version") => NotificationTamper::WrongVersion.encode(&trigger, &password, &nonce)?,
            Some("future-use-set") => NotificationTamper::FutureUseSet.encode(&trigger, &password, &nonce)?,
            Some(other) => return Err(format!("unknown DM 1.2 notification tamper {other:?}")),
        };
        Ok(BuiltNotification {
            bytes,
            timestamp: None,
            note: format!(
                "DM 1.2 Package#0: version 1.1, session id {} (SessionID {}), server id {:?}; tamper {:?}",
                spec.notification_id,
                self.profile.session_id_text(spec.notification_id),
                spec.server_id,
                spec.tamper
            ),
        })
    }

    fn notification_media_type(&self) -> String {
        MEDIA_NOTIFICATION.into()
    }

    fn client_message(&self, spec: ClientSpec) -> Result<Outgoing, String> {
        self.client().message(self, spec)
    }

    fn parse_server_package(&self, body: &[u8]) -> Option<ServerPackage> {
        self.client().parse(body)
    }

    fn reply_status_codes(&self, body: &[u8]) -> Vec<i64> {
        let Ok((m, _)) = decode_any(body) else { return Vec::new() };
        m.body
            .commands
            .iter()
            .filter_map(|c| match c {
                crate::wire::dm12::Command::Status(s) if s.cmd != "SyncHdr" => s.data.trim().parse().ok(),
                _ => None,
            })
            .collect()
    }

    fn decode_notification(&self, bytes: &[u8]) -> Result<Value, DecodeError> {
        let n = Notification::decode(bytes).map_err(|e| DecodeError {
            offset: 0,
            expected: "a DM 1.2 Package#0 (digest §9.2)".into(),
            found: e,
        })?;
        Ok(json!({
            "digest": hex::encode(n.digest),
            "version": n.version,
            "ui_mode": n.ui_mode as u8,
            "server_initiated": n.server_initiated,
            "future_use": n.future_use,
            "session_id": n.session_id,
            "notification_id": n.session_id,
            "server_id": n.server_id,
            "vendor": hex::encode(&n.vendor),
        }))
    }

    fn http_credentials(&self) -> bool {
        false
    }

    fn inbound_message_name(&self, endpoint: &str, in_session: bool) -> Option<String> {
        Some(match (endpoint, in_session) {
            ("notify", _) => "a Package#0".into(),
            ("dm" | "cont", false) => "a Package#1 (SyncML DM 1.2)".into(),
            ("dm" | "cont", true) => "the client's next message (SyncML DM 1.2)".into(),
            _ => return None,
        })
    }

    fn client_message_name(&self, message: ClientMessage) -> Option<String> {
        Some(
            match message {
                ClientMessage::Open => "Package#1 (SyncML DM 1.2)",
                ClientMessage::Reply => "the client's next message (SyncML DM 1.2)",
            }
            .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    //! The binding's two halves talk to each other in memory: the server half answers what the
    //! client half sends, and the checks judge each message as they would an IUT's.
    use super::*;
    use crate::runner::checks::{CheckCtx, Observed};
    use std::collections::BTreeMap;

    fn spec<'a>(
        message: ClientMessage,
        empty: &'a BTreeMap<String, u16>,
        members: &'a BTreeMap<String, Value>,
    ) -> ClientSpec<'a> {
        ClientSpec {
            message,
            body: None,
            auto_status: Some(200),
            status_for: empty,
            status_members: members,
            alerts: Vec::new(),
            notification: None,
            objects: Vec::new(),
            last_commands: None,
            dev_id: "IMEI:1",
            to: "http://127.0.0.1:1/dm",
            credentials: Some(("user", "pw")),
            options: &Value::Null,
        }
    }

    fn check(b: &Dm12, name: &str, args: toml::Table, obs: &Observed) -> Result<(), Failure> {
        let ctx = CheckCtx { last_commands: None, credentials: None, saved: None };
        b.run_builtin(name, &args, obs, &ctx).expect("a dm12 built-in")
    }

    fn request<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> Observed<'a> {
        Observed::Http { status: None, method: Some("POST"), path: Some(""), headers, body }
    }

    #[test]
    fn both_halves_run_a_challenged_session_in_each_encoding() {
        for enc in [Encoding::Xml, Encoding::Wbxml] {
            let client = Dm12::new(Profile::default(), enc);
            let server = Dm12::new(Profile::default(), enc);
            let (none, members) = (BTreeMap::new(), BTreeMap::new());
            // Package#1 without Cred; the server challenges.
            let p1 = client.client_message(spec(ClientMessage::Open, &none, &members)).unwrap();
            assert_eq!(sniff(&p1.body), enc);
            server.observe_inbound("dm", &p1.headers, &p1.body);
            for c in [
                "dm12-decodes",
                "dm12-versions",
                "dm12-devinfo",
                "dm12-final",
                "dm12-cmdid-unique",
                "dm12-media-type",
                "dm12-encoding",
            ] {
                check(&server, c, toml::Table::new(), &request(&p1.headers, &p1.body))
                    .unwrap_or_else(|f| panic!("{c}: {f:?}"));
            }
            let challenge = server.server_package(&[vec!["@challenge".into(), "407".into()]]);
            let parsed = client.parse_server_package(&challenge.body).unwrap();
            assert_eq!(parsed.commands[0][0], "@challenge");
            assert!(!parsed.ends_session);
            // Package#1 again, with a Cred made from the server's nonce.
            let again = client.client_message(spec(ClientMessage::Reply, &none, &members)).unwrap();
            server.observe_inbound("dm", &again.headers, &again.body);
            let mut creds = toml::Table::new();
            creds.insert("username".into(), "user".into());
            creds.insert("password".into(), "pw".into());
            let obs = request(&again.headers, &again.body);
            check(&server, "dm12-resent-package1", toml::Table::new(), &obs).unwrap();
            check(&server, "dm12-cred", creds.clone(), &obs).unwrap();
            check(&server, "dm12-header-status", toml::Table::new(), &obs).unwrap();
            let mut wrong = creds.clone();
            wrong.insert("password".into(), "other".into());
            assert!(check(&server, "dm12-cred", wrong, &obs).is_err());
            // Commands; the client answers each with a Status, the Get with Results.
            let cmds = server.server_package(&[
                vec!["Get".into(), "./DevInfo/Mod".into()],
                vec!["Atomic".into(), "1".into()],
                vec!["Delete".into(), "./x".into()],
            ]);
            let parsed = client.parse_server_package(&cmds.body).unwrap();
            assert_eq!(parsed.commands.len(), 3, "{:?}", parsed.commands);
            let reply = client.client_message(spec(ClientMessage::Reply, &none, &members)).unwrap();
            server.observe_inbound("dm", &reply.headers, &reply.body);
            let obs = request(&reply.headers, &reply.body);
            check(&server, "dm12-statuses", toml::Table::new(), &obs).unwrap();
            let mut args = toml::Table::new();
            args.insert("target".into(), "./DevInfo/Mod".into());
            args.insert("value".into(), "dmcts-device".into());
            check(&server, "dm12-results", args, &obs).unwrap();
            let mut args = toml::Table::new();
            args.insert("cmd".into(), "Get".into());
            args.insert("codes".into(), toml::Value::Array(vec![200.into()]));
            check(&server, "dm12-status-codes", args, &obs).unwrap();
            // Statuses only: the session ends.
            let end = server.server_package(&[]);
            assert!(client.parse_server_package(&end.body).unwrap().ends_session);
            // The server half's messages pass the checks of a server IUT's answers too.
            let answer =
                Observed::Http { status: Some(200), method: None, path: None, headers: &end.headers, body: &end.body };
            for c in ["dm12-server-header", "dm12-header-status", "dm12-server-msg-id", "dm12-dtd-order", "dm12-final"]
            {
                check(&client, c, toml::Table::new(), &answer).unwrap_or_else(|f| panic!("{c}: {f:?}"));
            }
        }
    }

    #[test]
    fn a_request_that_is_no_syncml_is_answered_400_and_late_traffic_ends_the_session() {
        let b = Dm12::new(Profile::default(), Encoding::Xml);
        b.observe_inbound("dm", &[], b"not syncml");
        assert_eq!(b.server_package(&[]).status, 400);
        let client = Dm12::new(Profile::default(), Encoding::Xml);
        let (none, members) = (BTreeMap::new(), BTreeMap::new());
        let p1 = client.client_message(spec(ClientMessage::Open, &none, &members)).unwrap();
        let inc = Incoming {
            seq: 1,
            endpoint: "dm".into(),
            path: String::new(),
            method: "POST".into(),
            target: "/dm".into(),
            headers: p1.headers.clone(),
            body: p1.body.clone(),
            refused: None,
            answered: None,
        };
        let late = b.late_answer(&inc);
        assert_eq!(late.status, 200);
        assert!(client.parse_server_package(&late.body).unwrap().ends_session);
    }
}
