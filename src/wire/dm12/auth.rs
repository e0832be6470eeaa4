//! DM 1.2 authentication values (digest §8): `syncml:auth-basic` and `syncml:auth-md5`
//! credentials (SyncHdr `Cred/Data`), and the `x-syncml-hmac` transport header with its MAC.
//!
//! All of them are built from `B64(H(username ":" password))`, H = MD5 (16 raw bytes), B64 =
//! standard base64 with padding. Nonces are raw bytes: the base64-decoded `NextNonce` (§8.3).
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use md5::{Digest, Md5};

/// `Meta/Type` of Cred and Chal.
pub const AUTH_BASIC: &str = "syncml:auth-basic";
pub const AUTH_MD5: &str = "syncml:auth-md5";
/// Requested in a Chal only: the MAC goes into the `x-syncml-hmac` header (§8.6).
pub const AUTH_MAC: &str = "syncml:auth-MAC";
/// The transport header carrying the MAC.
pub const HMAC_HEADER: &str = "x-syncml-hmac";

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    parts.iter().for_each(|p| h.update(p));
    h.finalize().into()
}

fn b64_md5(parts: &[&[u8]]) -> String {
    B64.encode(md5(parts))
}

/// `syncml:auth-basic`: `B64(username ":" password)` (§8.2).
pub fn basic(username: &str, password: &str) -> String {
    B64.encode(format!("{username}:{password}"))
}

/// `B64(H(username ":" password))`: what an authenticator stores instead of the password.
pub fn credentials_digest(username: &str, password: &str) -> String {
    b64_md5(&[username.as_bytes(), b":", password.as_bytes()])
}

/// `syncml:auth-md5`: `B64(H(B64(H(username ":" password)) ":" nonce))` (§8.3).
pub fn md5_cred(username: &str, password: &str, nonce: &[u8]) -> String {
    b64_md5(&[credentials_digest(username, password).as_bytes(), b":", nonce])
}

/// The MAC of `x-syncml-hmac`: `B64(H(B64(H(username ":" password)) ":" nonce ":" B64(H(body))))`
/// over the exact HTTP entity bytes (§8.6). One plain MD5, not RFC 2104 HMAC, despite the name.
pub fn hmac_mac(username: &str, password: &str, nonce: &[u8], body: &[u8]) -> String {
    let body_digest = b64_md5(&[body]);
    b64_md5(&[credentials_digest(username, password).as_bytes(), b":", nonce, b":", body_digest.as_bytes()])
}

