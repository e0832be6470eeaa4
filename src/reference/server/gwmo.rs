//! The reference server's GwMO side (scr/gwmo/gwmo.toml, GWMO-0nn-S-*, docs/gwmo.md): it
//! distributes an image to a DM Gateway and fans commands out through it (seeds 000, 003).
//!
//! - `gateway.image` {`dev_id` (the gateway), `image_url`, `image_uri`? (default
//!   `urn:oma:mo:oma-gwmo-imageinventory:1.0/img1/`)}: queues `["HGET", <base>/repo/gwmo/<n>/image-uri,
//!   <image_uri>ImageURI]` (MO data {ImageURI: image_url}), `["EXEC", <image_uri>Operations/Download,
//!   <base>/dm]` and `["CONT", <base>/dm]` (so the 202 comes in a Package#3). The Image Ready
//!   alert (profile `gwmo_alert_type_image_ready`) from the image instance gives the image its
//!   LocalImageURI.
//! - `gateway.fanout` {`dev_id`, `group`, `image_uri`? (an image whose Image Ready came),
//!   `fanout_uri`? (default `urn:oma:mo:oma-gwmo-fanout:1.0/fo1/`), `device_target`? (where
//!   each End Device stores the image, default `urn:oma:mo:oma-scomo:1.0//Inventory/Delivered/img1/Data`)}:
//!   DMCommands `[["HGET", <LocalImageURI>, <device_target>]]` (profile `gwmo_dmcommands_form`),
//!   queued as `HGET <base>/repo/gwmo/<n>/dmcommands <fanout_uri>DMCommands`, `HGET
//!   <base>/repo/gwmo/<n>/group <fanout_uri>TargetGroupRef`, `EXEC <fanout_uri>Operations/Start
//!   <base>/dm`, `CONT <base>/dm`. Without an image it needs `commands` (the DMCommands). The
//!   Fanout alert (profile `gwmo_alert_type_aggregation`) from the job records each device's
//!   result.
//!
//! `device.report` adds `gateway`: {`images`: [{`image_uri`, `image_url`, `exec`, `state`,
//! `local_image_uri`}], `fanouts`: [{`fanout_uri`, `group`, `dm_commands`, `exec`, `state`,
//! `results`: [{`device_id`, `success`, `error`}], `succeeded`: [DeviceID], `failed`: [DeviceID]}]}.
use super::state::{Device, Queued};
use super::{Shared, DM_PATH};
use crate::upper_tester::UtAnswer;
use crate::wire::dm2::gwmo::{self, MOID_FANOUT, MOID_IMAGE_INVENTORY};
use crate::wire::dm2::{Command, GenericAlert};
use serde_json::{json, Value};

/// Where the server serves the data its GwMO HGETs fetch.
pub const REPO_PREFIX: &str = "/repo/gwmo/";
const DEFAULT_IMAGE_URI: &str = "urn:oma:mo:oma-gwmo-imageinventory:1.0/img1/";
const DEFAULT_FANOUT_URI: &str = "urn:oma:mo:oma-gwmo-fanout:1.0/fo1/";
const DEFAULT_DEVICE_TARGET: &str = "urn:oma:mo:oma-scomo:1.0//Inventory/Delivered/img1/Data";

pub(super) use crate::reference::gateway_record::GatewayRecord;
use crate::reference::gateway_record::{instance, DeviceOutcome, FanoutJob, ImageJob};

fn s(args: &Value, k: &str) -> Option<String> {
    args.get(k).and_then(Value::as_str).map(str::to_string)
}

fn served(sh: &Shared, path: String, v: Value) -> String {
    let url = format!("{}{REPO_PREFIX}{path}", sh.base);
    sh.lock().gwmo_repo.insert(path, (sh.cfg.profile.mo_media_type.clone(), v.to_string().into_bytes()));
    url
}

/// A fresh number for the repository paths of one request (never reset, so a URL from before a
/// reset is dead).
fn next_number(sh: &Shared) -> u64 {
    let mut st = sh.lock();
    st.gwmo_counter += 1;
    st.gwmo_counter
}

/// The upper-tester actions of this module (None: not one of them).
pub fn action(sh: &Shared, name: &str, args: &Value) -> Option<UtAnswer> {
    match name {
        crate::upper_tester::action::GATEWAY_IMAGE => Some(image(sh, args)),
        crate::upper_tester::action::GATEWAY_FANOUT => Some(fanout(sh, args)),
        _ => None,
    }
}

fn image(sh: &Shared, args: &Value) -> UtAnswer {
    let Some(dev_id) = s(args, "dev_id") else { return UtAnswer::failed("args.dev_id (a string) is required") };
    let Some(image_url) = s(args, "image_url") else { return UtAnswer::failed("args.image_url (a URL) is required") };
    let img = instance(&s(args, "image_uri").unwrap_or_else(|| DEFAULT_IMAGE_URI.into()));
    if !img.starts_with(MOID_IMAGE_INVENTORY) {
        return UtAnswer::failed(format!(
            "args.image_uri must be an Image Inventory ClientURI ({MOID_IMAGE_INVENTORY}/...)"
        ));
    }
    let n = next_number(sh);
    let source = served(
        sh,
        format!("{n}/image-uri"),
        json!([{ "ClientURI": format!("{img}ImageURI"), "MOData": { "ImageURI": image_url } }]),
    );
    let dm_url = format!("{}{DM_PATH}", sh.base);
    let exec = format!("{img}Operations/Download");
    let hget = Command::Hget { server_uri: source, client_uri: Some(format!("{img}ImageURI")) };
    let ex = Command::Exec { client_uri: exec.clone(), server_uri: Some(dm_url.clone()) };
    let cmds = if sh.faults.has("gw-exec-before-image-uri") { [ex, hget] } else { [hget, ex] };
    let mut st = sh.lock();
    let Some(dev) = st.devices.get_mut(&dev_id) else {
        return UtAnswer::failed(format!("device {dev_id:?} is not registered"));
    };
    dev.queue.extend(cmds.into_iter().map(Queued::Command));
    dev.queue.push_back(Queued::Command(Command::Cont { server_uri: dm_url }));
    dev.gateway.images.push(ImageJob::queued(img, image_url, exec.clone()));
    UtAnswer::done(json!({ "queued": dev.queue.len(), "exec": exec }))
}

