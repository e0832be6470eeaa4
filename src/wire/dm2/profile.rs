//! The DM 2.0 profile: every point the spec digest marks UNVERIFIED, as a named setting with the
//! digest's proposed default. Checks that depend on a setting say so in their failure message.
use serde::{Deserialize, Serialize};

/// Order of the SHA256-DIGEST input (digest §4.4; UNVERIFIED, default as source S1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DigestOrder {
    /// SHA-256(secret ‖ notification-with-zero-digest ‖ auth-data)
    #[default]
    SecretMessageAuth,
    /// SHA-256(auth-data ‖ notification-with-zero-digest ‖ secret)
    AuthMessageSecret,
}

impl DigestOrder {
    /// The other input order.
    pub fn other(self) -> DigestOrder {
        match self {
            DigestOrder::SecretMessageAuth => DigestOrder::AuthMessageSecret,
            DigestOrder::AuthMessageSecret => DigestOrder::SecretMessageAuth,
        }
    }

    /// The value as written in a profile file (`digest_order = "..."`).
    pub fn setting(self) -> &'static str {
        match self {
            DigestOrder::SecretMessageAuth => "secret-message-auth",
            DigestOrder::AuthMessageSecret => "auth-message-secret",
        }
    }
}

/// What a client does with a notification that carries no digest although the account has
/// notification credentials (digest §21 q7; UNVERIFIED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MissingDigestPolicy {
    #[default]
    Ignore,
    Accept,
}

/// What the checks of a server IUT's notification make of an option number outside the
/// registry (digest §4.3 and §21 q5; UNVERIFIED: "a receiver ignores unknown options").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownOptions {
    /// Not a defect: receivers ignore it, and nothing forbids a server to send one.
    #[default]
    Ignore,
    /// A DM-PACK-002-S-M defect: only the registry's options 1..6 may be sent.
    Reject,
}

/// The body format of HPUT/HPOST uploads (digest §8.2: "presumably the MO serialization
/// array (§13.4), one element per ClientURI"; UNVERIFIED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UploadBody {
    /// A non-empty MO serialization array (the digest's proposal).
    #[default]
    MoSerialization,
    /// Any non-empty body: the format is not judged.
    Any,
}

/// Whether the "/" after mo-inst is required in a ClientURI with an empty path
/// (`urn:x:1.0/i1/` vs `urn:x:1.0/i1`; digest §12.2, §21 q28: the examples always have it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceSlash {
    /// Required (the digest's default).
    #[default]
    Required,
    /// `MOID/mo-inst` without it addresses the instance root too.
    Optional,
}

/// The order of EXEC's parameters (digest §7, §21 q12; UNVERIFIED: S1 names them, not their
/// order). Cases write `["EXEC", ClientURI, ServerURI?]`; the binding sends and reads this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ExecParameterOrder {
    /// `["EXEC", ClientURI, ServerURI?]` (the digest's default).
    #[default]
    ClientUriFirst,
    /// `["EXEC", ServerURI, ClientURI]` when a ServerURI is given (`["EXEC", ClientURI]` without).
    ServerUriFirst,
}

/// The order of DEFAULT's parameters (digest §7, §21 q12; "Order UNVERIFIED"). Cases write
/// `["DEFAULT", MOID, ServerURI]`; the binding sends and reads this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultParameterOrder {
    /// `["DEFAULT", MOID, ServerURI]` (the digest's default).
    #[default]
    MoidFirst,
    /// `["DEFAULT", ServerURI, MOID]`.
    ServerUriFirst,
}

/// How the SourceURI of an asynchronous EXEC result must name the executed node. Certain
/// (seed, Change 4): an alert related to an MO has a SourceURI that MUST identify the address to
/// the MO. The exact form is not (digest §19.6 shows the EXEC's ClientURI as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ExecResultSourceUri {
    /// The EXEC's ClientURI exactly as the suite sent it (the digest's example).
    #[default]
    Exact,
    /// A well-formed ClientURI of the executed node's MOID.
    SameMoid,
}

