//! Logic behind the `notification encode|decode` CLI commands: hex in and out, a JSON report
//! for humans and scripts. Credentials are given as text and used as their UTF-8 bytes.
use super::notification::{
    encode, option_name, Notification, NotificationCredentials, NotificationError, NotificationFields,
    OPT_SHA256_DIGEST,
};
use super::profile::Profile;
use serde_json::{json, Value};

/// Credentials when either part is given (a missing part is empty).
fn credentials(secret: Option<&str>, auth_data: Option<&str>) -> Option<NotificationCredentials> {
    (secret.is_some() || auth_data.is_some()).then(|| NotificationCredentials {
        secret: secret.unwrap_or_default().as_bytes().to_vec(),
        auth_data: auth_data.unwrap_or_default().as_bytes().to_vec(),
    })
}

/// Encodes `fields` as lowercase hex. The SHA256-DIGEST option is present when
/// `fields.digest` is set: computed when a secret or auth data is given, all zeros otherwise.
pub fn encode_cli(
    fields: &NotificationFields,
    secret: Option<&str>,
    auth_data: Option<&str>,
    profile: &Profile,
) -> String {
    hex::encode(encode(fields, credentials(secret, auth_data).as_ref(), profile, None))
}

/// Decodes hex (surrounding whitespace ignored) into a JSON report: header, options with
/// their byte offsets, typed fields, digest verification and the conformance problems.
/// Errors: a bad hex character (offset = its char index in `hex_text`), an odd number of hex
/// digits, or a structurally undecodable notification (offset = byte in the notification).
pub fn decode_cli(
    hex_text: &str,
    secret: Option<&str>,
    auth_data: Option<&str>,
    profile: &Profile,
) -> Result<Value, NotificationError> {
    let lead = hex_text.chars().take_while(|c| c.is_whitespace()).count();
    let trimmed = hex_text.trim();
    if let Some((i, c)) = trimmed.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(NotificationError::new(
            lead + i,
            "a hex digit (offset counts characters of the hex text)",
            format!("{c:?}"),
        ));
    }
    let bytes = hex::decode(trimmed).map_err(|_| {
        NotificationError::new(
            lead + trimmed.len(),
            "an even number of hex digits (offset counts characters of the hex text)",
            format!("{} digits", trimmed.len()),
        )
    })?;
    let n = Notification::decode(&bytes)?;
    let options: Vec<Value> = n
        .options
        .iter()
        .map(|o| {
            json!({"number": o.number, "name": option_name(o.number), "offset": o.offset, "value_hex": hex::encode(&o.value)})
        })
        .collect();
    let creds = credentials(secret, auth_data);
    let present = n.option(OPT_SHA256_DIGEST).is_some();
    let verified = creds.as_ref().and_then(|c| n.verify_digest(c, profile.digest_order));
    let diagnosis = creds.as_ref().map(|c| n.diagnose_digest(c, profile.digest_order));
    let note = match (present, diagnosis, verified) {
        (false, _, _) => "no SHA256-DIGEST option".to_string(),
        (true, None, _) => "not verified: no secret or auth data given".to_string(),
        (true, Some(_), None) => "not verified: the SHA256-DIGEST value is not 32 bytes".to_string(),
        (true, Some(_), Some(true)) => format!(
            "matches with the profile's input order {:?} (UNVERIFIED default, digest §4.4)",
            profile.digest_order
        ),
        (true, Some(d), Some(false)) => format!(
            "does NOT match with the profile's input order {:?} (UNVERIFIED default, digest §4.4): {}",
            profile.digest_order,
            d.explain(profile.digest_order)
        ),
    };
    let mut report = json!({
        "version": n.version,
        "option_count": n.option_count,
        "reserved": n.reserved,
        "options": options,
        "fields": Value::Null,
        "digest": {"present": present, "verified": verified, "diagnosis": diagnosis, "note": note},
        "problems": n.problems(profile),
    });
    match n.fields() {
        Ok(f) => report["fields"] = serde_json::to_value(f).unwrap_or(Value::Null),
        Err(e) => report["fields_error"] = Value::String(e.to_string()),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR: &str = "230018646d7372762d303111001212341f117ed4fa666d6ac142728090d3e5c61b2e51661f1372e8165e336b5567a13eb0f8146553f10010";

    fn vector_fields() -> NotificationFields {
        NotificationFields {
            server_id: "dmsrv-01".into(),
            preferred_con_type: Some(0),
            notification_id: Some(0x1234),
            timestamp: Some(1_700_000_000),
            req_mos: true,
            digest: true,
        }
    }

    #[test]
    fn encode_reproduces_the_digest_test_vector() {
        let p = Profile::default();
        assert_eq!(encode_cli(&vector_fields(), Some("test-noti-secret"), Some("test-noti-authdata"), &p), VECTOR);
        let zero = encode_cli(&vector_fields(), None, None, &p);
        assert!(zero.contains(&"00".repeat(32)));
    }

    #[test]
    fn decode_reports_everything() {
        let p = Profile::default();
        let r = decode_cli(&format!("  {VECTOR}\n"), Some("test-noti-secret"), Some("test-noti-authdata"), &p).unwrap();
        assert_eq!(
            (r["version"].as_u64(), r["option_count"].as_u64(), r["reserved"].as_u64()),
            (Some(2), Some(6), Some(0))
        );
        assert_eq!(
            r["options"][0],
            json!({"number": 1, "name": "SERVER-ID", "offset": 2, "value_hex": "646d7372762d3031"})
        );
        assert_eq!(r["options"][3]["name"], "SHA256-DIGEST");
        assert_eq!(r["options"][5], json!({"number": 6, "name": "REQ-MOS", "offset": 55, "value_hex": ""}));
        assert_eq!(r["fields"], serde_json::to_value(vector_fields()).unwrap());
        assert_eq!(r["digest"]["present"], true);
        assert_eq!(r["digest"]["verified"], true);
        assert_eq!(r["problems"], json!([]));

        let wrong = decode_cli(VECTOR, Some("other"), None, &p).unwrap();
        assert_eq!(wrong["digest"]["verified"], false);
        assert!(wrong["digest"]["note"].as_str().unwrap().contains("NOT match"));
        assert!(wrong["digest"]["note"].as_str().unwrap().contains("neither input order"));
        assert_eq!(wrong["digest"]["diagnosis"], json!({"diagnosis": "no-match"}));
        // Secret and auth data given the other way round: the note points at digest_order.
        let swapped = decode_cli(VECTOR, Some("test-noti-authdata"), Some("test-noti-secret"), &p).unwrap();
        assert!(swapped["digest"]["note"].as_str().unwrap().contains("digest_order = \"auth-message-secret\""));
        assert_eq!(r["digest"]["diagnosis"], json!({"diagnosis": "verified"}));
        let unverified = decode_cli(VECTOR, None, None, &p).unwrap();
        assert_eq!(unverified["digest"]["verified"], Value::Null);
    }

    #[test]
    fn decode_lists_problems_and_field_errors() {
        // VER 3, OC 2, SERVER-ID "a", then a 3-byte NOTIFICATION-ID at byte 4.
        let r = decode_cli("3100116123010203", None, None, &Profile::default()).unwrap();
        let items: Vec<&str> = r["problems"].as_array().unwrap().iter().map(|p| p["item"].as_str().unwrap()).collect();
        assert_eq!(items, ["DM-PACK-003-S-M", "DM-PACK-007-S-M"]);
        assert_eq!(r["problems"][1]["offset"], 4);
        assert_eq!(r["fields"], Value::Null);
        assert!(r["fields_error"].as_str().unwrap().contains("2-byte NOTIFICATION-ID"));
    }

    #[test]
    fn bad_input_is_located() {
        let p = Profile::default();
        let e = decode_cli(" 2300zz", None, None, &p).unwrap_err();
        assert_eq!((e.offset, e.found.as_str()), (5, "'z'"));
        let e = decode_cli("230", None, None, &p).unwrap_err();
        assert!(e.expected.contains("even number"), "{e}");
        let e = decode_cli("2300181234", None, None, &p).unwrap_err();
        assert_eq!(e.offset, 3, "structural error at the value of the truncated option: {e}");
        let e = decode_cli("", None, None, &p).unwrap_err();
        assert!(e.expected.contains("2-byte header"), "{e}");
    }
}
