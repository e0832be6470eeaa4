//! `notify`: send a DM notification to a client IUT, built by the binding from neutral fields
//! and optionally tampered, through the PIXIT transport (upper tester or HTTP).
use super::Validation;
use crate::binding::{NotificationSpec, Timestamp};
use crate::peers::notifier;
use crate::runner::ctx::{Ctx, NotificationTransport};
use crate::scr::Role;
use crate::trace::TraceEvent;
use crate::upper_tester::action;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicU16, Ordering};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Default: the PIXIT `account.server_id`.
    #[serde(default)]
    pub server_id: Option<String>,
    #[serde(default)]
    pub preferred_con_type: Option<u8>,
    /// Default: a fresh id per notification.
    #[serde(default)]
    pub notification_id: Option<u16>,
    /// Seconds added to "now" for TIMESTAMP (negative: stale). Absent: now.
    #[serde(default)]
    pub timestamp_offset_s: Option<i64>,
    /// TIMESTAMP just outside the window the profile accepts. The window is UNVERIFIED, so
    /// cases follow the profile instead of a fixed offset.
    #[serde(default)]
    pub stale_timestamp: bool,
    /// Omit the TIMESTAMP.
    #[serde(default)]
    pub no_timestamp: bool,
    #[serde(default)]
    pub req_mos: bool,
    /// Authenticate with the PIXIT notification credentials (default true).
    #[serde(default = "yes")]
    pub digest: bool,
    /// A deliberate defect the binding knows (DM 2.0: wrong-digest, wrong-version, oc-mismatch,
    /// options-out-of-order).
    #[serde(default)]
    pub tamper: Option<String>,
    /// Saves `notification_id`, `server_id`, `hex`, `timestamp`, `req_mos`.
    #[serde(default)]
    pub save_as: Option<String>,
}

fn yes() -> bool {
    true
}

/// A per-run source of fresh NOTIFICATION-IDs (an IUT that remembers ids across cases must
/// not see a duplicate by accident).
static NEXT_NOTIFICATION_ID: AtomicU16 = AtomicU16::new(0);

fn fresh_notification_id() -> u16 {
    let seed = (crate::runner::ctx::unix_now() % 30000) as u16;
    let _ = NEXT_NOTIFICATION_ID.compare_exchange(0, seed.max(1), Ordering::SeqCst, Ordering::SeqCst);
    NEXT_NOTIFICATION_ID.fetch_add(1, Ordering::SeqCst).max(1)
}

impl Notify {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("notify", Role::Client);
        if let Some(t) = &self.tamper {
            let known = v.binding.notification_tampers();
            if !known.contains(&t.as_str()) {
                v.problem(format!("unknown notification tamper {t:?}; known: {}", known.join(", ")));
            }
        }
        if [self.stale_timestamp, self.no_timestamp, self.timestamp_offset_s.is_some()].iter().filter(|b| **b).count()
            > 1
        {
            v.problem("give at most one of timestamp_offset_s, stale_timestamp, no_timestamp");
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let server_id = match &self.server_id {
            Some(t) => match ctx.render_text(t) {
                Some(v) => v,
                None => return,
            },
            None => ctx.env.settings.server_id.clone(),
        };
        let id = self.notification_id.unwrap_or_else(fresh_notification_id);
        let timestamp = if self.no_timestamp {
            Timestamp::Absent
        } else if self.stale_timestamp {
            Timestamp::Stale
        } else {
            Timestamp::Offset(self.timestamp_offset_s.unwrap_or(0))
        };
        let spec = NotificationSpec {
            server_id: server_id.clone(),
            preferred_con_type: self.preferred_con_type.unwrap_or(0),
            notification_id: id,
            timestamp,
            req_mos: self.req_mos,
            digest: self.digest,
            tamper: self.tamper.clone(),
        };
        let built = match ctx.binding().encode_notification(&spec, ctx.env.settings.credentials.as_ref()) {
            Ok(b) => b,
            Err(e) => return ctx.harness_error(e),
        };
        let hex = hex::encode(&built.bytes);
        ctx.save(
            self.save_as.as_deref(),
            json!({
                "notification_id": id, "server_id": server_id, "hex": hex,
                "timestamp": built.timestamp, "req_mos": self.req_mos,
            }),
        );
        match ctx.env.settings.transport.clone() {
            NotificationTransport::UpperTester => {
                ctx.trace.record(TraceEvent::Notification {
                    from: "suite".into(),
                    to: "iut (upper tester notification.deliver)".into(),
                    hex,
                    note: built.note,
                });
                let b64 = base64::engine::general_purpose::STANDARD.encode(&built.bytes);
                let mut args = json!({ "bytes_b64": b64 });
                // A binding with several encodings (DM 1.2: XML, WBXML) names the one the
                // notified session is to use; a device with one configured encoding ignores it.
                if let Some(e) = ctx.binding().profile_json().get("encoding").filter(|e| e.is_string()) {
                    args["encoding"] = e.clone();
                }
                ctx.ut_call(action::NOTIFICATION_DELIVER, args, false).await;
            }
            NotificationTransport::Http { url } => {
                let media_type = ctx.binding().notification_media_type();
                let shown = ctx.show_wait(ctx.env.settings.step_timeout, || {
                    format!("waiting for the answer to the notification sent to {url}")
                });
                let r = notifier::post_notification(
                    &ctx.env.http,
                    &url,
                    &built.bytes,
                    &media_type,
                    ctx.env.settings.step_timeout,
                    &ctx.trace,
                )
                .await;
                drop(shown);
                match r {
                    Ok(st) if (200..300).contains(&st) => {}
                    Ok(st) => ctx.inconc(format!("notification POST answered HTTP {st}")),
                    Err(e) => ctx.inconc(e),
                }
            }
        }
    }
}