/// How the Data of an SCOMO result alert carries the ResultCode in DM 2.0 (UNVERIFIED, digest
/// §1.3 and open question 10: the DM 2.0 TS example wraps the DM 1.x payload under "DM1x").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ScomoResultData {
    /// `DataType: "text/xml"`, `Data: {"DM1x": "<ResultCode>1200</ResultCode><Identifier>…</Identifier>"}`
    /// (the DM 2.0 TS example, digest §3.9).
    #[default]
    Dm1x,
    /// `DataType: "application/json"`, `Data: {"ResultCode": 1200, "Identifier": "…"}`.
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Name of the profile, echoed in reports ("2016-A" is the digest's default).
    pub name: String,
    /// VER header value of Package#0 (settled by the seed: 0x02).
    pub notification_version: u8,
    /// Option header: 4-bit delta and 4-bit length in one byte, length 15 means one extension
    /// byte follows (UNVERIFIED, digest §4.2). The only encoding implemented so far.
    pub option_length_extension: bool,
    pub digest_order: DigestOrder,
    pub missing_digest: MissingDigestPolicy,
    /// TIMESTAMP width the sender emits, in bytes (UNVERIFIED: 4; receivers accept 4 or 8).
    pub timestamp_bytes: u8,
    /// Accepted TIMESTAMP skew, seconds (UNVERIFIED: ±300).
    pub timestamp_window_s: u64,
    /// Key of the Data object carrying NOTIFICATION-ID in the ServerInitiatedMgmt alert
    /// (UNVERIFIED: `Data: {"NOTIFICATION-ID": n}`).
    pub notification_id_key: String,
    /// Member of a GET status entry carrying the returned data (UNVERIFIED: "MOS").
    pub get_data_member: String,
    /// Media type of MO serialization bodies (HGET/HPUT/HPOST) (UNVERIFIED: application/json).
    pub mo_media_type: String,
    /// Media type used when delivering Package#0 over HTTP (UNVERIFIED placeholder).
    pub notification_media_type: String,
    /// Commands that get no status entry in Package#3 (UNVERIFIED, digest §21 q13: every
    /// command but END gets one, so the default is empty; e.g. `["CONT"]` for a client that
    /// gives CONT none).
    pub commands_without_status: Vec<String>,
    /// AlertType of the Generic Alert carrying an asynchronous EXEC result (UNVERIFIED, digest
    /// §11: MO-specific). The suite sends it as DM client; a server must recognise it.
    pub exec_result_alert_type: String,
    /// Whether the RESERVED bits of a server's Package#0 must be 0 (UNVERIFIED, digest §4.2 and
    /// §21 q3: senders set 0, receivers ignore them); false: any value is accepted.
    pub notification_reserved_zero: bool,
    /// Option numbers outside the registry in a server's Package#0 (UNVERIFIED, digest §4.3
    /// and §21 q5).
    pub notification_unknown_options: UnknownOptions,
    /// Longest SERVER-ID a server's Package#0 may carry, in bytes (UNVERIFIED, digest §4.3 and
    /// §21 q4: 1..255; DM 1.3 allowed 256). An empty SERVER-ID names no server and is always a
    /// defect.
    pub server_id_max_bytes: u16,
    /// TIMESTAMP widths, in bytes, accepted in a server's Package#0 (UNVERIFIED, digest §4.3 and
    /// §21 q4: senders emit 4 bytes of seconds, receivers accept 4 or 8).
    pub timestamp_widths: Vec<u8>,
    /// SCR items whose *inferred* judgements (a check or step the case marks `inferred`: it
    /// rests on an inference, not on a sentence of the spec) are informational: a failure is
    /// recorded and shown but changes no verdict. `"*"` for every inferred judgement. Default
    /// empty: inferred judgements count.
    pub informational: Vec<String>,
    /// HPUT/HPOST body format (UNVERIFIED, digest §8.2).
    pub upload_body: UploadBody,
    /// The "/" after mo-inst in a ClientURI with an empty path (UNVERIFIED, digest §21 q28).
    pub client_uri_instance_slash: InstanceSlash,
    /// EXEC's parameter order on the wire (UNVERIFIED, digest §21 q12).
    pub exec_parameter_order: ExecParameterOrder,
    /// DEFAULT's parameter order on the wire (UNVERIFIED, digest §21 q12).
    pub default_parameter_order: DefaultParameterOrder,
    /// How an asynchronous EXEC result's SourceURI names the executed node (digest §19.6).
    pub exec_result_source_uri: ExecResultSourceUri,
    /// The new session carrying an asynchronous EXEC result opens with ClientInitiatedMgmt as
    /// well (UNVERIFIED, digest §11: "propose: yes").
    pub exec_result_session_alert: bool,
    /// AlertType of an SCOMO operation result (digest §3.4: OMNA lists the root
    /// `urn:oma:at:scomo:1.0` and the type `OperationComplete`; whether DM 2.0 uses their
    /// concatenation unchanged is UNVERIFIED, open question 10).
    pub scomo_result_alert_type: String,
    /// How an SCOMO result alert's Data carries ResultCode and Identifier (UNVERIFIED, digest §1.3).
    pub scomo_result_data: ScomoResultData,
    /// Media type of SCOMO package data delivered by HGET into Inventory/Delivered/<x>/Data
    /// (UNVERIFIED, digest open question 10: the media type of a binary HGET).
    pub scomo_data_media_type: String,
    // ---- FUMO over DM 2.0 (src/wire/dm2/fumo.rs; enablers digest §2.8, all UNVERIFIED) ----
    /// AlertType of a FUMO Download result (digest §2.5.1, §2.8: the FUMO string, its DM 2.0
    /// form UNVERIFIED).
    pub fumo_alert_type_download: String,
    /// AlertType of a FUMO Update result.
    pub fumo_alert_type_update: String,
    /// AlertType of a FUMO DownloadAndUpdate result.
    pub fumo_alert_type_download_and_update: String,
    /// Member of the result alert's Data carrying the ResultCode (digest §2.8: `{"DM1x": 200}`,
    /// the TS's DCMO example; UNVERIFIED); empty: Data is the bare integer.
    pub fumo_result_code_member: String,
    /// Media type of the package data an HGET into `<x>/Update/PkgData` fetches (digest §2.8,
    /// dm2 q10: UNVERIFIED).
    pub fumo_pkgdata_media_type: String,
    /// How a test device's user answers the update prompt (digest §2.5.4; the DM 2.0 form of
    /// the server's UI alert is UNVERIFIED): `"upper-tester"`: the upper tester's
    /// `firmware.user-answer` sets the answer before the EXEC (docs/fumo-scomo.md).
    pub fumo_user_confirmation: String,
    // ---- GwMO over DM 2.0 (src/wire/dm2/gwmo.rs; enablers digest §4, UNVERIFIED) ----
    /// AlertType of the gateway's Image Ready alert (digest §4.2: OMNA root
    /// `urn:oma:at:oma-gwmo` and type `imageready:1.0`; the concatenated wire form is UNVERIFIED).
    pub gwmo_alert_type_image_ready: String,
    /// AlertType of the gateway's Fanout alert carrying the aggregated results (digest §4.2:
    /// `resultaggregation:1.0`; the seed's "Response Aggregation Alert"; UNVERIFIED).
    pub gwmo_alert_type_aggregation: String,
    /// How DMCommands are written in a Fanout instance (digest §4.4, open question 7; the seeds
    /// write SyncML): `"dm2-json"`, the Package#2 `CMD` form (docs/gwmo.md).
    pub gwmo_dmcommands_form: super::gwmo::DmCommandsForm,
    /// The settings of the SyncML DM 1.2 binding (`[profile.dm12]`, docs/dm12.md).
    pub dm12: crate::wire::dm12::profile::Profile,
}