/// The RFC 2104 HMAC-MD5 some implementations put in `x-syncml-hmac` instead (digest §8.6, §13
/// W6): key `B64(H(username ":" password))`, message `nonce ":" B64(H(body))` (the nonce and its
/// colon left out when there is none), base64. Not T-SEC's formula; accepted only under profile
/// setting `dm12.hmac_variant = "rfc2104"`.
pub fn hmac_mac_rfc2104(username: &str, password: &str, nonce: &[u8], body: &[u8]) -> String {
    use hmac::{Mac, SimpleHmac};
    let key = credentials_digest(username, password);
    // HMAC takes a key of any length: new_from_slice cannot fail.
    let mut mac = SimpleHmac::<Md5>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key length");
    if !nonce.is_empty() {
        mac.update(nonce);
        mac.update(b":");
    }
    mac.update(b64_md5(&[body]).as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Which MAC an `x-syncml-hmac` header carries (profile `dm12.hmac_variant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HmacVariant {
    /// OMA-TS-DM_Security 5.1.4: one plain MD5 (the default).
    #[serde(rename = "t-sec")]
    TSec,
    /// RFC 2104 HMAC-MD5 ([`hmac_mac_rfc2104`]).
    #[serde(rename = "rfc2104")]
    Rfc2104,
}

impl HmacVariant {
    /// The profile's name for it.
    pub fn name(self) -> &'static str {
        match self {
            HmacVariant::TSec => "t-sec",
            HmacVariant::Rfc2104 => "rfc2104",
        }
    }

    /// The MAC of this variant.
    pub fn mac(self, username: &str, password: &str, nonce: &[u8], body: &[u8]) -> String {
        match self {
            HmacVariant::TSec => hmac_mac(username, password, nonce, body),
            HmacVariant::Rfc2104 => hmac_mac_rfc2104(username, password, nonce, body),
        }
    }
}

/// The Package#0 digest (§9.3): `H(B64(H(server-id ":" password)) ":" nonce ":" B64(H(trigger)))`,
/// 16 raw bytes.
pub fn notification_digest(server_id: &str, password: &str, nonce: &[u8], trigger: &[u8]) -> [u8; 16] {
    let trigger_digest = b64_md5(&[trigger]);
    md5(&[credentials_digest(server_id, password).as_bytes(), b":", nonce, b":", trigger_digest.as_bytes()])
}

/// A nonce as sent in `NextNonce` (base64), decoded to its bytes; None when it is not base64.
pub fn decode_nonce(next_nonce: &str) -> Option<Vec<u8>> {
    B64.decode(next_nonce.trim()).ok()
}

/// Bytes as a `NextNonce` value.
pub fn encode_nonce(nonce: &[u8]) -> String {
    B64.encode(nonce)
}

/// The value of an `x-syncml-hmac` header: `algorithm=MD5, username="…", mac=…` (§8.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacHeader {
    /// `MD5` when the header names none (the default).
    pub algorithm: String,
    pub username: String,
    pub mac: String,
}

impl HmacHeader {
    pub fn new(username: &str, mac: String) -> HmacHeader {
        HmacHeader { algorithm: "MD5".into(), username: username.to_string(), mac }
    }

    /// Parses the header value; the error says what was missing or malformed.
    pub fn parse(value: &str) -> Result<HmacHeader, String> {
        let (mut algorithm, mut username, mut mac) = (None, None, None);
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, v) =
                part.split_once('=').ok_or_else(|| format!("x-syncml-hmac parameter {part:?}: expected name=value"))?;
            let v = v.trim();
            let unquoted = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v).to_string();
            match name.trim().to_ascii_lowercase().as_str() {
                "algorithm" => algorithm = Some(unquoted),
                "username" => username = Some(unquoted),
                "mac" => mac = Some(unquoted),
                other => {
                    return Err(format!(
                        "x-syncml-hmac: unknown parameter {other:?} (expected algorithm, username, mac)"
                    ))
                }
            }
        }
        let algorithm = algorithm.unwrap_or_else(|| "MD5".into());
        if !algorithm.eq_ignore_ascii_case("MD5") {
            return Err(format!("x-syncml-hmac: algorithm {algorithm:?}; expected MD5"));
        }
        Ok(HmacHeader {
            algorithm,
            username: username.ok_or("x-syncml-hmac: no username parameter")?,
            mac: mac.ok_or("x-syncml-hmac: no mac parameter")?,
        })
    }

    /// Whether the MAC is right for this body, password and nonce.
    pub fn verifies(&self, password: &str, nonce: &[u8], body: &[u8]) -> bool {
        self.verifies_as(HmacVariant::TSec, password, nonce, body)
    }

    /// Whether the MAC is right in `variant`.
    pub fn verifies_as(&self, variant: HmacVariant, password: &str, nonce: &[u8], body: &[u8]) -> bool {
        variant.mac(&self.username, password, nonce, body) == self.mac
    }
}

impl std::fmt::Display for HmacHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "algorithm={}, username=\"{}\", mac={}", self.algorithm, self.username, self.mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_matches_the_spec_example() {
        assert_eq!(basic("Bruce2", "OhBehave"), "QnJ1Y2UyOk9oQmVoYXZl");
    }

    #[test]
    fn md5_matches_the_spec_example_and_the_digests_vectors() {
        assert_eq!(credentials_digest("Bruce2", "OhBehave"), "PtEdr8lBQ45IbT1bZIkrOQ==");
        assert_eq!(md5_cred("Bruce2", "OhBehave", b"Nonce"), "Zz6EivR3yeaaENcRN6lpAQ==");
        assert_eq!(md5_cred("dmc-490154", "clientpwd", b"srv-n1-7f3a"), "fL6r3+9WPjxKYHgMiHEusA==");
        assert_eq!(md5_cred("dms.example.test", "srvsecret", b"cli-n0-11aa"), "9v8iPJP4YJ9T5LHI1OuPQg==");
        assert_eq!(decode_nonce("c3J2LW4xLTdmM2E=").unwrap(), b"srv-n1-7f3a");
        // The pitfall the digest names: a plain digest over the joined strings is wrong.
        assert_ne!(md5_cred("Bruce2", "OhBehave", b"Nonce"), "UmkqAAZhiQvXXhfaf/u+OQ==");
    }

    #[test]
    fn hmac_matches_the_digests_vector_not_rfc_2104() {
        let body = br#"<SyncML xmlns="SYNCML:SYNCML1.2"/>"#;
        let mac = hmac_mac("IMEI:490154203237518", "clientpwd", b"servernonce1", body);
        assert_eq!(mac, "UQQk7xgthY/6o2z3iJwvMw==");
        assert_ne!(mac, "9SQAfRcrPfn5jaVftCLU3A==", "WOS's RFC 2104 variant");
        // The digest's vector for that variant (§8.6 table), which the profile may accept.
        let rfc = hmac_mac_rfc2104("IMEI:490154203237518", "clientpwd", b"servernonce1", body);
        assert_eq!(rfc, "9SQAfRcrPfn5jaVftCLU3A==");
        assert!(HmacHeader::new("IMEI:490154203237518", rfc).verifies_as(
            HmacVariant::Rfc2104,
            "clientpwd",
            b"servernonce1",
            body
        ));
        let header = HmacHeader::new("IMEI:490154203237518", mac);
        let text = header.to_string();
        assert_eq!(text, r#"algorithm=MD5, username="IMEI:490154203237518", mac=UQQk7xgthY/6o2z3iJwvMw=="#);
        let parsed = HmacHeader::parse(&text).unwrap();
        assert_eq!(parsed, header);
        assert!(parsed.verifies("clientpwd", b"servernonce1", body));
        assert!(!parsed.verifies("clientpwd", b"servernonce2", body));
        // algorithm is optional; WOS writes the username unquoted.
        let p = HmacHeader::parse("username=guest, mac=abc").unwrap();
        assert_eq!((p.algorithm.as_str(), p.username.as_str()), ("MD5", "guest"));
        assert!(HmacHeader::parse("username=guest").unwrap_err().contains("no mac"));
        assert!(HmacHeader::parse("algorithm=SHA1, username=a, mac=b").unwrap_err().contains("expected MD5"));
        assert!(HmacHeader::parse("junk").unwrap_err().contains("name=value"));
    }

    #[test]
    fn the_notification_digest_matches_the_digests_vector() {
        let trigger = [
            0x02, 0xF8, 0x00, 0x00, 0x00, 0x2A, 0x2B, 0x10, 0x64, 0x6D, 0x73, 0x2E, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C,
            0x65, 0x2E, 0x74, 0x65, 0x73, 0x74,
        ];
        let d = notification_digest("dms.example.test", "srvsecret", &[1, 2, 3, 4], &trigger);
        assert_eq!(hex::encode_upper(d), "50CF976367C233B5460A9032C909B314");
        let d = notification_digest("dms.example.test", "srvsecret", &[0, 0, 0, 0], &trigger);
        assert_eq!(hex::encode_upper(d), "89854743080A1F6F6F6622661A31CDA9");
        let d = notification_digest("dms.example.test", "srvsecret", b"0x00000000", &trigger);
        assert_eq!(hex::encode_upper(d), "F9FC0E26464F643D0D7851C31677E852");
    }
}
