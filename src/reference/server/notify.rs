//! `notification.send`: Package#0 built with the device's notification credentials, delivered
//! over HTTP when the device has an address, always returned to the upper tester.
use super::Shared;
use crate::reference::common;
use crate::upper_tester::UtAnswer;
use crate::wire::dm2::notification::{
    compute_digest, encode, Notification, NotificationCredentials, MAX_OPTION_VALUE, OPT_SERVER_ID, OPT_SHA256_DIGEST,
};
use crate::wire::dm2::{NotificationFields, Profile};
use base64::Engine;
use serde_json::{json, Value};

/// Decrements the in-flight count even when the upper-tester request is dropped mid-delivery.
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
    }
}

pub(super) async fn send(sh: &Shared, args: &Value) -> UtAnswer {
    let Some(dev_id) = args.get("dev_id").and_then(Value::as_str) else {
        return UtAnswer::failed("args.dev_id (a string) is required");
    };
    let req_mos = match args.get("req_mos") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return UtAnswer::failed(format!("args.req_mos must be a boolean, found {v}")),
    };
    let given_id = match args.get("notification_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|n| u16::try_from(n).ok()) {
            Some(n) => Some(n),
            None => return UtAnswer::failed(format!("args.notification_id must be an integer 0..65535, found {v}")),
        },
    };
    let _guard;
    let (bytes, id, address) = {
        let mut st = sh.lock();
        if !st.devices.contains_key(dev_id) {
            return UtAnswer::failed(format!("device {dev_id:?} is not registered"));
        }
        // notification-id-repeated: the counter never advances past its first value.
        let id = given_id.unwrap_or_else(|| match sh.faults.has("notification-id-repeated") {
            true => 1,
            false => st.next_notification_id(),
        });
        let Some(dev) = st.devices.get_mut(dev_id) else { return UtAnswer::failed("device vanished") };
        let Some(noti) = &dev.notification else {
            return UtAnswer::failed(format!(
                "device {dev_id:?} was registered without notification credentials (args.notification)"
            ));
        };
        let address = noti.address.clone();
        if sh.faults.has("notifications-never-sent") {
            dev.rec.notifications.push(json!({ "notification_id": id, "bytes_b64": null, "http_status": null }));
            sh.log(format!("Package#0 for {dev_id}: not built (fault)"));
            return UtAnswer::done(json!({ "bytes_b64": null, "notification_id": id, "address": address }));
        }
        let bytes = build(sh, &noti.creds, id, req_mos);
        if !sh.faults.has("notification-no-notification-id") {
            dev.notification_ids.push(id);
        }
        if address.is_some() {
            st.in_flight += 1;
            _guard = InFlight(sh);
        }
        (bytes, id, address)
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let sent_id = (!sh.faults.has("notification-no-notification-id")).then_some(id);
    sh.log(format!("Package#0 for {dev_id} (NOTIFICATION-ID {sent_id:?}): {}", hex::encode(&bytes)));
    let mut data = json!({ "bytes_b64": b64, "notification_id": sent_id, "address": address });
    let mut http_status = Value::Null;
    if let Some(addr) = &address {
        let res = sh
            .http
            .post(addr)
            .header("content-type", sh.cfg.profile.notification_media_type.as_str())
            .body(bytes.clone())
            .send()
            .await;
        match res {
            Ok(r) => {
                http_status = json!(r.status().as_u16());
                data["http_status"] = http_status.clone();
                sh.log(format!("Package#0 POST {addr} → {}", r.status()));
            }
            Err(e) => {
                data["delivery_error"] = json!(e.to_string());
                sh.log(format!("Package#0 POST {addr} failed: {e}"));
            }
        }
    }
    if let Some(dev) = sh.lock().devices.get_mut(dev_id) {
        dev.rec.notifications.push(json!({ "notification_id": sent_id, "bytes_b64": b64, "http_status": http_status }));
    }
    UtAnswer::done(data)
}