impl Profile {
    /// Whether a command (its name) gets a status entry in Package#3 under this profile.
    pub fn has_status(&self, command: &str) -> bool {
        command != "END" && !self.commands_without_status.iter().any(|c| c == command)
    }

    /// A command array between the digest's parameter order (what cases write and
    /// [`super::Command`] models) and this profile's order on the wire. The orders differ only
    /// by swapping EXEC's or DEFAULT's two parameters, so the same call converts either way.
    pub fn reorder(&self, command: &[String]) -> Vec<String> {
        let swap = match command.first().map(String::as_str) {
            Some("EXEC") => self.exec_parameter_order == ExecParameterOrder::ServerUriFirst,
            Some("DEFAULT") => self.default_parameter_order == DefaultParameterOrder::ServerUriFirst,
            _ => false,
        };
        let mut out = command.to_vec();
        if swap && out.len() == 3 {
            out.swap(1, 2);
        }
        out
    }

    /// For a failure after a Package#2 with EXEC (two parameters) or DEFAULT: the parameter
    /// order the suite sent, a setting of this profile (UNVERIFIED, digest §21 q12).
    pub fn parameter_order_note(&self, commands: &[Vec<String>]) -> Option<String> {
        let two = |name: &str| commands.iter().any(|c| c.first().map(String::as_str) == Some(name) && c.len() == 3);
        let mut parts = Vec::new();
        if two("EXEC") {
            parts.push(format!("exec_parameter_order = {:?}", setting(&self.exec_parameter_order)));
        }
        if two("DEFAULT") {
            parts.push(format!("default_parameter_order = {:?}", setting(&self.default_parameter_order)));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "the parameter order of EXEC and DEFAULT is UNVERIFIED in the spec digest (§21 q12); the suite sent \
                 them per profile setting {}",
                parts.join(", ")
            )
        })
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "2016-A".into(),
            notification_version: 0x02,
            option_length_extension: true,
            digest_order: DigestOrder::SecretMessageAuth,
            missing_digest: MissingDigestPolicy::Ignore,
            timestamp_bytes: 4,
            timestamp_window_s: 300,
            notification_id_key: "NOTIFICATION-ID".into(),
            get_data_member: "MOS".into(),
            mo_media_type: "application/json".into(),
            notification_media_type: "application/vnd.oma.dm.notification".into(),
            commands_without_status: Vec::new(),
            exec_result_alert_type: "urn:oma:at:fumo:1.0:DownloadAndUpdate".into(),
            notification_reserved_zero: true,
            notification_unknown_options: UnknownOptions::Ignore,
            server_id_max_bytes: 255,
            timestamp_widths: vec![4, 8],
            informational: Vec::new(),
            upload_body: UploadBody::MoSerialization,
            client_uri_instance_slash: InstanceSlash::Required,
            exec_parameter_order: ExecParameterOrder::ClientUriFirst,
            default_parameter_order: DefaultParameterOrder::MoidFirst,
            exec_result_source_uri: ExecResultSourceUri::Exact,
            exec_result_session_alert: true,
            scomo_result_alert_type: "urn:oma:at:scomo:1.0:OperationComplete".into(),
            scomo_result_data: ScomoResultData::Dm1x,
            scomo_data_media_type: "application/octet-stream".into(),
            fumo_alert_type_download: super::fumo::Operation::Download.oma_alert_type().into(),
            fumo_alert_type_update: super::fumo::Operation::Update.oma_alert_type().into(),
            fumo_alert_type_download_and_update: super::fumo::Operation::DownloadAndUpdate.oma_alert_type().into(),
            fumo_result_code_member: "DM1x".into(),
            fumo_pkgdata_media_type: "application/octet-stream".into(),
            fumo_user_confirmation: "upper-tester".into(),
            gwmo_alert_type_image_ready: "urn:oma:at:oma-gwmo:imageready:1.0".into(),
            gwmo_alert_type_aggregation: "urn:oma:at:oma-gwmo:resultaggregation:1.0".into(),
            gwmo_dmcommands_form: Default::default(),
            dm12: Default::default(),
        }
    }
}

