//! Package#0: the DM 2.0 binary notification (digest §4).
//!
//! Layout (big-endian): VER (4 bits) · OC (5 bits) · RESERVED (7 bits), then OC options, each
//! a one-byte header (4-bit delta · 4-bit length; length 15 means one extension byte follows
//! and the length is 15 + that byte) and its value. The option header layout is UNVERIFIED in
//! the digest and is the profile's `option_length_extension` default.
//!
//! Decoding is structural and reports byte offsets; conformance judgements (VER value, OC
//! consistency, option order, sizes, digest) are separate functions so that a check can name
//! exactly what is wrong, and so peers can also build deliberately malformed variants.
use super::profile::{DigestOrder, Profile};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const OPT_SERVER_ID: u8 = 1;
pub const OPT_PREFERRED_CON_TYPE: u8 = 2;
pub const OPT_NOTIFICATION_ID: u8 = 3;
pub const OPT_SHA256_DIGEST: u8 = 4;
pub const OPT_TIMESTAMP: u8 = 5;
pub const OPT_REQ_MOS: u8 = 6;

pub fn option_name(n: u8) -> &'static str {
    match n {
        OPT_SERVER_ID => "SERVER-ID",
        OPT_PREFERRED_CON_TYPE => "PREFERRED-CON-TYPE",
        OPT_NOTIFICATION_ID => "NOTIFICATION-ID",
        OPT_SHA256_DIGEST => "SHA256-DIGEST",
        OPT_TIMESTAMP => "TIMESTAMP",
        OPT_REQ_MOS => "REQ-MOS",
        _ => "unknown",
    }
}

/// A decoding error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: expected {expected}, found {found}")]
pub struct NotificationError {
    pub offset: usize,
    pub expected: String,
    pub found: String,
}

impl NotificationError {
    fn new(offset: usize, expected: impl Into<String>, found: impl Into<String>) -> Self {
        NotificationError { offset, expected: expected.into(), found: found.into() }
    }
}

/// The notification credentials of one DM account (DMAcc `<x>/Auth/Noti/{Secret,Data}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotificationCredentials {
    pub secret: Vec<u8>,
    pub auth_data: Vec<u8>,
}

/// The fields a DM server puts in a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NotificationFields {
    pub server_id: String,
    /// PREFERRED-CON-TYPE (0 ANY_AVAILABLE, 1 CELLULAR, 2 WLAN, 3 WIRELINE).
    pub preferred_con_type: Option<u8>,
    pub notification_id: Option<u16>,
    /// TIMESTAMP, POSIX seconds.
    pub timestamp: Option<u64>,
    pub req_mos: bool,
    /// Whether the SHA256-DIGEST option is present (computed when credentials are given).
    pub digest: bool,
}

/// Deliberate faults for negative cases. Each isolates one defect: the digest is recomputed
/// after the tampering unless the digest itself is the defect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tamper {
    /// One bit of the SHA256-DIGEST value flipped.
    WrongDigest,
    /// VER set to another value.
    WrongVersion(u8),
    /// OC one more than the options present.
    OcMismatch,
    /// The first two options emitted in decreasing number order (the second's delta wraps,
    /// which no conformant decoder can read as ascending).
    OptionsOutOfOrder,
}

/// One decoded option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodedOption {
    pub number: u8,
    /// Offset of the option header byte.
    pub offset: usize,
    /// Offset of the value.
    pub value_offset: usize,
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

/// A structurally decoded notification (no conformance judgement yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub version: u8,
    pub option_count: u8,
    pub reserved: u8,
    pub options: Vec<DecodedOption>,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

fn push_option(out: &mut Vec<u8>, delta: u8, value: &[u8]) {
    let len = value.len();
    assert!(len <= 15 + 255, "option value too long for the one-byte length extension");
    if len < 15 {
        out.push((delta << 4) | len as u8);
    } else {
        out.push((delta << 4) | 0x0f);
        out.push((len - 15) as u8);
    }
    out.extend_from_slice(value);
}

/// Builds the option list (number, value) from the fields, in ascending order.
fn options_of(fields: &NotificationFields, profile: &Profile) -> Vec<(u8, Vec<u8>)> {
    let mut opts = vec![(OPT_SERVER_ID, fields.server_id.as_bytes().to_vec())];
    if let Some(p) = fields.preferred_con_type {
        opts.push((OPT_PREFERRED_CON_TYPE, vec![p]));
    }
    if let Some(id) = fields.notification_id {
        opts.push((OPT_NOTIFICATION_ID, id.to_be_bytes().to_vec()));
    }
    if fields.digest {
        opts.push((OPT_SHA256_DIGEST, vec![0u8; 32]));
    }
    if let Some(ts) = fields.timestamp {
        let bytes = ts.to_be_bytes();
        let w = profile.timestamp_bytes.clamp(1, 8) as usize;
        opts.push((OPT_TIMESTAMP, bytes[8 - w..].to_vec()));
    }
    if fields.req_mos {
        opts.push((OPT_REQ_MOS, vec![]));
    }
    opts
}

