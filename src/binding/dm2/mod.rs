//! The OMA DM 2.0 binding: Package#0 (binary notification), Package#1/#2/#3 (JSON over HTTP),
//! built on the codecs of [`crate::wire::dm2`] and configured by its [`Profile`].
pub mod checks;
pub mod fumo_checks;
pub mod gwmo_checks;
pub mod scomo_checks;

use super::{
    Binding, BuiltNotification, ClientMessage, ClientSpec, Commands, DecodeError, NotificationSpec, Outgoing,
    ServerPackage, Timestamp,
};
use crate::peers::HttpAnswer;
use crate::runner::checks::{BuiltinInfo, CheckCtx, CheckDef, Credentials, Failure, Observed};
use crate::wire::dm2::notification::{self as n0, Notification, NotificationCredentials, NotificationFields, Tamper};
use crate::wire::dm2::{self as wire, Profile};
use serde_json::{json, Value};

/// The DM 2.0 binding with the profile in force.
#[derive(Debug, Clone, Default)]
pub struct Dm2 {
    pub profile: Profile,
}

impl Dm2 {
    pub fn new(profile: Profile) -> Dm2 {
        Dm2 { profile }
    }
}

/// The notification defects a case may ask for.
const TAMPERS: &[&str] = &["wrong-digest", "wrong-version", "oc-mismatch", "options-out-of-order"];

