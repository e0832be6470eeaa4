//! The DM 1.2 Package#0, the "General Notification Initiated Session Alert" (digest §9):
//! a 16-byte MD5 digest, then the trigger — a 40-bit header (version, ui-mode, initiator,
//! future use), the session id, the server identifier, an optional vendor part.
use super::auth::notification_digest;

/// Media type of a Package#0 (§9.6).
pub const MEDIA_NOTIFICATION: &str = "application/vnd.syncml.notification";
/// The format version DM 1.2.1 requires: 11 ("1.1").
pub const VERSION_1_1: u16 = 11;

/// What the server asks the client to tell its user (§9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiMode {
    NotSpecified = 0,
    Background = 1,
    Informative = 2,
    UserInteraction = 3,
}

impl UiMode {
    fn from_bits(b: u8) -> UiMode {
        match b & 3 {
            1 => UiMode::Background,
            2 => UiMode::Informative,
            3 => UiMode::UserInteraction,
            _ => UiMode::NotSpecified,
        }
    }
}

/// A Package#0, decoded. `trigger` is what the digest covers (everything after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub digest: [u8; 16],
    /// Format version ×10 (11 = 1.1).
    pub version: u16,
    pub ui_mode: UiMode,
    /// True: the server caused it; false: the client or user did.
    pub server_initiated: bool,
    /// The 27 bits that MUST be 0 (kept so a check can say what came).
    pub future_use: u32,
    pub session_id: u16,
    pub server_id: String,
    pub vendor: Vec<u8>,
}

/// The fields a server chooses; the digest is computed by [`encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub version: u16,
    pub ui_mode: UiMode,
    pub server_initiated: bool,
    pub session_id: u16,
    pub server_id: String,
    pub vendor: Vec<u8>,
}

impl Trigger {
    /// The trigger's bytes (the part the digest covers). The server id's length is one byte:
    /// an id longer than 255 bytes cannot be sent.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        let id = self.server_id.as_bytes();
        let len = u8::try_from(id.len())
            .map_err(|_| format!("server identifier of {} bytes: at most 255 fit the length byte", id.len()))?;
        let header: u64 = (u64::from(self.version & 0x3FF) << 30)
            | ((self.ui_mode as u64) << 28)
            | (u64::from(self.server_initiated) << 27);
        let mut out = header.to_be_bytes()[3..].to_vec();
        out.extend(self.session_id.to_be_bytes());
        out.push(len);
        out.extend_from_slice(id);
        out.extend_from_slice(&self.vendor);
        Ok(out)
    }
}

/// A Package#0 for `trigger`, its digest made with the server's password and the nonce the
/// client stores for it.
pub fn encode(trigger: &Trigger, password: &str, nonce: &[u8]) -> Result<Vec<u8>, String> {
    let t = trigger.bytes()?;
    let mut out = notification_digest(&trigger.server_id, password, nonce, &t).to_vec();
    out.extend(t);
    Ok(out)
}

impl Notification {
    /// Decodes a Package#0; the error says at which byte what was expected.
    pub fn decode(bytes: &[u8]) -> Result<Notification, String> {
        if bytes.len() < 24 {
            return Err(format!(
                "a Package#0 of at least 24 bytes (digest 16, header 5, session id 2, server-id length 1); got {}",
                bytes.len()
            ));
        }
        let mut header = [0u8; 8];
        header[3..].copy_from_slice(&bytes[16..21]);
        let header = u64::from_be_bytes(header);
        let len = usize::from(bytes[23]);
        let id = bytes.get(24..24 + len).ok_or_else(|| {
            format!("byte 23: a server identifier of {len} bytes; the package ends after {}", bytes.len() - 24)
        })?;
        let server_id = String::from_utf8(id.to_vec()).map_err(|_| "byte 24: a UTF-8 server identifier".to_string())?;
        Ok(Notification {
            digest: bytes[..16].try_into().expect("16 bytes"),
            version: ((header >> 30) & 0x3FF) as u16,
            ui_mode: UiMode::from_bits((header >> 28) as u8),
            server_initiated: (header >> 27) & 1 == 1,
            future_use: (header & 0x07FF_FFFF) as u32,
            session_id: u16::from_be_bytes([bytes[21], bytes[22]]),
            server_id,
            vendor: bytes[24 + len..].to_vec(),
        })
    }

