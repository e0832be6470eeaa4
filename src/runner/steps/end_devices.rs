//! `end-devices`: the suite's simulated End Devices behind a DM Gateway IUT (GwMO,
//! [`crate::peers::end_devices`], docs/gwmo.md).
//!
//! - `start = { protocol?, groups = [{ name, id_prefix, count, silent?, erroring?, slow? }], slow_ms? }`:
//!   start the devices (one listener at the suite listener's address) and hand them to the
//!   gateway through the upper tester's `gateway.attach` (its answer's `dm_url` is where the
//!   devices open their sessions). `count` may be a template of a PIXIT text (e.g.
//!   `${pixit.mo.gw_end_devices}`). `protocol` is the one the devices speak with the gateway,
//!   that of the case's binding: `"dm2"` (the default) or `"dm12"` (SyncML DM 1.2). Saves
//!   `end_devices` = the attach arguments.
//! - `group = "<name>"`: wait (at most the step timeout) until every member of the group that
//!   answers (not silent) has ended its session with the gateway; one that has not fails `scr`.
//!   Then `checks` judge what reached each device (the log, JSON: `groups`, `devices`), and
//!   `save_as` keeps it.
use super::Validation;
use crate::catalog::check::Check;
use crate::peers::end_devices::{EndDevices, EndDevicesConfig};
use crate::runner::checks::Observed;
use crate::runner::ctx::Ctx;
use crate::scr::Role;
use crate::upper_tester::action;
use crate::verdict::Verdict;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndDevicesStep {
    /// The item the step's own judgement (the group's devices ended their sessions) is charged to.
    pub scr: String,
    #[serde(default)]
    pub why: Option<String>,
    /// Start the devices and attach them to the gateway (an [`EndDevicesConfig`], templated).
    #[serde(default)]
    pub start: Option<Value>,
    /// Wait for the sessions of this group's answering members.
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub save_as: Option<String>,
}

/// A `count` given as a PIXIT text ("100") becomes a number.
fn numbers(mut v: Value) -> Value {
    if let Some(groups) = v.get_mut("groups").and_then(Value::as_array_mut) {
        for g in groups {
            for k in ["count", "silent", "erroring", "slow"] {
                if let Some(n) = g.get(k).and_then(Value::as_str).and_then(|s| s.trim().parse::<u64>().ok()) {
                    g[k] = Value::from(n);
                }
            }
        }
    }
    v
}

impl EndDevicesStep {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("end-devices", Role::Client);
        if self.start.is_none() && self.group.is_none() {
            v.problem("an `end-devices` step starts the devices (`start`) or waits for a group (`group`)");
        }
        if let Some(start) = &self.start {
            // The End Devices speak the gateway's protocol: the case's binding family.
            let protocol = start.get("protocol").and_then(Value::as_str).unwrap_or(crate::binding::DEFAULT_BINDING);
            let family = v.binding.family();
            if protocol != family {
                v.problem(format!(
                    "end-devices start: protocol {protocol:?} is not that of the case's binding ({family:?}): the End \
                     Devices speak the gateway's protocol (protocol = \"{family}\")"
                ));
            }
        }
        if self.start.is_some() && !self.checks.is_empty() {
            v.problem("an `end-devices` step with `start` has no checks: judge the devices in a later step (`group`)");
        }
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        if let Some(start) = &self.start {
            if ctx.end_devices.is_some() {
                return ctx.harness_error("case defect: the end devices were started twice");
            }
            let Some(rendered) = ctx.render(start) else { return };
            let cfg: EndDevicesConfig = match serde_json::from_value(numbers(rendered)) {
                Ok(c) => c,
                Err(e) => return ctx.harness_error(format!("case defect: end-devices start: {e}")),
            };
            let listen = std::net::SocketAddr::new(ctx.env.listener.addr().ip(), 0);
            let devices = match EndDevices::spawn(listen, cfg).await {
                Ok(d) => Arc::new(d),
                Err(e) => return ctx.harness_error(format!("the end devices could not start: {e}")),
            };
            let total: usize = devices.config().groups.iter().map(|g| g.count).sum();
            ctx.trace.note(format!("{total} simulated end devices, notified at {}/<DeviceID>", devices.notify_base));
            ctx.end_devices = Some(devices.clone());
            let args = devices.attach_args();
            let Some(data) = ctx.ut_call(action::GATEWAY_ATTACH, args.clone(), false).await else { return };
            let Some(url) = data.get("dm_url").and_then(Value::as_str) else {
                return ctx.inconc(format!(
                    "upper tester contract (docs/upper-tester.md, {}): the answer's data.dm_url (the gateway's DM \
                     server URL for its End Devices) is missing: {data}",
                    action::GATEWAY_ATTACH
                ));
            };
            devices.set_gateway(url);
            ctx.save(Some("end_devices"), args);
        }
        let Some(group) = &self.group else { return };
        let Some(devices) = ctx.end_devices.clone() else {
            return ctx
                .harness_error("case defect: an `end-devices` step with `group` before the devices were started");
        };
        let Some(group) = ctx.render_text(group) else { return };
        let within = ctx.env.settings.step_timeout;
        let _wait = ctx.show_wait(within, || format!("waiting for the sessions of the end devices of {group}"));
        if !devices.wait_group_done(&group, within).await {
            let log = devices.log_json();
            let missing: Vec<String> = log["devices"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["group"] == group.as_str() && d["behaviour"] != "silent" && d["done"] != true)
                .map(|d| d["id"].as_str().unwrap_or_default().to_string())
                .collect();
            let scr = self.scr.clone();
            return ctx.fail_scr(
                Verdict::Fail,
                &scr,
                self.why.as_deref(),
                format!(
                    "{} end device(s) of {group} had no session with the gateway within {} ms",
                    missing.len(),
                    within.as_millis()
                ),
                format!("a session of every answering member of {group}, with the DMCommands"),
                format!("none for {}", preview(&missing)),
            );
        }
        let log = devices.log_json();
        let (notified, done) = devices.counts();
        ctx.trace.note(format!("end devices: {notified} notified, {done} sessions ended"));
        ctx.run_checks(&self.checks, &Observed::Json(&log));
        ctx.save(self.save_as.as_deref(), log);
    }
}

/// The first ids of a list, and how many more.
pub fn preview(ids: &[String]) -> String {
    let head: Vec<&str> = ids.iter().take(8).map(String::as_str).collect();
    match ids.len().saturating_sub(8) {
        0 => head.join(", "),
        more => format!("{} and {more} more", head.join(", ")),
    }
}
