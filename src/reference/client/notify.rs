//! Package#0 acceptance: the checks a DM Client makes before opening a session for a
//! notification (digest §4), each one switchable off by exactly one fault.
use super::Faults;
use crate::wire::dm2::notification::NotificationCredentials;
use crate::wire::dm2::profile::MissingDigestPolicy;
use crate::wire::dm2::{Notification, Profile};
use std::collections::BTreeSet;

/// What an accepted notification asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub notification_id: Option<u16>,
    pub req_mos: bool,
}

/// The account data the checks need.
pub struct Account<'a> {
    pub server_id: &'a str,
    pub noti: Option<&'a NotificationCredentials>,
    pub profile: &'a Profile,
}

/// Decides whether `bytes` opens a session. `seen` is the NOTIFICATION-ID duplicate memory;
/// an accepted id is added to it. `now` is POSIX seconds.
pub fn judge(
    bytes: &[u8],
    acc: &Account<'_>,
    faults: &Faults,
    seen: &mut BTreeSet<u16>,
    now: u64,
) -> Result<Accepted, String> {
    if faults.has("notifications-ignored") {
        return Err("this client ignores every notification (fault client.notifications-ignored)".into());
    }
    let n = Notification::decode(bytes).map_err(|e| format!("undecodable Package#0: {e}"))?;
    if n.version != acc.profile.notification_version && !faults.has("accept-wrong-ver") {
        return Err(format!("VER is {}, expected {}", n.version, acc.profile.notification_version));
    }
    if n.option_count as usize != n.options.len() && !faults.has("accept-oc-mismatch") {
        return Err(format!("OC is {} but {} option(s) follow", n.option_count, n.options.len()));
    }
    if !n.options_ascending() {
        return Err("options are not in increasing number order (duplicate option)".into());
    }
    let f = n.fields().map_err(|e| format!("bad option: {e}"))?;
    if f.server_id != acc.server_id && !faults.has("accept-unknown-server-id") {
        return Err(format!("SERVER-ID {:?} names no DM account (expected {:?})", f.server_id, acc.server_id));
    }
    // PREFERRED-CON-TYPE is a hint on loopback: any value is acceptable.
    if f.preferred_con_type.is_some_and(|c| c != 0) && faults.has("con-type-rejected") {
        return Err("PREFERRED-CON-TYPE other than ANY_AVAILABLE (fault client.con-type-rejected)".into());
    }
    if let Some(creds) = acc.noti {
        match n.verify_digest(creds, acc.profile.digest_order) {
            Some(true) => {}
            Some(false) if faults.has("accept-bad-digest") => {}
            Some(false) => {
                let why = n.diagnose_digest(creds, acc.profile.digest_order).explain(acc.profile.digest_order);
                return Err(format!("SHA256-DIGEST does not match the notification credentials ({why})"));
            }
            None if acc.profile.missing_digest == MissingDigestPolicy::Accept => {}
            None => return Err("no SHA256-DIGEST although the account has notification credentials".into()),
        }
    }
    if let Some(ts) = f.timestamp {
        let skew = now.abs_diff(ts);
        if skew > acc.profile.timestamp_window_s && !faults.has("accept-stale-timestamp") {
            return Err(format!("TIMESTAMP {ts} is {skew} s from now (window ±{} s)", acc.profile.timestamp_window_s));
        }
    }
    if let Some(id) = f.notification_id {
        if !seen.insert(id) {
            return Err(format!("duplicate NOTIFICATION-ID {id}"));
        }
    }
    Ok(Accepted { notification_id: f.notification_id, req_mos: f.req_mos })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dm2::notification::encode;
    use crate::wire::dm2::{NotificationFields, Tamper};

    fn creds() -> NotificationCredentials {
        NotificationCredentials { secret: b"test-noti-secret".to_vec(), auth_data: b"test-noti-authdata".to_vec() }
    }

    fn fields(id: u16) -> NotificationFields {
        NotificationFields {
            server_id: "dmcts".into(),
            preferred_con_type: Some(0),
            notification_id: Some(id),
            timestamp: Some(1_700_000_000),
            req_mos: true,
            digest: true,
        }
    }

    #[test]
    fn accepts_valid_and_rejects_each_defect() {
        let p = Profile::default();
        let c = creds();
        let acc = Account { server_id: "dmcts", noti: Some(&c), profile: &p };
        let none = Faults::default();
        let mut seen = BTreeSet::new();
        let now = 1_700_000_010;
        let ok = encode(&fields(7), Some(&c), &p, None);
        assert_eq!(judge(&ok, &acc, &none, &mut seen, now), Ok(Accepted { notification_id: Some(7), req_mos: true }));
        assert!(judge(&ok, &acc, &none, &mut seen, now).unwrap_err().contains("duplicate"));
        for (t, why) in
            [(Tamper::WrongDigest, "SHA256-DIGEST"), (Tamper::WrongVersion(1), "VER"), (Tamper::OcMismatch, "OC")]
        {
            let b = encode(&fields(8), Some(&c), &p, Some(&t));
            assert!(judge(&b, &acc, &none, &mut seen, now).unwrap_err().contains(why), "{t:?}");
        }
        let stale = encode(&fields(9), Some(&c), &p, None);
        assert!(judge(&stale, &acc, &none, &mut seen, now + 1000).unwrap_err().contains("TIMESTAMP"));
        let faulty = Faults::parse(crate::scr::Role::Client, ["client.accept-stale-timestamp"]).unwrap();
        assert!(judge(&stale, &acc, &faulty, &mut seen, now + 1000).is_ok());
    }
}