/// A setting's value as a profile file writes it (`"client-uri-first"`).
pub fn setting<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reorder_swaps_exec_and_default_parameters_both_ways_as_the_profile_says() {
        let exec = cmd(&["EXEC", "urn:x:1.0/i/Op", "http://s/a"]);
        let default = cmd(&["DEFAULT", "urn:x:1.0", "http://s/c"]);
        let p = Profile::default();
        assert_eq!(p.reorder(&exec), exec);
        assert_eq!(p.reorder(&default), default);
        let swapped = Profile {
            exec_parameter_order: ExecParameterOrder::ServerUriFirst,
            default_parameter_order: DefaultParameterOrder::ServerUriFirst,
            ..Profile::default()
        };
        assert_eq!(swapped.reorder(&exec), cmd(&["EXEC", "http://s/a", "urn:x:1.0/i/Op"]));
        assert_eq!(swapped.reorder(&swapped.reorder(&exec)), exec);
        assert_eq!(swapped.reorder(&default), cmd(&["DEFAULT", "http://s/c", "urn:x:1.0"]));
        // Without a ServerURI EXEC has one parameter: nothing to order.
        assert_eq!(swapped.reorder(&cmd(&["EXEC", "urn:x:1.0/i/Op"])), cmd(&["EXEC", "urn:x:1.0/i/Op"]));
        assert_eq!(swapped.reorder(&cmd(&["HPUT", "a", "b"])), cmd(&["HPUT", "a", "b"]));
        let note = p.parameter_order_note(std::slice::from_ref(&exec)).unwrap();
        assert!(note.contains("UNVERIFIED") && note.contains("exec_parameter_order = \"client-uri-first\""), "{note}");
        assert!(p.parameter_order_note(&[cmd(&["EXEC", "u"])]).is_none());
    }

    #[test]
    fn new_settings_read_from_a_profile_table() {
        let p: Profile = toml::from_str(
            "upload_body = \"any\"\nclient_uri_instance_slash = \"optional\"\nexec_parameter_order = \"server-uri-first\"\n\
             default_parameter_order = \"server-uri-first\"\nexec_result_source_uri = \"same-moid\"\n\
             exec_result_session_alert = false\ninformational = [\"*\"]",
        )
        .unwrap();
        assert_eq!(p.upload_body, UploadBody::Any);
        assert_eq!(p.client_uri_instance_slash, InstanceSlash::Optional);
        assert_eq!(p.exec_result_source_uri, ExecResultSourceUri::SameMoid);
        assert!(!p.exec_result_session_alert);
        assert!(toml::from_str::<Profile>("upload_body = \"xml\"").is_err());
    }
}
