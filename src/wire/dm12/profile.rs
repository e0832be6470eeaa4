//! The DM 1.2 profile: the points the digest leaves UNVERIFIED (§14.4) or where real products
//! differ from the text (§13), as settings of the ICS's `[profile.dm12]` table. Each default is
//! the digest's proposal; a check that follows one says so in its failure.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// The authentication scheme the suite demands as DM server and answers with as DM client
    /// (`syncml:auth-md5`, or `syncml:auth-basic`), digest §8.
    pub auth_type: String,
    /// How the nonce of an md5 digest is taken from `NextNonce` (digest §8.3, §14.4
    /// `md5_nonce_decoding`, UNVERIFIED): `"base64"` (decode it; the default) or `"raw"` (its text).
    pub md5_nonce_decoding: String,
    /// The form of the SessionID of a notified session (digest §9.5, §14.4 `session_id_form`):
    /// `"upper-hex"` (the default: upper-case hex without leading zeros) or `"decimal"` (MSD).
    pub session_id_form: String,
    /// The codes a client may give the SyncHdr Status of a message after authentication
    /// (digest §14.4 `later_header_status`): 200 or 212.
    pub later_header_status: Vec<u16>,
    /// The codes that answer a command the receiver does not know (digest §14.4
    /// `unknown_command_status`, DERIVED): 400, 406 or 501.
    pub unknown_command_status: Vec<u16>,
    /// Accept the SyncML DS media types (`application/vnd.syncml+xml`, `+wbxml`) for a DM message
    /// (digest §13, §14.4 `accept_ds_media_types`: the default is not to: DM 1.2 names its own).
    pub accept_ds_media_types: bool,
    /// How long the suite waits for a message that must not come (digest §14.4
    /// `session_end_grace_s`), in milliseconds.
    pub session_end_grace_ms: u64,
    /// The nonce of a Package#0 digest when the client has none from the server (digest §9.3,
    /// §14.4 `resync_nonce_bytes`), as hex bytes.
    pub notification_nonce_hex: String,
    /// Meta Format values compare without regard to case (`Chr` = `chr`; digest §13 H6, §14.4
    /// `format_case_insensitive`: accept).
    pub format_case_insensitive: bool,
    /// The MAC of `x-syncml-hmac` the suite computes and accepts (digest §8.6, §13 W6, §14.4
    /// `hmac_variant`): `"t-sec"` (the default: OMA-TS-DM_Security's one plain MD5) or
    /// `"rfc2104"` (RFC 2104 HMAC-MD5, as some servers compute it).
    pub hmac_variant: super::auth::HmacVariant,
    /// The MaxMsgSize the suite announces in its SyncHdr Meta (bytes).
    pub max_msg_size: u32,
    /// The SCR items whose inferred judgements are informational (as for DM 2.0).
    pub informational: Vec<String>,
    /// The Meta Type of a SCOMO result alert (enablers digest §3.4: OMNA's
    /// `urn:oma:at:scomo:1.0` + `OperationComplete`; that SyncML DM 1.2 carries the same string
    /// is UNVERIFIED, inferred from the DM 2.0 example).
    pub scomo_alert_type: String,
    /// Accept a FUMO result alert whose Type carries DM-Pro's namespace prefix
    /// (`Reversed-Domain-Name: org.openmobilealliance.dm.firmwareupdate.update`; enablers digest
    /// §2.5.2 "Form of the Type string": the bare string is expected, the prefixed form a
    /// profile variant).
    pub fumo_type_prefix_allowed: bool,
    /// The Meta Type of GwMO's Image Ready alert (enablers digest §4.2: OMNA's root
    /// `urn:oma:at:oma-gwmo` and type `imageready:1.0`; the concatenated wire form is UNVERIFIED).
    pub gwmo_alert_type_image_ready: String,
    /// The Meta Type of GwMO's Fanout alert carrying the aggregated results (digest §4.2:
    /// `resultaggregation:1.0`, the seed's "Response Aggregation Alert"; UNVERIFIED as above).
    pub gwmo_alert_type_aggregation: String,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            auth_type: super::auth::AUTH_MD5.into(),
            md5_nonce_decoding: "base64".into(),
            session_id_form: "upper-hex".into(),
            later_header_status: vec![200, 212],
            unknown_command_status: vec![400, 406, 501],
            accept_ds_media_types: false,
            session_end_grace_ms: 2000,
            notification_nonce_hex: "00000000".into(),
            format_case_insensitive: true,
            hmac_variant: super::auth::HmacVariant::TSec,
            max_msg_size: 65536,
            informational: Vec::new(),
            scomo_alert_type: "urn:oma:at:scomo:1.0:OperationComplete".into(),
            fumo_type_prefix_allowed: false,
            gwmo_alert_type_image_ready: "urn:oma:at:oma-gwmo:imageready:1.0".into(),
            gwmo_alert_type_aggregation: "urn:oma:at:oma-gwmo:resultaggregation:1.0".into(),
        }
    }
}

impl Profile {
    /// The nonce bytes an md5 digest uses for a `NextNonce` under this profile.
    pub fn nonce_of(&self, next_nonce: &str) -> Vec<u8> {
        match self.md5_nonce_decoding.as_str() {
            "raw" => next_nonce.as_bytes().to_vec(),
            _ => super::auth::decode_nonce(next_nonce).unwrap_or_else(|| next_nonce.as_bytes().to_vec()),
        }
    }

    /// The Package#0 nonce bytes.
    pub fn notification_nonce(&self) -> Vec<u8> {
        hex::decode(&self.notification_nonce_hex).unwrap_or_default()
    }

    /// A notified session's SessionID written from the Package#0 session id.
    pub fn session_id_text(&self, id: u16) -> String {
        match self.session_id_form.as_str() {
            "decimal" => id.to_string(),
            _ => format!("{id:X}"),
        }
    }
}