/// Serializes header + options. `version` and `oc` are written as given (tampering hooks).
fn serialize(version: u8, oc: u8, opts: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let header: u16 = ((version as u16 & 0x0f) << 12) | ((oc as u16 & 0x1f) << 7);
    let mut out = header.to_be_bytes().to_vec();
    let mut prev = 0u8;
    for (n, v) in opts {
        push_option(&mut out, n.wrapping_sub(prev) & 0x0f, v);
        prev = *n;
    }
    out
}

/// Computes SHA-256 over the digest input in the profile's order.
pub fn compute_digest(zeroed: &[u8], creds: &NotificationCredentials, order: DigestOrder) -> [u8; 32] {
    let mut h = Sha256::new();
    match order {
        DigestOrder::SecretMessageAuth => {
            h.update(&creds.secret);
            h.update(zeroed);
            h.update(&creds.auth_data);
        }
        DigestOrder::AuthMessageSecret => {
            h.update(&creds.auth_data);
            h.update(zeroed);
            h.update(&creds.secret);
        }
    }
    h.finalize().into()
}

/// Encodes a notification; when `fields.digest` is set and credentials are given, the digest
/// is computed over the message with a zero digest and written in place (digest §4.4).
pub fn encode(
    fields: &NotificationFields,
    creds: Option<&NotificationCredentials>,
    profile: &Profile,
    tamper: Option<&Tamper>,
) -> Vec<u8> {
    let mut opts = options_of(fields, profile);
    let mut version = profile.notification_version;
    let mut oc = opts.len() as u8;
    match tamper {
        Some(Tamper::WrongVersion(v)) => version = *v,
        Some(Tamper::OcMismatch) => oc += 1,
        Some(Tamper::OptionsOutOfOrder) if opts.len() >= 2 => opts.swap(0, 1),
        _ => {}
    }
    let mut bytes = serialize(version, oc, &opts);
    if let (true, Some(creds)) = (fields.digest, creds) {
        if let Ok(n) = Notification::decode_lenient(&bytes) {
            if let Some(o) = n.options.iter().find(|o| o.number == OPT_SHA256_DIGEST && o.value.len() == 32) {
                let d = compute_digest(&bytes, creds, profile.digest_order);
                bytes[o.value_offset..o.value_offset + 32].copy_from_slice(&d);
                if matches!(tamper, Some(Tamper::WrongDigest)) {
                    bytes[o.value_offset] ^= 0x01;
                }
            }
        }
    }
    bytes
}

