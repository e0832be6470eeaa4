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
    /// SCR items whose *inferred* judgements (a check or step the case marks `inferred`: it
    /// rests on an inference, not on a sentence of the spec) are informational: a failure is
    /// recorded and shown but changes no verdict. `"*"` for every inferred judgement. Default
    /// empty: inferred judgements count.
    pub informational: Vec<String>,
}

impl Profile {
    /// Whether a command (its name) gets a status entry in Package#3 under this profile.
    pub fn has_status(&self, command: &str) -> bool {
        command != "END" && !self.commands_without_status.iter().any(|c| c == command)
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
            informational: Vec::new(),
        }
    }
}