fn fanout(sh: &Shared, args: &Value) -> UtAnswer {
    let Some(dev_id) = s(args, "dev_id") else { return UtAnswer::failed("args.dev_id (a string) is required") };
    let Some(group) = s(args, "group") else {
        return UtAnswer::failed("args.group (the target device group) is required");
    };
    let fo = instance(&s(args, "fanout_uri").unwrap_or_else(|| DEFAULT_FANOUT_URI.into()));
    if !fo.starts_with(MOID_FANOUT) {
        return UtAnswer::failed(format!("args.fanout_uri must be a Fanout ClientURI ({MOID_FANOUT}/...)"));
    }
    let target = s(args, "device_target").unwrap_or_else(|| DEFAULT_DEVICE_TARGET.into());
    let commands = match args.get("commands") {
        Some(c) => c.clone(),
        None => {
            let img = instance(&s(args, "image_uri").unwrap_or_else(|| DEFAULT_IMAGE_URI.into()));
            let st = sh.lock();
            let job = st.devices.get(&dev_id).and_then(|d| d.gateway.image(&img).cloned());
            let Some(job) = job else {
                return UtAnswer::failed(format!("no image {img} was distributed to {dev_id:?} (gateway.image)"));
            };
            let Some(local) = job.local_image_uri.clone() else {
                return UtAnswer::failed(format!("the gateway has not sent the Image Ready alert of {img} yet"));
            };
            let url = if sh.faults.has("gw-dmcommands-external-uri") { job.image_url.clone() } else { local };
            json!([["HGET", url, target]])
        }
    };
    if let Err(e) = gwmo::parse_dm_commands(&commands, &sh.cfg.profile) {
        return UtAnswer::failed(format!("args.commands{}: expected {}, found {}", e.pointer, e.expected, e.found));
    }
    let n = next_number(sh);
    let cmds_src = served(
        sh,
        format!("{n}/dmcommands"),
        json!([{ "ClientURI": format!("{fo}DMCommands"), "MOData": { "DMCommands": commands } }]),
    );
    let group_src = served(
        sh,
        format!("{n}/group"),
        json!([{ "ClientURI": format!("{fo}TargetGroupRef"), "MOData": { "TargetGroupRef": group } }]),
    );
    let dm_url = format!("{}{DM_PATH}", sh.base);
    let exec = format!("{fo}Operations/Start");
    let set_cmds = Command::Hget { server_uri: cmds_src, client_uri: Some(format!("{fo}DMCommands")) };
    let set_group = Command::Hget { server_uri: group_src, client_uri: Some(format!("{fo}TargetGroupRef")) };
    let start = Command::Exec { client_uri: exec.clone(), server_uri: Some(dm_url.clone()) };
    let cmds = if sh.faults.has("gw-start-before-commands") {
        [start, set_cmds, set_group]
    } else {
        [set_cmds, set_group, start]
    };
    let mut st = sh.lock();
    let Some(dev) = st.devices.get_mut(&dev_id) else {
        return UtAnswer::failed(format!("device {dev_id:?} is not registered"));
    };
    dev.queue.extend(cmds.into_iter().map(Queued::Command));
    dev.queue.push_back(Queued::Command(Command::Cont { server_uri: dm_url }));
    dev.gateway.fanouts.push(FanoutJob::queued(fo, group, commands.clone(), exec.clone()));
    UtAnswer::done(json!({ "queued": dev.queue.len(), "exec": exec, "dm_commands": commands }))
}

/// The status the gateway gave an EXEC of this module's: 202 accepts it.
pub fn exec_status(dev: &mut Device, client_uri: &str, sc: u16) {
    dev.gateway.exec_status(client_uri, sc);
}

/// A Generic Alert from the gateway: Image Ready, or the Fanout alert.
pub fn alert(sh: &Shared, dev: &mut Device, a: &GenericAlert) {
    let p = &sh.cfg.profile;
    let Some(src) = a.source_uri.as_deref() else { return };
    if a.alert_type == p.gwmo_alert_type_image_ready {
        if sh.faults.has("gw-image-ready-ignored") {
            return;
        }
        let local = gwmo::local_image_uri_of(a.data.as_ref()).map(str::to_string);
        dev.gateway.image_ready(src, local);
    } else if a.alert_type == p.gwmo_alert_type_aggregation {
        if sh.faults.has("gw-aggregate-ignored") {
            return;
        }
        let Some(j) = dev.gateway.fanout_of(src) else { return };
        match gwmo::parse_aggregate(a.data.as_ref()) {
            Ok(results) => {
                let lie = sh.faults.has("gw-failed-devices-as-success");
                j.finish(
                    results
                        .iter()
                        .map(|r| DeviceOutcome {
                            device_id: r.device_id.clone(),
                            success: lie || r.succeeded(),
                            error: r.error.clone(),
                        })
                        .collect(),
                );
            }
            Err(e) => dev
                .rec
                .errors
                .push(format!("Fanout alert from {src}: at {}: expected {}, found {}", e.pointer, e.expected, e.found)),
        }
    }
}