/// Package#0 with the notification faults applied; each fault isolates one defect, so the
/// digest is recomputed after the others and only the digest fault leaves it wrong.
fn build(sh: &Shared, creds: &NotificationCredentials, id: u16, req_mos: bool) -> Vec<u8> {
    let f = |n: &str| sh.faults.has(n);
    let mut profile = sh.cfg.profile.clone();
    let mut server_id = sh.cfg.server_id.clone();
    if f("notification-wrong-server-id") {
        // The id of an account the server used to have, not its configured one.
        server_id.push_str("-old");
    }
    if f("notification-server-id-too-long") {
        // One byte more than the profile allows (the encoder's limit is 270).
        let want = (profile.server_id_max_bytes as usize + 1).min(MAX_OPTION_VALUE);
        while server_id.len() < want {
            server_id.push('x');
        }
    }
    let mut timestamp = common::posix_now();
    if f("notification-timestamp-ms") {
        // Milliseconds where POSIX seconds belong, in 8 bytes (a width the profile accepts).
        timestamp *= 1000;
        profile.timestamp_bytes = 8;
    }
    if f("notification-timestamp-width") {
        // 6 bytes of seconds: neither 4 nor 8.
        profile.timestamp_bytes = 6;
    }
    let fields = NotificationFields {
        server_id,
        // 0x04 lies outside ANY_AVAILABLE..WIRELINE.
        preferred_con_type: Some(if f("notification-bad-con-type") { 0x04 } else { 0x00 }),
        notification_id: (!f("notification-no-notification-id")).then_some(id),
        timestamp: (!f("notification-no-timestamp")).then_some(timestamp),
        req_mos: (req_mos || f("notification-req-mos-always")) && !f("notification-req-mos-dropped"),
        digest: true,
    };
    let profile = &profile;
    let mut bytes = encode(&fields, Some(creds), profile, None);
    let mut changed = false;
    if f("notification-reserved-bits") {
        bytes[1] |= 0x01;
        changed = true;
    }
    if f("notification-no-server-id") {
        changed |= drop_first_option(&mut bytes, OPT_SERVER_ID);
    }
    if f("notification-wrong-ver") {
        let (v, oc) = header(&bytes);
        set_header(&mut bytes, (v + 1) & 0x0f, oc);
        changed = true;
    }
    if f("notification-oc-mismatch") {
        let (v, oc) = header(&bytes);
        set_header(&mut bytes, v, (oc + 1) & 0x1f);
        changed = true;
    }
    if changed {
        redigest(&mut bytes, creds, profile);
    }
    if f("notification-bad-digest") {
        if let Some(o) = Notification::decode(&bytes).ok().and_then(|n| n.option(OPT_SHA256_DIGEST).cloned()) {
            bytes[o.value_offset] ^= 0x01;
        }
    }
    bytes
}

fn header(bytes: &[u8]) -> (u8, u8) {
    let h = u16::from_be_bytes([bytes[0], bytes[1]]);
    ((h >> 12) as u8, ((h >> 7) & 0x1f) as u8)
}

fn set_header(bytes: &mut [u8], version: u8, oc: u8) {
    let h = u16::from_be_bytes([bytes[0], bytes[1]]);
    let h = (h & 0x007f) | ((version as u16 & 0x0f) << 12) | ((oc as u16 & 0x1f) << 7);
    bytes[..2].copy_from_slice(&h.to_be_bytes());
}

/// Removes the first option if it has `number`, folding its delta into the next option's
/// header and decrementing OC. True when something was removed.
fn drop_first_option(bytes: &mut Vec<u8>, number: u8) -> bool {
    let Ok(n) = Notification::decode(bytes) else { return false };
    let Some(o) = n.options.first().filter(|o| o.number == number) else { return false };
    let end = o.value_offset + o.value.len();
    bytes.drain(o.offset..end);
    if let Some(next) = bytes.get_mut(o.offset) {
        let delta = (*next >> 4) + number;
        *next = (delta << 4) | (*next & 0x0f);
    }
    let (v, oc) = header(bytes);
    set_header(bytes, v, oc.saturating_sub(1));
    true
}

/// Recomputes SHA256-DIGEST in place after the message changed (zero, hash, write).
fn redigest(bytes: &mut [u8], creds: &NotificationCredentials, profile: &Profile) {
    let Some(o) = Notification::decode(bytes).ok().and_then(|n| n.option(OPT_SHA256_DIGEST).cloned()) else { return };
    if o.value.len() != 32 {
        return;
    }
    bytes[o.value_offset..o.value_offset + 32].fill(0);
    let d = compute_digest(bytes, creds, profile.digest_order);
    bytes[o.value_offset..o.value_offset + 32].copy_from_slice(&d);
}