impl Notification {
    /// Structural decode: header, then options until the end of the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Notification, NotificationError> {
        Self::decode_inner(bytes, true)
    }

    /// Like [`Notification::decode`] but accepts any delta (used internally when tampering).
    fn decode_lenient(bytes: &[u8]) -> Result<Notification, NotificationError> {
        Self::decode_inner(bytes, false)
    }

    fn decode_inner(bytes: &[u8], strict: bool) -> Result<Notification, NotificationError> {
        if bytes.len() < 2 {
            return Err(NotificationError::new(bytes.len(), "a 2-byte header", format!("{} byte(s)", bytes.len())));
        }
        let header = u16::from_be_bytes([bytes[0], bytes[1]]);
        let version = (header >> 12) as u8;
        let option_count = ((header >> 7) & 0x1f) as u8;
        let reserved = (header & 0x7f) as u8;
        let mut options = Vec::new();
        let mut i = 2;
        let mut number = 0u8;
        while i < bytes.len() {
            let offset = i;
            let b = bytes[i];
            let delta = b >> 4;
            let mut len = (b & 0x0f) as usize;
            i += 1;
            if strict && delta == 0x0f {
                return Err(NotificationError::new(offset, "an option delta below 15", "the reserved delta 15"));
            }
            if len == 15 {
                let ext =
                    *bytes.get(i).ok_or_else(|| NotificationError::new(i, "a length extension byte", "end of data"))?;
                len = 15 + ext as usize;
                i += 1;
            }
            if i + len > bytes.len() {
                return Err(NotificationError::new(
                    i,
                    format!("{len} value byte(s) for option {}", number.wrapping_add(delta)),
                    format!("{} byte(s) left", bytes.len() - i),
                ));
            }
            number = number.wrapping_add(delta);
            options.push(DecodedOption { number, offset, value_offset: i, value: bytes[i..i + len].to_vec() });
            i += len;
        }
        Ok(Notification { version, option_count, reserved, options, bytes: bytes.to_vec() })
    }

    pub fn option(&self, number: u8) -> Option<&DecodedOption> {
        self.options.iter().find(|o| o.number == number)
    }

    /// The typed fields, with size checks of the options whose sizes are known (digest §4.3).
    pub fn fields(&self) -> Result<NotificationFields, NotificationError> {
        let mut f = NotificationFields::default();
        let sid = self
            .option(OPT_SERVER_ID)
            .ok_or_else(|| NotificationError::new(2, "the mandatory SERVER-ID option", "none"))?;
        f.server_id = String::from_utf8(sid.value.clone())
            .map_err(|_| NotificationError::new(sid.value_offset, "a UTF-8 SERVER-ID", "invalid UTF-8"))?;
        if let Some(o) = self.option(OPT_PREFERRED_CON_TYPE) {
            if o.value.len() != 1 {
                return Err(NotificationError::new(
                    o.offset,
                    "a 1-byte PREFERRED-CON-TYPE",
                    format!("{} bytes", o.value.len()),
                ));
            }
            f.preferred_con_type = Some(o.value[0]);
        }
        if let Some(o) = self.option(OPT_NOTIFICATION_ID) {
            if o.value.len() != 2 {
                return Err(NotificationError::new(
                    o.offset,
                    "a 2-byte NOTIFICATION-ID",
                    format!("{} bytes", o.value.len()),
                ));
            }
            f.notification_id = Some(u16::from_be_bytes([o.value[0], o.value[1]]));
        }
        if let Some(o) = self.option(OPT_SHA256_DIGEST) {
            if o.value.len() != 32 {
                return Err(NotificationError::new(
                    o.offset,
                    "a 32-byte SHA256-DIGEST",
                    format!("{} bytes", o.value.len()),
                ));
            }
            f.digest = true;
        }
        if let Some(o) = self.option(OPT_TIMESTAMP) {
            if o.value.is_empty() || o.value.len() > 8 {
                return Err(NotificationError::new(
                    o.offset,
                    "a 1- to 8-byte TIMESTAMP",
                    format!("{} bytes", o.value.len()),
                ));
            }
            f.timestamp = Some(o.value.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64));
        }
        if let Some(o) = self.option(OPT_REQ_MOS) {
            if !o.value.is_empty() {
                return Err(NotificationError::new(
                    o.offset,
                    "an empty REQ-MOS value",
                    format!("{} bytes", o.value.len()),
                ));
            }
            f.req_mos = true;
        }
        Ok(f)
    }

    /// True when the options are in strictly increasing number order (no delta 0 after the first).
    pub fn options_ascending(&self) -> bool {
        self.options.windows(2).all(|w| w[1].number > w[0].number)
    }

    /// Verifies the SHA256-DIGEST: zero the 32 digest bytes, recompute, compare.
    /// `None` when the notification carries no (32-byte) digest.
    pub fn verify_digest(&self, creds: &NotificationCredentials, order: DigestOrder) -> Option<bool> {
        let o = self.option(OPT_SHA256_DIGEST).filter(|o| o.value.len() == 32)?;
        let mut zeroed = self.bytes.clone();
        zeroed[o.value_offset..o.value_offset + 32].fill(0);
        Some(compute_digest(&zeroed, creds, order)[..] == o.value[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest's test vector (dm2-protocol.md §19.1).
    #[test]
    fn reproduces_digest_test_vector() {
        let fields = NotificationFields {
            server_id: "dmsrv-01".into(),
            preferred_con_type: Some(0),
            notification_id: Some(0x1234),
            timestamp: Some(1_700_000_000),
            req_mos: true,
            digest: true,
        };
        let creds =
            NotificationCredentials { secret: b"test-noti-secret".to_vec(), auth_data: b"test-noti-authdata".to_vec() };
        let bytes = encode(&fields, Some(&creds), &Profile::default(), None);
        assert_eq!(
            hex::encode(&bytes),
            "230018646d7372762d303111001212341f117ed4fa666d6ac142728090d3e5c61b2e51661f1372e8165e336b5567a13eb0f8146553f10010"
        );
        let n = Notification::decode(&bytes).unwrap();
        assert_eq!(n.version, 2);
        assert_eq!(n.option_count, 6);
        assert_eq!(n.fields().unwrap(), fields);
        assert_eq!(n.verify_digest(&creds, DigestOrder::SecretMessageAuth), Some(true));
        let bad = encode(&fields, Some(&creds), &Profile::default(), Some(&Tamper::WrongDigest));
        assert_eq!(
            Notification::decode(&bad).unwrap().verify_digest(&creds, DigestOrder::SecretMessageAuth),
            Some(false)
        );
    }
}