/// The wire form of the PIXIT notification credentials.
pub fn wire_credentials(c: &Credentials) -> NotificationCredentials {
    NotificationCredentials { secret: c.secret.clone(), auth_data: c.auth_data.clone() }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Whether an EXEC command array asks for asynchronous reporting (it carries a ServerURI).
fn is_async_exec(c: &[String]) -> bool {
    c.first().map(String::as_str) == Some("EXEC") && c.len() > 2
}

impl Dm2 {
    /// The session alert of a device answering `notification` (the JSON of
    /// `decode_notification`): ServerInitiatedMgmt echoing its NOTIFICATION-ID, placed per the
    /// profile's `notification_id_key` (UNVERIFIED, digest §10).
    fn server_initiated_alert(&self, notification: &Value) -> Result<Value, String> {
        let id = notification.get("notification_id").and_then(Value::as_u64).ok_or_else(|| {
            format!(
                "a notification with a NOTIFICATION-ID to echo (a value expect-notification saved), found {}",
                crate::trace::truncate_marked(&notification.to_string(), 200)
            )
        })?;
        let mut data = serde_json::Map::new();
        data.insert(self.profile.notification_id_key.clone(), json!(id));
        Ok(json!({ "AlertType": wire::ALERT_SERVER_INITIATED, "DataType": "int", "Data": data }))
    }
}

impl Binding for Dm2 {
    fn name(&self) -> &'static str {
        "dm2"
    }

    fn profile_json(&self) -> Value {
        serde_json::to_value(&self.profile).unwrap_or(Value::Null)
    }

    fn informational(&self) -> Vec<String> {
        self.profile.informational.clone()
    }

    fn builtins(&self) -> Vec<BuiltinInfo> {
        checks::CHECKS
            .iter()
            .chain(scomo_checks::CHECKS)
            .chain(fumo_checks::CHECKS)
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
            .chain(scomo_checks::CHECKS)
            .chain(fumo_checks::CHECKS)
            .chain(gwmo_checks::CHECKS)
            .find(|d| d.name == name)
            .map(|d| (d.run)(self, args, obs, ctx))
            .or_else(|| crate::binding::peer_logs::run(name, args, obs, ctx))
    }

    fn server_package(&self, commands: &[Vec<String>]) -> HttpAnswer {
        // Cases write EXEC and DEFAULT in the digest's parameter order; the wire has the profile's.
        let commands: Vec<Vec<String>> = commands.iter().map(|c| self.profile.reorder(c)).collect();
        HttpAnswer {
            status: 200,
            headers: vec![("Content-Type".into(), wire::MEDIA_PACKAGE2.into())],
            body: serde_json::to_vec(&json!({ "CMD": commands })).unwrap_or_default(),
        }
    }

    fn ends_session(&self, commands: &[Vec<String>]) -> bool {
        commands.iter().any(|c| c.first().map(String::as_str) == Some("END"))
    }

    fn session_end_commands(&self) -> Commands {
        vec![vec!["END".to_string()]]
    }

    fn notification_tampers(&self) -> &'static [&'static str] {
        TAMPERS
    }

    fn encode_notification(
        &self,
        spec: &NotificationSpec,
        credentials: Option<&Credentials>,
    ) -> Result<BuiltNotification, String> {
        let timestamp = match spec.timestamp {
            Timestamp::Absent => None,
            Timestamp::Offset(o) => Some((unix_now() + o).max(0) as u64),
            // The window is UNVERIFIED: one minute outside the profile's.
            Timestamp::Stale => Some((unix_now() - (self.profile.timestamp_window_s as i64 + 60)).max(0) as u64),
        };
        let fields = NotificationFields {
            server_id: spec.server_id.clone(),
            preferred_con_type: Some(spec.preferred_con_type),
            notification_id: Some(spec.notification_id),
            timestamp,
            req_mos: spec.req_mos,
            digest: spec.digest,
        };
        let creds = credentials.map(wire_credentials);
        if spec.digest && creds.is_none() {
            return Err("PIXIT notification.secret/auth_data are needed to compute SHA256-DIGEST".into());
        }
        let tamper = match spec.tamper.as_deref() {
            None => None,
            Some("wrong-digest") => Some(Tamper::WrongDigest),
            Some("wrong-version") => {
                Some(Tamper::WrongVersion(self.profile.notification_version.wrapping_add(1) & 0x0f))
            }
            Some("oc-mismatch") => Some(Tamper::OcMismatch),
            Some("options-out-of-order") => Some(Tamper::OptionsOutOfOrder),
            Some(other) => return Err(format!("unknown notification tamper {other:?}")),
        };
        let bytes =
            n0::try_encode(&fields, creds.as_ref(), &self.profile, tamper.as_ref()).map_err(|e| e.to_string())?;
        Ok(BuiltNotification { bytes, timestamp, note: format!("{fields:?}; tamper {tamper:?}") })
    }

    fn notification_media_type(&self) -> String {
        self.profile.notification_media_type.clone()
    }

    fn client_message(&self, spec: ClientSpec) -> Result<Outgoing, String> {
        if !spec.options.is_null() {
            return Err(format!("the DM 2.0 binding has no message options; found {}", spec.options));
        }
        let mut doc = match (spec.body, spec.message, spec.auto_status) {
            (Some(b), _, _) => b,
            (None, ClientMessage::Reply, Some(code)) => {
                let Some(cmds) = spec.last_commands else {
                    return Err("auto_status needs a Package#2 received earlier in the case".into());
                };
                let status: Vec<Value> = cmds
                    .iter()
                    .filter(|c| self.profile.has_status(c.first().map(String::as_str).unwrap_or("")))
                    .map(|c| {
                        let named = c.first().and_then(|n| spec.status_for.get(n)).copied();
                        let mut entry = json!({ "sc": if is_async_exec(c) { 202 } else { named.unwrap_or(code) } });
                        if let (Some(extra), Some(e)) = (
                            c.first().and_then(|n| spec.status_members.get(n)).and_then(Value::as_object),
                            entry.as_object_mut(),
                        ) {
                            e.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                        }
                        entry
                    })
                    .collect();
                json!({ "Status": status })
            }
            (None, ClientMessage::Open, _) => match &spec.notification {
                None => json!({ "Alert": [ { "AlertType": wire::ALERT_CLIENT_INITIATED } ] }),
                Some(n) => json!({ "Alert": [ self.server_initiated_alert(n)? ] }),
            },
            (None, ClientMessage::Reply, None) => json!({ "Status": [] }),
        };
        if !spec.objects.is_empty() {
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("MOS".into(), Value::Array(spec.objects));
            }
        }
        if !spec.alerts.is_empty() {
            if let Some(obj) = doc.as_object_mut() {
                let arr = obj.entry("Alert").or_insert_with(|| Value::Array(vec![]));
                if let Some(a) = arr.as_array_mut() {
                    a.extend(spec.alerts);
                }
            }
        }
        let content_type = match spec.message {
            ClientMessage::Open => wire::MEDIA_PACKAGE1,
            ClientMessage::Reply => wire::MEDIA_PACKAGE3,
        };
        Ok(Outgoing {
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("Accept".into(), wire::MEDIA_PACKAGE2.into()),
                (wire::HEADER_DEVID.into(), spec.dev_id.to_string()),
            ],
            body: serde_json::to_vec(&doc).unwrap_or_default(),
        })
    }

    fn parse_server_package(&self, body: &[u8]) -> Option<ServerPackage> {
        // The envelope only ({"CMD": [[string, ...], ...]}): a command with a wrong name or
        // wrong parameters is still a command the server sent, judged by its item's checks.
        let doc: Value = serde_json::from_slice(body).ok()?;
        let commands: Commands = doc
            .get("CMD")?
            .as_array()?
            .iter()
            .map(|c| c.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
            .collect::<Option<_>>()?;
        if commands.iter().any(Vec::is_empty) {
            return None;
        }
        // In the digest's parameter order, as cases write commands (the profile's on the wire).
        let commands: Commands = commands.iter().map(|c| self.profile.reorder(c)).collect();
        let named = |c: &Vec<String>, n: &str| c.first().map(String::as_str) == Some(n);
        // Only a CONT naming an HTTP URI can move the session; a malformed one is left to the checks.
        let continue_at = commands.iter().rev().find_map(|c| {
            (named(c, "CONT") && c.len() == 2)
                .then(|| c[1].clone())
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        });
        Some(ServerPackage { ends_session: commands.iter().any(|c| named(c, "END")), continue_at, commands })
    }

    fn reply_status_codes(&self, body: &[u8]) -> Vec<i64> {
        let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        doc.get("Status")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.get("sc").and_then(Value::as_i64)).collect())
            .unwrap_or_default()
    }

    fn decode_notification(&self, bytes: &[u8]) -> Result<Value, DecodeError> {
        let n = Notification::decode(bytes).map_err(|e| DecodeError {
            offset: e.offset,
            expected: e.expected.clone(),
            found: e.found.clone(),
        })?;
        // The same JSON `dmcts notification decode` prints (the digest is judged by its own check),
        // plus the NOTIFICATION-ID on its own: `fields` is null when any option is malformed, and
        // a notified device echoes the id whatever the other options are.
        let mut view = wire::cli::decode_cli(&hex::encode(bytes), None, None, &self.profile).unwrap_or(Value::Null);
        let id = n
            .option(n0::OPT_NOTIFICATION_ID)
            .filter(|o| o.value.len() == 2)
            .map(|o| u16::from_be_bytes([o.value[0], o.value[1]]));
        if let Some(obj) = view.as_object_mut() {
            obj.insert("notification_id".into(), json!(id));
        }
        Ok(view)
    }

    fn inbound_message_name(&self, endpoint: &str, in_session: bool) -> Option<String> {
        match endpoint {
            // A session's first message; after a Package#2 without END, the client's answer to it.
            "dm" if in_session => Some("Package#3".into()),
            "dm" => Some("Package#1".into()),
            // Where a CONT moved the session: the Package#3 goes on there.
            "cont" => Some("Package#3".into()),
            // An EXEC's final result: a new session to the EXEC's ServerURI.
            "async" => Some("Package#1".into()),
            "notify" => Some("Package#0".into()),
            // Downloads, uploads and browser requests are plain HTTP, no DM package.
            _ => None,
        }
    }

    fn client_message_name(&self, message: ClientMessage) -> Option<String> {
        Some(match message {
            ClientMessage::Open => "Package#1".into(),
            ClientMessage::Reply => "Package#3".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn open(notification: Option<Value>, objects: Vec<Value>, profile: Profile) -> Result<Value, String> {
        let none = BTreeMap::new();
        let no_members = BTreeMap::new();
        let out = Dm2::new(profile).client_message(ClientSpec {
            message: ClientMessage::Open,
            body: None,
            auto_status: None,
            status_for: &none,
            status_members: &no_members,
            alerts: vec![],
            notification,
            objects,
            last_commands: None,
            dev_id: "IMEI:1",
            to: "http://127.0.0.1:1/dm",
            credentials: None,
            options: &Value::Null,
        })?;
        Ok(serde_json::from_slice(&out.body).unwrap())
    }

    #[test]
    fn status_members_join_the_statuses_of_their_commands() {
        let none = BTreeMap::new();
        let members: BTreeMap<String, Value> =
            [("HGET".to_string(), json!({ "URI": ["urn:oma:mo:x:1.0/i1/"] }))].into();
        let last = vec![
            vec!["HGET".to_string(), "http://repo/a".into()],
            vec!["CONT".into(), "http://dm/2".into()],
            vec!["HGET".into(), "http://repo/b".into(), "urn:oma:mo:x:1.0/i0/A".into()],
        ];
        let out = Dm2::default()
            .client_message(ClientSpec {
                message: ClientMessage::Reply,
                body: None,
                auto_status: Some(200),
                status_for: &none,
                status_members: &members,
                alerts: vec![],
                notification: None,
                objects: vec![],
                last_commands: Some(&last),
                dev_id: "IMEI:1",
                to: "http://127.0.0.1:1/dm",
                credentials: None,
                options: &Value::Null,
            })
            .unwrap();
        let p3: Value = serde_json::from_slice(&out.body).unwrap();
        let uri = json!({ "sc": 200, "URI": ["urn:oma:mo:x:1.0/i1/"] });
        assert_eq!(p3, json!({ "Status": [uri.clone(), { "sc": 200 }, uri] }));
    }

    #[test]
    fn a_notified_device_opens_with_server_initiated_mgmt_echoing_the_id() {
        let noti = json!({ "notification_id": 4660, "fields": { "notification_id": 4660, "req_mos": true } });
        let mos = json!({ "MOID": "urn:oma:mo:oma-dm-devinfo:1.0", "MIID": ["d0"] });
        let p1 = open(Some(noti.clone()), vec![mos.clone()], Profile::default()).unwrap();
        assert_eq!(
            p1,
            json!({ "MOS": [mos], "Alert": [{ "AlertType": wire::ALERT_SERVER_INITIATED, "DataType": "int", "Data": { "NOTIFICATION-ID": 4660 } }] })
        );
        // The placement follows the profile (UNVERIFIED, digest §10).
        let other = Profile { notification_id_key: "id".into(), ..Profile::default() };
        assert_eq!(open(Some(noti), vec![], other).unwrap()["Alert"][0]["Data"], json!({ "id": 4660 }));
        // Without a notification: client-initiated, no MOS unless given.
        assert_eq!(
            open(None, vec![], Profile::default()).unwrap(),
            json!({ "Alert": [{ "AlertType": wire::ALERT_CLIENT_INITIATED }] })
        );
        // A notification without a NOTIFICATION-ID cannot be answered: a case defect, said so.
        let e = open(Some(json!({ "fields": null, "notification_id": null })), vec![], Profile::default()).unwrap_err();
        assert!(e.contains("NOTIFICATION-ID"), "{e}");
    }
}
