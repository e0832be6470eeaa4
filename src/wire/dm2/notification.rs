//! Package#0: the DM 2.0 binary notification (digest §4).
//!
//! Layout (big-endian): VER (4 bits) · OC (5 bits) · RESERVED (7 bits), then OC options, each
//! a one-byte header (4-bit delta · 4-bit length; length 15 means one extension byte follows
//! and the length is 15 + that byte) and its value. The option header layout is UNVERIFIED in
//! the digest and is the profile's `option_length_extension` default. Only the length nibble
//! 15 is special: every delta 0..=15 is a plain increment of the option number (digest §4.2).
//!
//! Decoding is structural and reports byte offsets; conformance judgements (VER value, OC
//! consistency, option order, sizes, digest) are separate functions so that a check can name
//! exactly what is wrong, and so peers can also build deliberately malformed variants.
use super::profile::{DigestOrder, Profile, UnknownOptions};
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
    pub fn new(offset: usize, expected: impl Into<String>, found: impl Into<String>) -> Self {
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
    /// Options not in strictly increasing number order. The 4-bit delta is unsigned, so the
    /// only such order the encoding can express is a repeated number (delta 0): the second
    /// option (PREFERRED-CON-TYPE when present) is written twice, and OC counts both.
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

/// Longest option value the one-byte length extension can express (15 + 255).
pub const MAX_OPTION_VALUE: usize = 15 + 255;

fn push_option(out: &mut Vec<u8>, delta: u8, value: &[u8]) {
    // Callers check the length first; clipping keeps this total even if one does not.
    let value = &value[..value.len().min(MAX_OPTION_VALUE)];
    let len = value.len();
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
/// Also returns the byte offset of each option's value, in `opts` order.
fn serialize(version: u8, oc: u8, opts: &[(u8, Vec<u8>)]) -> (Vec<u8>, Vec<usize>) {
    let header: u16 = ((version as u16 & 0x0f) << 12) | ((oc as u16 & 0x1f) << 7);
    let mut out = header.to_be_bytes().to_vec();
    let mut value_offsets = Vec::with_capacity(opts.len());
    let mut prev = 0u8;
    for (n, v) in opts {
        push_option(&mut out, n.wrapping_sub(prev) & 0x0f, v);
        value_offsets.push(out.len() - v.len().min(MAX_OPTION_VALUE));
        prev = *n;
    }
    (out, value_offsets)
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
/// A value longer than [`MAX_OPTION_VALUE`] bytes is clipped; [`try_encode`] reports it instead.
pub fn encode(
    fields: &NotificationFields,
    creds: Option<&NotificationCredentials>,
    profile: &Profile,
    tamper: Option<&Tamper>,
) -> Vec<u8> {
    let mut opts = options_of(fields, profile);
    if let Some(Tamper::OptionsOutOfOrder) = tamper {
        if let Some(i) = opts.len().min(2).checked_sub(1) {
            opts.insert(i + 1, opts[i].clone());
        }
    }
    let mut version = profile.notification_version;
    let mut oc = opts.len() as u8;
    match tamper {
        Some(Tamper::WrongVersion(v)) => version = *v,
        Some(Tamper::OcMismatch) => oc += 1,
        _ => {}
    }
    let (mut bytes, value_offsets) = serialize(version, oc, &opts);
    // The digest is located from what was written, not by decoding, so that it is correct
    // even when a tamper makes the message undecodable: each tamper stays one defect.
    let digest_at = opts.iter().position(|(n, _)| *n == OPT_SHA256_DIGEST).map(|i| value_offsets[i]);
    if let (true, Some(creds), Some(at)) = (fields.digest, creds, digest_at) {
        let d = compute_digest(&bytes, creds, profile.digest_order);
        bytes[at..at + 32].copy_from_slice(&d);
        if matches!(tamper, Some(Tamper::WrongDigest)) {
            bytes[at] ^= 0x01;
        }
    }
    bytes
}

/// Like [`encode`], but refuses a field too long for the option length encoding.
pub fn try_encode(
    fields: &NotificationFields,
    creds: Option<&NotificationCredentials>,
    profile: &Profile,
    tamper: Option<&Tamper>,
) -> Result<Vec<u8>, NotificationError> {
    if fields.server_id.len() > MAX_OPTION_VALUE {
        return Err(NotificationError::new(
            3,
            format!("a SERVER-ID of at most {MAX_OPTION_VALUE} bytes"),
            format!("{} bytes", fields.server_id.len()),
        ));
    }
    Ok(encode(fields, creds, profile, tamper))
}

/// Why a SHA256-DIGEST does or does not verify, so that a failure names the likely cause
/// rather than always the (UNVERIFIED) input order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "diagnosis", content = "order", rename_all = "kebab-case")]
pub enum DigestDiagnosis {
    /// Verifies with the credentials in the order asked for.
    Verified,
    /// Verifies only with the other input order (equivalently: with secret and auth data
    /// swapped): the profile's `digest_order` does not match the server.
    VerifiesWithOtherOrder(DigestOrder),
    /// Verifies with neither order: the server did not compute it from these credentials (or
    /// over these bytes).
    NoMatch,
    /// No 32-byte SHA256-DIGEST option to verify.
    Absent,
}

impl DigestDiagnosis {
    /// One sentence for a failure note or a report, naming what to look at.
    pub fn explain(self, order: DigestOrder) -> String {
        match self {
            DigestDiagnosis::Verified => {
                format!(
                    "the digest verifies with the registered secret and auth data (digest_order = {:?})",
                    order.setting()
                )
            }
            DigestDiagnosis::VerifiesWithOtherOrder(o) => format!(
                "the digest verifies only with the other input order (or with secret and auth data swapped): \
                 the input order is UNVERIFIED in the spec digest (§4.4); set profile digest_order = {:?}",
                o.setting()
            ),
            DigestDiagnosis::NoMatch => {
                "the digest verifies with neither input order: the server does not seem to use \
                                         the secret and auth data registered for this device"
                    .to_string()
            }
            DigestDiagnosis::Absent => "no 32-byte SHA256-DIGEST option".to_string(),
        }
    }
}

/// One conformance defect of a notification sent by a DM Server IUT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationProblem {
    /// Byte offset of the offending header byte, option header or value.
    pub offset: usize,
    /// The server-side SCR item it breaks (seed, DM-PACK-*-S-M).
    pub item: &'static str,
    pub message: String,
}

pub const SCR_PACKAGE0: &str = "DM-PACK-002-S-M";
pub const SCR_VER: &str = "DM-PACK-003-S-M";
pub const SCR_OC: &str = "DM-PACK-004-S-M";
pub const SCR_SERVER_ID: &str = "DM-PACK-005-S-M";
pub const SCR_PREFERRED_CON_TYPE: &str = "DM-PACK-006-S-M";
pub const SCR_NOTIFICATION_ID: &str = "DM-PACK-007-S-M";
pub const SCR_SHA256_DIGEST: &str = "DM-PACK-008-S-M";
pub const SCR_TIMESTAMP: &str = "DM-PACK-009-S-M";
pub const SCR_REQ_MOS: &str = "DM-PACK-010-S-M";

/// "4 or 8", "4", "none" — the accepted TIMESTAMP widths in words.
fn widths_text(widths: &[u8]) -> String {
    match widths {
        [] => "no width (the profile accepts none)".to_string(),
        [w] => w.to_string(),
        [init @ .., last] => {
            format!("{} or {last}", init.iter().map(u8::to_string).collect::<Vec<_>>().join(", "))
        }
    }
}

impl Notification {
    /// Structural decode: header, then options until the end of the bytes. Any delta (0..=15)
    /// is accepted; an option number above 255 (deltas summing past it) is an error.
    pub fn decode(bytes: &[u8]) -> Result<Notification, NotificationError> {
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
            let Some(next) = number.checked_add(delta) else {
                return Err(NotificationError::new(
                    offset,
                    "an option number up to 255",
                    format!("option {number} + delta {delta}"),
                ));
            };
            if len == 15 {
                let ext =
                    *bytes.get(i).ok_or_else(|| NotificationError::new(i, "a length extension byte", "end of data"))?;
                len = 15 + ext as usize;
                i += 1;
            }
            if i + len > bytes.len() {
                return Err(NotificationError::new(
                    i,
                    format!("{len} value byte(s) for option {next}"),
                    format!("{} byte(s) left", bytes.len() - i),
                ));
            }
            number = next;
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

    /// Conformance judgements a server-role check makes on a structurally decoded
    /// notification (digest §4.2–4.3, seed 5.2.1). Digest correctness needs the credentials:
    /// see [`Notification::verify_digest`]. Empty when the notification is conformant. The
    /// UNVERIFIED rules follow the profile: RESERVED bits (`notification_reserved_zero`), option
    /// numbers outside the registry (`notification_unknown_options`: by default not problems,
    /// receivers ignore them, digest §21 q5), SERVER-ID length (`server_id_max_bytes`),
    /// TIMESTAMP width (`timestamp_widths`).
    pub fn problems(&self, profile: &Profile) -> Vec<NotificationProblem> {
        let mut out = Vec::new();
        let mut p = |offset: usize, item: &'static str, message: String| {
            out.push(NotificationProblem { offset, item, message })
        };
        if self.version != profile.notification_version {
            p(0, SCR_VER, format!("VER is {}, the profile requires {}", self.version, profile.notification_version));
        }
        if self.option_count as usize != self.options.len() {
            p(0, SCR_OC, format!("OC is {} but {} option(s) follow", self.option_count, self.options.len()));
        }
        if self.reserved != 0 && profile.notification_reserved_zero {
            p(
                1,
                SCR_PACKAGE0,
                format!(
                    "RESERVED is {:#04x}, not 0 (UNVERIFIED, digest §4.2/§21 q3: senders set it to 0; profile \
                     setting notification_reserved_zero = true)",
                    self.reserved
                ),
            );
        }
        for w in self.options.windows(2) {
            if w[1].number <= w[0].number {
                p(
                    w[1].offset,
                    SCR_PACKAGE0,
                    format!(
                        "option {} ({}) follows option {}: options must be in strictly increasing number order",
                        w[1].number,
                        option_name(w[1].number),
                        w[0].number
                    ),
                );
            }
        }
        let server_ids: Vec<&DecodedOption> = self.options.iter().filter(|o| o.number == OPT_SERVER_ID).collect();
        match server_ids.as_slice() {
            [] => p(2, SCR_SERVER_ID, "the mandatory SERVER-ID option is missing".into()),
            [_] => {}
            [_, again, ..] => p(
                again.offset,
                SCR_SERVER_ID,
                format!(
                    "SERVER-ID appears {} times; exactly once expected (UNVERIFIED default, digest §21 q4)",
                    server_ids.len()
                ),
            ),
        }
        for o in &self.options {
            let len = o.value.len();
            match o.number {
                OPT_SERVER_ID => {
                    if std::str::from_utf8(&o.value).is_err() {
                        p(o.value_offset, SCR_SERVER_ID, "SERVER-ID is not UTF-8 (String format, digest §4.3)".into());
                    }
                    let max = profile.server_id_max_bytes as usize;
                    if len == 0 || len > max {
                        p(
                            o.offset,
                            SCR_SERVER_ID,
                            format!(
                                "SERVER-ID is {len} bytes; 1..{max} expected (UNVERIFIED, digest §4.3/§21 q4; \
                                 profile setting server_id_max_bytes = {max})"
                            ),
                        );
                    }
                }
                OPT_PREFERRED_CON_TYPE if len != 1 => p(
                    o.offset,
                    SCR_PREFERRED_CON_TYPE,
                    format!("PREFERRED-CON-TYPE is {len} bytes; 1 expected (UNVERIFIED default, digest §4.3)"),
                ),
                OPT_PREFERRED_CON_TYPE if o.value[0] > 3 => p(
                    o.value_offset,
                    SCR_PREFERRED_CON_TYPE,
                    format!("PREFERRED-CON-TYPE is {}; defined values are 0..3", o.value[0]),
                ),
                OPT_NOTIFICATION_ID if len != 2 => {
                    p(o.offset, SCR_NOTIFICATION_ID, format!("NOTIFICATION-ID is {len} bytes; it must be 2"))
                }
                OPT_SHA256_DIGEST if len != 32 => {
                    p(o.offset, SCR_SHA256_DIGEST, format!("SHA256-DIGEST is {len} bytes; it must be 32"))
                }
                OPT_TIMESTAMP if !profile.timestamp_widths.iter().any(|w| *w as usize == len) => p(
                    o.offset,
                    SCR_TIMESTAMP,
                    format!(
                        "TIMESTAMP is {len} bytes; {} expected (UNVERIFIED, digest §4.3/§21 q4; profile setting \
                         timestamp_widths = {:?})",
                        widths_text(&profile.timestamp_widths),
                        profile.timestamp_widths
                    ),
                ),
                OPT_REQ_MOS if len != 0 => {
                    p(o.offset, SCR_REQ_MOS, format!("REQ-MOS carries {len} value byte(s); it has no value"))
                }
                // An option number outside the registry (any delta may reach one) breaks no
                // rule by default: receivers ignore unknown options (digest §21 q5).
                n if !(OPT_SERVER_ID..=OPT_REQ_MOS).contains(&n)
                    && profile.notification_unknown_options == UnknownOptions::Reject =>
                {
                    p(
                        o.offset,
                        SCR_PACKAGE0,
                        format!(
                            "option {n} is outside the registry (1..6) (UNVERIFIED, digest §4.3/§21 q5: receivers \
                         ignore unknown options; profile setting notification_unknown_options = \"reject\")"
                        ),
                    )
                }
                _ => {}
            }
        }
        out
    }

    /// Verifies the SHA256-DIGEST: zero the 32 digest bytes, recompute, compare.
    /// `None` when the notification carries no (32-byte) digest.
    pub fn verify_digest(&self, creds: &NotificationCredentials, order: DigestOrder) -> Option<bool> {
        let o = self.option(OPT_SHA256_DIGEST).filter(|o| o.value.len() == 32)?;
        let mut zeroed = self.bytes.clone();
        zeroed[o.value_offset..o.value_offset + 32].fill(0);
        Some(compute_digest(&zeroed, creds, order)[..] == o.value[..])
    }

    /// Verifies the digest with `order` and, when that fails, with the other order, to tell
    /// a profile mismatch from credentials the server does not use.
    pub fn diagnose_digest(&self, creds: &NotificationCredentials, order: DigestOrder) -> DigestDiagnosis {
        match self.verify_digest(creds, order) {
            None => DigestDiagnosis::Absent,
            Some(true) => DigestDiagnosis::Verified,
            Some(false) if self.verify_digest(creds, order.other()) == Some(true) => {
                DigestDiagnosis::VerifiesWithOtherOrder(order.other())
            }
            Some(false) => DigestDiagnosis::NoMatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    fn creds() -> NotificationCredentials {
        NotificationCredentials { secret: b"s3cret".to_vec(), auth_data: b"auth".to_vec() }
    }

    fn full_fields() -> NotificationFields {
        NotificationFields {
            server_id: "dmsrv-01".into(),
            preferred_con_type: Some(1),
            notification_id: Some(7),
            timestamp: Some(1_700_000_000),
            req_mos: true,
            digest: true,
        }
    }

    fn items(bytes: &[u8]) -> Vec<(usize, &'static str)> {
        let n = Notification::decode(bytes).unwrap();
        n.problems(&Profile::default()).into_iter().map(|p| (p.offset, p.item)).collect()
    }

    #[test]
    fn conformant_notification_has_no_problems() {
        let b = encode(&full_fields(), Some(&creds()), &Profile::default(), None);
        assert_eq!(items(&b), vec![]);
    }

    /// Each Tamper variant isolates exactly one defect.
    #[test]
    fn tamper_wrong_digest_is_only_a_digest_mismatch() {
        let (p, c) = (Profile::default(), creds());
        let b = encode(&full_fields(), Some(&c), &p, Some(&Tamper::WrongDigest));
        let n = Notification::decode(&b).unwrap();
        assert_eq!(n.problems(&p), vec![]);
        assert_eq!(n.fields().unwrap(), full_fields());
        assert_eq!(n.verify_digest(&c, p.digest_order), Some(false));
    }

    #[test]
    fn tamper_wrong_version_is_only_ver() {
        let (p, c) = (Profile::default(), creds());
        let b = encode(&full_fields(), Some(&c), &p, Some(&Tamper::WrongVersion(5)));
        let n = Notification::decode(&b).unwrap();
        assert_eq!(n.problems(&p).iter().map(|x| (x.offset, x.item)).collect::<Vec<_>>(), vec![(0, SCR_VER)]);
        assert!(n.problems(&p)[0].message.contains("VER is 5"));
        assert_eq!(n.verify_digest(&c, p.digest_order), Some(true), "digest recomputed after tampering");
    }

    #[test]
    fn tamper_oc_mismatch_is_only_oc() {
        let (p, c) = (Profile::default(), creds());
        let b = encode(&full_fields(), Some(&c), &p, Some(&Tamper::OcMismatch));
        let n = Notification::decode(&b).unwrap();
        assert_eq!(n.problems(&p).iter().map(|x| (x.offset, x.item)).collect::<Vec<_>>(), vec![(0, SCR_OC)]);
        assert_eq!(n.verify_digest(&c, p.digest_order), Some(true), "digest recomputed after tampering");
    }

    #[test]
    fn tamper_options_out_of_order_is_only_a_repeated_number() {
        let (p, c) = (Profile::default(), creds());
        let b = encode(&full_fields(), Some(&c), &p, Some(&Tamper::OptionsOutOfOrder));
        // SERVER-ID (delta 1, 8 bytes) at byte 2; PREFERRED-CON-TYPE (delta 1) at 11, then again
        // with delta 0 at 13.
        assert_eq!(&b[11..15], &[0x11, 0x01, 0x01, 0x01]);
        let n = Notification::decode(&b).unwrap();
        assert_eq!(n.options.iter().map(|o| o.number).collect::<Vec<_>>(), [1, 2, 2, 3, 4, 5, 6]);
        assert_eq!(n.option_count as usize, n.options.len(), "OC counts the repeated option");
        assert!(!n.options_ascending());
        assert_eq!(n.problems(&p).iter().map(|x| (x.offset, x.item)).collect::<Vec<_>>(), vec![(13, SCR_PACKAGE0)]);
        assert_eq!(n.fields().unwrap(), full_fields());
        assert_eq!(n.verify_digest(&c, p.digest_order), Some(true), "digest computed over the tampered bytes");
        // With SERVER-ID alone, SERVER-ID is the option repeated.
        let f = NotificationFields { server_id: "s".into(), ..Default::default() };
        let n = Notification::decode(&encode(&f, None, &p, Some(&Tamper::OptionsOutOfOrder))).unwrap();
        assert_eq!(n.options.iter().map(|o| o.number).collect::<Vec<_>>(), [1, 1]);
    }

    /// Only the length nibble 15 is reserved (extension byte); a delta of 15 is an ordinary
    /// increment of the option number (digest §4.2), and the option it reaches is unknown,
    /// which a receiver ignores (§21 q5): no problem.
    #[test]
    fn option_delta_15_is_a_plain_increment() {
        let header = |oc: u16| ((2u16 << 12) | (oc << 7)).to_be_bytes();
        let sid = [0x18, b'd', b'm', b's', b'r', b'v', b'-', b'0', b'1'];
        // SERVER-ID, then delta 15 (option 16) with one value byte, then delta 15 with the
        // length extension (option 31, 15 + 1 bytes).
        let mut b = header(3).to_vec();
        b.extend_from_slice(&sid);
        b.extend_from_slice(&[0xf1, 0xaa, 0xff, 0x01]);
        b.extend_from_slice(&[0x55; 16]);
        let n = Notification::decode(&b).unwrap();
        let got: Vec<(u8, usize, usize)> = n.options.iter().map(|o| (o.number, o.offset, o.value.len())).collect();
        assert_eq!(got, [(1, 2, 8), (16, 11, 1), (31, 13, 16)]);
        assert_eq!(n.problems(&Profile::default()), vec![]);
        assert_eq!(n.fields().unwrap().server_id, "dmsrv-01");
        // A first option with delta 15 is option 15: decodable, but SERVER-ID is missing.
        let mut b = header(1).to_vec();
        b.push(0xf0);
        let n = Notification::decode(&b).unwrap();
        assert_eq!(n.options[0].number, 15);
        assert_eq!(n.problems(&Profile::default()).iter().map(|x| x.item).collect::<Vec<_>>(), [SCR_SERVER_ID]);
    }

    #[test]
    fn option_numbers_past_255_are_a_decode_error() {
        // Seventeen deltas of 15 reach option 255; one more overflows.
        let mut b = ((2u16 << 12) | (18 << 7)).to_be_bytes().to_vec();
        b.extend_from_slice(&[0xf0; 17]);
        assert_eq!(Notification::decode(&b).unwrap().options.last().unwrap().number, 255);
        b.push(0x10);
        let e = Notification::decode(&b).unwrap_err();
        assert_eq!(e.offset, 19, "{e}");
        assert!(e.expected.contains("up to 255"), "{e}");
    }

    #[test]
    fn digest_diagnosis_tells_order_from_credentials() {
        let (p, c) = (Profile::default(), creds());
        let sma = DigestOrder::SecretMessageAuth;
        let ama = DigestOrder::AuthMessageSecret;
        let n = |profile: &Profile, creds: &NotificationCredentials, t: Option<&Tamper>| {
            Notification::decode(&encode(&full_fields(), Some(creds), profile, t)).unwrap()
        };
        assert_eq!(n(&p, &c, None).diagnose_digest(&c, sma), DigestDiagnosis::Verified);
        // The server used the other order: verifies only with it, whichever order is asked.
        let other = Profile { digest_order: ama, ..Profile::default() };
        assert_eq!(n(&other, &c, None).diagnose_digest(&c, sma), DigestDiagnosis::VerifiesWithOtherOrder(ama));
        assert_eq!(n(&p, &c, None).diagnose_digest(&c, ama), DigestDiagnosis::VerifiesWithOtherOrder(sma));
        // Secret and auth data swapped is the same as the other order.
        let swapped = NotificationCredentials { secret: c.auth_data.clone(), auth_data: c.secret.clone() };
        assert_eq!(n(&p, &swapped, None).diagnose_digest(&c, sma), DigestDiagnosis::VerifiesWithOtherOrder(ama));
        // Credentials the server does not use, or a corrupted digest: neither order.
        let unused = NotificationCredentials { secret: b"other".to_vec(), auth_data: c.auth_data.clone() };
        assert_eq!(n(&p, &unused, None).diagnose_digest(&c, sma), DigestDiagnosis::NoMatch);
        assert_eq!(n(&p, &c, Some(&Tamper::WrongDigest)).diagnose_digest(&c, sma), DigestDiagnosis::NoMatch);
        let none = NotificationFields { digest: false, ..full_fields() };
        let b = encode(&none, Some(&c), &p, None);
        assert_eq!(Notification::decode(&b).unwrap().diagnose_digest(&c, sma), DigestDiagnosis::Absent);
        // The explanations name the cause.
        assert!(DigestDiagnosis::NoMatch.explain(sma).contains("neither input order"));
        assert!(DigestDiagnosis::NoMatch.explain(sma).contains("registered"));
        let hint = DigestDiagnosis::VerifiesWithOtherOrder(ama).explain(sma);
        assert!(hint.contains("digest_order = \"auth-message-secret\""), "{hint}");
        assert_eq!(
            serde_json::to_value(DigestDiagnosis::VerifiesWithOtherOrder(ama)).unwrap(),
            serde_json::json!({"diagnosis": "verifies-with-other-order", "order": "auth-message-secret"})
        );
    }

    type Expected = Vec<(usize, &'static str)>;

    /// Hand-built notifications, one defect each, with the SCR item and offset reported.
    #[test]
    fn each_problem_rule() {
        let sid = [0x18, b'd', b'm', b's', b'r', b'v', b'-', b'0', b'1'];
        let with = |oc: u8, rest: &[u8]| {
            let header: u16 = (2u16 << 12) | ((oc as u16) << 7);
            let mut b = header.to_be_bytes().to_vec();
            b.extend_from_slice(rest);
            b
        };
        let cat = |parts: &[&[u8]]| parts.concat();
        let cases: Vec<(Vec<u8>, Expected)> = vec![
            (with(1, &sid), vec![]),
            (
                {
                    let mut b = with(1, &sid);
                    b[1] |= 0x05;
                    b
                },
                vec![(1, SCR_PACKAGE0)],
            ),
            (with(0, &[]), vec![(2, SCR_SERVER_ID)]),
            (with(2, &cat(&[&sid, &[0x01, b'x']])), vec![(11, SCR_PACKAGE0), (11, SCR_SERVER_ID)]),
            (with(1, &[0x12, 0xff, 0xfe]), vec![(3, SCR_SERVER_ID)]),
            (with(1, &[0x10]), vec![(2, SCR_SERVER_ID)]),
            (with(2, &cat(&[&sid, &[0x12, 0, 0]])), vec![(11, SCR_PREFERRED_CON_TYPE)]),
            (with(2, &cat(&[&sid, &[0x11, 4]])), vec![(12, SCR_PREFERRED_CON_TYPE)]),
            (with(2, &cat(&[&sid, &[0x21, 7]])), vec![(11, SCR_NOTIFICATION_ID)]),
            (with(2, &cat(&[&sid, &[0x31, 7]])), vec![(11, SCR_SHA256_DIGEST)]),
            (with(2, &cat(&[&sid, &[0x42, 1, 2]])), vec![(11, SCR_TIMESTAMP)]),
            (with(2, &cat(&[&sid, &[0x48, 0, 0, 0, 0, 1, 2, 3, 4]])), vec![]),
            (with(2, &cat(&[&sid, &[0x51, 0]])), vec![(11, SCR_REQ_MOS)]),
            // Option numbers outside the registry are ignored by receivers: no problem.
            (with(2, &cat(&[&sid, &[0x60]])), vec![]),
            (with(2, &[0x00, 0x18, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h']), vec![]),
            (with(2, &cat(&[&sid, &[0xf0]])), vec![]),
        ];
        for (bytes, want) in cases {
            let n = Notification::decode(&bytes).unwrap();
            let got = n.problems(&Profile::default());
            let got_items: Vec<(usize, &str)> = got.iter().map(|p| (p.offset, p.item)).collect();
            assert_eq!(got_items, want, "{} -> {got:?}", hex::encode(&bytes));
        }
        let b = with(1, &[0x21, 0]);
        let msgs = Notification::decode(&b).unwrap().problems(&Profile::default());
        assert!(msgs.iter().any(|m| m.message.contains("SERVER-ID option is missing")));
        let mut b = with(1, &sid);
        b[1] |= 0x01;
        let m = &Notification::decode(&b).unwrap().problems(&Profile::default())[0].message;
        assert!(m.contains("UNVERIFIED"), "{m}");
    }

    /// The UNVERIFIED rules of `problems` follow the profile: each default (the digest's
    /// proposal) flags the defect, the other setting lets it pass, and the message names the
    /// setting.
    #[test]
    fn unverified_rules_are_profile_settings() {
        let header = |oc: u16, reserved: u16| ((2u16 << 12) | (oc << 7) | reserved).to_be_bytes();
        let sid = [0x18, b'd', b'm', b's', b'r', b'v', b'-', b'0', b'1'];
        let with = |oc: u16, reserved: u16, rest: &[u8]| {
            let mut b = header(oc, reserved).to_vec();
            b.extend_from_slice(&sid);
            b.extend_from_slice(rest);
            b
        };
        let judge = |bytes: &[u8], profile: &Profile| -> Vec<(usize, &'static str, String)> {
            let n = Notification::decode(bytes).unwrap();
            n.problems(profile).into_iter().map(|p| (p.offset, p.item, p.message)).collect()
        };
        let default = Profile::default();

        // RESERVED bits (§21 q3).
        let reserved = with(1, 0x22, &[]);
        let got = judge(&reserved, &default);
        assert_eq!(got.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), [(1, SCR_PACKAGE0)]);
        assert!(got[0].2.contains("notification_reserved_zero = true"), "{got:?}");
        let lenient = Profile { notification_reserved_zero: false, ..Profile::default() };
        assert_eq!(judge(&reserved, &lenient), []);

        // An option number outside the registry (§21 q5): ignored by default.
        let unknown = with(2, 0, &[0x60]);
        assert_eq!(judge(&unknown, &default), []);
        let strict = Profile { notification_unknown_options: UnknownOptions::Reject, ..Profile::default() };
        let got = judge(&unknown, &strict);
        assert_eq!(got.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), [(11, SCR_PACKAGE0)]);
        assert!(got[0].2.contains("option 7") && got[0].2.contains("notification_unknown_options"), "{got:?}");
        // Registry options are never "unknown".
        let known = with(2, 0, &[0x51, 0]);
        assert!(judge(&known, &strict).iter().all(|p| p.1 != SCR_PACKAGE0));

        // SERVER-ID length (§21 q4): 255 by default, 256 with DM 1.3's limit.
        let long = NotificationFields { server_id: "s".repeat(256), ..NotificationFields::default() };
        let bytes = encode(&long, None, &default, None);
        let got = judge(&bytes, &default);
        assert_eq!(got.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), [(2, SCR_SERVER_ID)]);
        assert!(got[0].2.contains("server_id_max_bytes = 255"), "{got:?}");
        let dm13 = Profile { server_id_max_bytes: 256, ..Profile::default() };
        assert_eq!(judge(&bytes, &dm13), []);
        // Empty is never a SERVER-ID.
        let empty = [header(1, 0).as_slice(), &[0x10]].concat();
        assert_eq!(judge(&empty, &dm13).iter().map(|p| p.1).collect::<Vec<_>>(), [SCR_SERVER_ID]);

        // TIMESTAMP width (§21 q4): 4 or 8 by default.
        let eight = with(2, 0, &[0x48, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0]);
        let six = with(2, 0, &[0x46, 0, 0, 0x65, 0x53, 0xf1, 0]);
        assert_eq!(judge(&eight, &default), []);
        let got = judge(&six, &default);
        assert_eq!(got.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), [(11, SCR_TIMESTAMP)]);
        assert!(got[0].2.contains("4 or 8 expected") && got[0].2.contains("timestamp_widths = [4, 8]"), "{got:?}");
        let four_only = Profile { timestamp_widths: vec![4], ..Profile::default() };
        assert_eq!(judge(&eight, &four_only).iter().map(|p| p.1).collect::<Vec<_>>(), [SCR_TIMESTAMP]);
        let any_six = Profile { timestamp_widths: vec![4, 6, 8], ..Profile::default() };
        assert_eq!(judge(&six, &any_six), []);
        assert!(judge(&eight, &four_only)[0].2.contains("4 expected"));
    }

    #[test]
    fn try_encode_refuses_oversized_server_id() {
        let f = NotificationFields { server_id: "x".repeat(271), ..Default::default() };
        assert_eq!(try_encode(&f, None, &Profile::default(), None).unwrap_err().offset, 3);
        assert_eq!(encode(&f, None, &Profile::default(), None).len(), 2 + 2 + MAX_OPTION_VALUE);
    }

    fn arb_fields(valid: bool) -> impl Strategy<Value = NotificationFields> {
        let sid = if valid { "[a-z0-9.-]{1,64}|\\PC{1,40}" } else { "\\PC{0,90}" };
        (
            proptest::string::string_regex(sid).unwrap(),
            proptest::option::of(if valid { 0u8..=3 } else { 0u8..=255 }),
            proptest::option::of(any::<u16>()),
            proptest::option::of(0u64..=u32::MAX as u64),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(server_id, preferred_con_type, notification_id, timestamp, req_mos, digest)| {
                NotificationFields { server_id, preferred_con_type, notification_id, timestamp, req_mos, digest }
            })
    }

    proptest! {
        #[test]
        fn encode_decode_fields_round_trips(f in arb_fields(false), with_creds in any::<bool>()) {
            let (p, c) = (Profile::default(), creds());
            let b = encode(&f, with_creds.then_some(&c), &p, None);
            let n = Notification::decode(&b).unwrap();
            prop_assert_eq!(n.fields().unwrap(), f.clone());
            prop_assert_eq!(n.option_count as usize, n.options.len());
            prop_assert!(n.options_ascending());
            if f.digest && with_creds {
                prop_assert_eq!(n.verify_digest(&c, p.digest_order), Some(true));
            }
        }

        #[test]
        fn valid_fields_have_no_problems(f in arb_fields(true)) {
            let p = Profile::default();
            let n = Notification::decode(&encode(&f, Some(&creds()), &p, None)).unwrap();
            prop_assert_eq!(n.problems(&p), vec![]);
        }

        #[test]
        fn decode_and_problems_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(n) = Notification::decode(&bytes) {
                let _ = (n.problems(&Profile::default()), n.fields());
            }
        }
    }
}