    /// The trigger bytes as they came (everything after the digest).
    pub fn trigger_of(bytes: &[u8]) -> &[u8] {
        bytes.get(16..).unwrap_or_default()
    }

    /// Whether the digest is right for the server's password and the nonce.
    pub fn verifies(&self, bytes: &[u8], password: &str, nonce: &[u8]) -> bool {
        notification_digest(&self.server_id, password, nonce, Notification::trigger_of(bytes)) == self.digest
    }

    /// The SyncHdr `SessionID` of the session it asks for: upper-case hex, no leading zeros
    /// (§9.5: 0x002A → `2A`).
    pub fn session_id_text(&self) -> String {
        format!("{:X}", self.session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR: &str = "50CF976367C233B5460A9032C909B31402F80000002A2B10646D732E6578616D706C652E74657374";

    fn trigger() -> Trigger {
        Trigger {
            version: VERSION_1_1,
            ui_mode: UiMode::UserInteraction,
            server_initiated: true,
            session_id: 0x2A2B,
            server_id: "dms.example.test".into(),
            vendor: vec![],
        }
    }

    #[test]
    fn encodes_the_digests_test_vector() {
        let bytes = encode(&trigger(), "srvsecret", &[1, 2, 3, 4]).unwrap();
        assert_eq!(hex::encode_upper(&bytes), VECTOR);
    }

    #[test]
    fn decodes_and_verifies_the_test_vector() {
        let bytes = hex::decode(VECTOR).unwrap();
        let n = Notification::decode(&bytes).unwrap();
        assert_eq!(
            (n.version, n.ui_mode, n.server_initiated, n.future_use, n.session_id, n.server_id.as_str()),
            (11, UiMode::UserInteraction, true, 0, 0x2A2B, "dms.example.test")
        );
        assert_eq!(n.session_id_text(), "2A2B");
        assert!(n.verifies(&bytes, "srvsecret", &[1, 2, 3, 4]));
        assert!(!n.verifies(&bytes, "srvsecret", &[0, 0, 0, 0]));
        assert!(!n.verifies(&bytes, "other", &[1, 2, 3, 4]));
    }

    #[test]
    fn the_spec_appendix_header_reads_as_version_11_background_user_initiated() {
        let mut bytes = vec![0u8; 16];
        bytes.extend([0x02, 0xD0, 0x00, 0x00, 0x00, 0x12, 0x34, 0x02, b'a', b'b', 0xEE]);
        let n = Notification::decode(&bytes).unwrap();
        assert_eq!((n.version, n.ui_mode, n.server_initiated), (11, UiMode::Background, false));
        assert_eq!(
            (n.session_id_text().as_str(), n.server_id.as_str(), n.vendor.as_slice()),
            ("1234", "ab", &[0xEE][..])
        );
        let t = Trigger {
            version: 11,
            ui_mode: UiMode::Background,
            server_initiated: false,
            session_id: 0x1234,
            server_id: "ab".into(),
            vendor: vec![0xEE],
        };
        assert_eq!(t.bytes().unwrap(), bytes[16..]);
    }

    #[test]
    fn short_or_cut_packages_are_refused_with_where() {
        assert!(Notification::decode(&[0; 23]).unwrap_err().contains("at least 24 bytes"));
        let mut b = hex::decode(VECTOR).unwrap();
        b.truncate(30);
        assert!(Notification::decode(&b).unwrap_err().contains("byte 23"));
        assert!(Trigger { server_id: "x".repeat(300), ..trigger() }.bytes().unwrap_err().contains("255"));
        // Any input: an answer, never a panic.
        for n in 0..64 {
            let _ = Notification::decode(&vec![0xFF; n]);
        }
    }
}
