//! The reference DM 1.2 server's GwMO side (scr/gwmo/gwmo.toml, GWMO-0nn-S-*; docs/gwmo.md
//! "GwMO over SyncML DM 1.2"): it distributes an image to a DM Gateway and fans commands out
//! through it (seeds 000, 003), in the wire forms of [`crate::wire::dm12::gwmo`].
//!
//! - `gateway.image` {`dev_id` (the gateway), `image_url`, `image_uri`? (default
//!   `./GWMO/ImageInventory/img1/`)}: queues `Replace <image_uri>ImageURI` (Data `image_url`,
//!   chr) and `Exec <image_uri>Operations/Download` with the Correlator `dmcts-gw-<n>` (seed 000
//!   steps 2-3). The Image Ready alert (a Generic Alert 1226 Item with Meta Type profile
//!   `gwmo_alert_type_image_ready` and a Source in the image instance) gives the image its
//!   LocalImageURI (the Item's Data).
//! - `gateway.fanout` {`dev_id`, `group`, `image_uri`? (an image whose Image Ready came),
//!   `fanout_uri`? (default `./GWMO/Fanout/fo1/`), `commands`? (the DMCommands as command arrays,
//!   docs/dm12.md)}: DMCommands = the SyncML fragment (`fragment_xml`) of `commands`, by default
//!   `["Replace", "./SCOMO/Download/Pkg1/PkgURL", <LocalImageURI>]` and `["Exec",
//!   "./SCOMO/Download/Pkg1/Operations/Download"]`; queues `Replace <fanout_uri>DMCommands` (Meta
//!   Format `xml`), `Replace <fanout_uri>TargetGroupRef` (the group) and `Exec
//!   <fanout_uri>Operations/Start` with a Correlator (seed 003 steps 2-3). The Fanout alert (Items
//!   under `<fanout_uri>Results/`, `parse_aggregate`) records each End Device's result.
//!
//! Both Execs' 202 leave the job `accepted`; a Generic Alert of the gateway is answered 200 (as
//! every complete Generic Alert). `device.report` adds `gateway`, as the DM 2.0 server does
//! ([`crate::reference::gateway_record`]): {`images`: [{`image_uri`, `image_url`, `exec`, `state`,
//! `local_image_uri`}], `fanouts`: [{`fanout_uri`, `group`, `dm_commands` (the fragment),
//! `exec`, `state`, `results`: [{`device_id`, `success`, `error`}], `succeeded`, `failed`}]}.
use super::commands::{self, Queued};
use super::state::Device;
use crate::reference::faults::ActiveFaults;
use crate::reference::gateway_record::{instance, DeviceOutcome, FanoutJob, ImageJob};
use crate::wire::dm12::commands::{from_arrays, CmdIds};
use crate::wire::dm12::gwmo;
use crate::wire::dm12::profile::Profile;
use crate::wire::dm12::{Alert, Item};
use serde_json::{json, Value};

const DEFAULT_IMAGE_URI: &str = "./GWMO/ImageInventory/img1/";
const DEFAULT_FANOUT_URI: &str = "./GWMO/Fanout/fo1/";
/// Where each End Device is told to fetch the image from by default (its SCOMO download package).
const DEFAULT_DEVICE_PACKAGE: &str = "./SCOMO/Download/Pkg1/";

fn text<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn required<'a>(args: &'a Value, key: &str, what: &str) -> Result<&'a str, String> {
    text(args, key).ok_or_else(|| format!("args.{key} ({what}) is required"))
}

/// The Correlator of the gateway's next operation.
fn correlator(dev: &Device) -> String {
    format!("dmcts-gw-{}", dev.gateway.images.len() + dev.gateway.fanouts.len())
}

/// `gateway.image`: the commands queued for the gateway and its answer.
pub(super) fn image(dev: &mut Device, args: &Value, faults: &ActiveFaults) -> Result<Value, String> {
    let image_url = required(args, "image_url", "the image's URL")?.to_string();
    let img = instance(text(args, "image_uri").unwrap_or(DEFAULT_IMAGE_URI));
    let exec = format!("{img}Operations/Download");
    let corr = correlator(dev);
    let set = json!(["Replace", format!("{img}ImageURI"), image_url]);
    let ex = json!(["Exec", exec, "", corr]);
    let order = if faults.has("gw12-exec-before-image-uri") { [ex, set] } else { [set, ex] };
    let queued = commands::parse(Some(&Value::Array(order.to_vec()))).map_err(|e| format!("args{e}"))?;
    dev.queue.extend(queued);
    dev.gateway.images.push(ImageJob::queued(img, image_url, exec.clone()));
    Ok(json!({ "queued": dev.queue.len(), "exec": exec, "correlator": corr }))
}

/// The DMCommands fragment of `gateway.fanout`.
fn dm_commands(dev: &Device, args: &Value, faults: &ActiveFaults) -> Result<String, String> {
    let arrays: Vec<Vec<String>> = match args.get("commands") {
        Some(c) => {
            let rows =
                c.as_array().ok_or_else(|| format!("args.commands: expected an array of command arrays, found {c}"))?;
            rows.iter()
                .enumerate()
                .map(|(i, r)| {
                    r.as_array()
                        .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
                        .ok_or_else(|| format!("args.commands/{i}: expected an array of strings, found {r}"))
                })
                .collect::<Result<_, _>>()?
        }
        None => {
            let img = instance(text(args, "image_uri").unwrap_or(DEFAULT_IMAGE_URI));
            let Some(job) = dev.gateway.image(&img) else {
                return Err(format!("no image {img} was distributed to this gateway (gateway.image)"));
            };
            let Some(local) = job.local_image_uri.clone() else {
                return Err(format!("the gateway has not sent the Image Ready alert of {img} yet"));
            };
            let url = if faults.has("gw12-dmcommands-external-uri") { job.image_url.clone() } else { local };
            let p = DEFAULT_DEVICE_PACKAGE;
            vec![
                vec!["Replace".into(), format!("{p}PkgURL"), url],
                vec!["Exec".into(), format!("{p}Operations/Download")],
            ]
        }
    };
    let cmds = from_arrays(&arrays, &mut CmdIds::starting_at(1)).map_err(|e| format!("args.commands: {e}"))?;
    if cmds.is_empty() {
        return Err("args.commands: expected at least one command".into());
    }
    gwmo::fragment_xml(&cmds).map_err(|e| format!("args.commands: cannot be written as SyncML: {e}"))
}

/// `gateway.fanout`: the commands queued for the gateway and its answer.
pub(super) fn fanout(dev: &mut Device, args: &Value, faults: &ActiveFaults) -> Result<Value, String> {
    let group = required(args, "group", "the target device group")?.to_string();
    let fo = instance(text(args, "fanout_uri").unwrap_or(DEFAULT_FANOUT_URI));
    let fragment = dm_commands(dev, args, faults)?;
    let exec = format!("{fo}Operations/Start");
    let corr = correlator(dev);
    let set_cmds = json!(["Replace", format!("{fo}DMCommands"), fragment, "xml", ""]);
    let set_group = json!(["Replace", format!("{fo}TargetGroupRef"), group]);
    let start = json!(["Exec", exec, "", corr]);
    let order = if faults.has("gw12-start-before-commands") {
        [start, set_cmds, set_group]
    } else {
        [set_cmds, set_group, start]
    };
    let queued: Vec<Queued> = commands::parse(Some(&Value::Array(order.to_vec()))).map_err(|e| format!("args{e}"))?;
    dev.queue.extend(queued);
    dev.gateway.fanouts.push(FanoutJob::queued(fo, group, Value::String(fragment.clone()), exec.clone()));
    Ok(json!({ "queued": dev.queue.len(), "exec": exec, "correlator": corr, "dm_commands": fragment }))
}

/// A Generic Alert 1226 of the gateway (answered 200): Image Ready, or the Fanout alert.
pub(super) fn on_alert(dev: &mut Device, a: &Alert, profile: &Profile, faults: &ActiveFaults) {
    let typed = |t: &str| -> Vec<&Item> {
        a.items.iter().filter(|i| i.meta.as_ref().and_then(|m| m.r#type.as_deref()) == Some(t)).collect()
    };
    let text_of = |i: &Item| i.data.as_ref().and_then(|d| d.text().map(str::to_string));
    if !faults.has("gw12-image-ready-ignored") {
        for i in typed(&profile.gwmo_alert_type_image_ready) {
            let Some(src) = i.source.as_ref().map(|l| l.loc_uri.as_str()) else { continue };
            let data = text_of(i);
            let local = gwmo::local_image_uri_of(data.as_deref()).map(str::to_string);
            dev.gateway.image_ready(src, local);
        }
    }
    let aggregate = typed(&profile.gwmo_alert_type_aggregation);
    if aggregate.is_empty() || faults.has("gw12-aggregate-ignored") {
        return;
    }
    let pairs: Vec<(Option<String>, Option<String>)> =
        aggregate.iter().map(|i| (i.source.as_ref().map(|l| l.loc_uri.clone()), text_of(i))).collect();
    let Some(src) = pairs.iter().find_map(|(s, _)| s.clone()) else { return };
    let lie = faults.has("gw12-failed-devices-as-success");
    let Some(job) = dev.gateway.fanout_of(&src) else {
        super::state::push_bounded(&mut dev.report.errors, format!("Fanout alert from {src}: no fan-out of that job"));
        return;
    };
    let fanout_uri = job.fanout_uri.clone();
    match gwmo::parse_aggregate(pairs.iter().map(|(s, d)| (s.as_deref(), d.as_deref())), &fanout_uri) {
        Ok(results) => job.finish(
            results
                .iter()
                .map(|r| DeviceOutcome {
                    device_id: r.device_id.clone(),
                    success: lie || r.succeeded(),
                    error: match (&r.dev_result, r.succeeded()) {
                        (None, _) => Some("no DevResultXML: the device did not answer".into()),
                        (Some(Err(e)), _) => Some(e.clone()),
                        (Some(Ok(_)), false) => Some(format!("status codes {:?}", r.status_codes())),
                        (Some(Ok(_)), true) => None,
                    },
                })
                .collect(),
        ),
        Err(e) => super::state::push_bounded(&mut dev.report.errors, format!("Fanout alert from {src}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scr::Role;
    use crate::wire::dm12::{Data, LocRef, Meta};

    fn alert(items: &[(&str, &str, &str)]) -> Alert {
        Alert {
            data: Some("1226".into()),
            items: items
                .iter()
                .map(|(source, t, data)| Item {
                    source: Some(LocRef::uri(*source)),
                    meta: Some(Meta { r#type: Some(t.to_string()), format: Some("chr".into()), ..Meta::default() }),
                    data: Some(Data::Text(data.to_string())),
                    ..Item::default()
                })
                .collect(),
            ..Alert::default()
        }
    }

    fn targets(dev: &Device) -> Vec<String> {
        let mut next = {
            let mut n = 0;
            move || {
                n += 1;
                n.to_string()
            }
        };
        let cmds: Vec<_> = dev.queue.iter().map(|q| q.to_wire(&mut next, true)).collect();
        crate::wire::dm12::commands::to_arrays(&cmds).into_iter().map(|a| format!("{} {}", a[0], a[1])).collect()
    }

    #[test]
    fn an_image_then_its_fanout_carry_the_local_image_uri_and_the_aggregate_is_taken() {
        let none = ActiveFaults::parse(Role::Server, Vec::<String>::new()).unwrap();
        let p = Profile::default();
        let mut dev = Device::default();
        let a = image(&mut dev, &json!({ "image_url": "http://x/i.bin" }), &none).unwrap();
        assert_eq!(a["correlator"], "dmcts-gw-0");
        assert_eq!(
            targets(&dev),
            ["Replace ./GWMO/ImageInventory/img1/ImageURI", "Exec ./GWMO/ImageInventory/img1/Operations/Download"]
        );
        let e = fanout(&mut dev, &json!({ "group": "g" }), &none).unwrap_err();
        assert!(e.contains("Image Ready"), "{e}");
        dev.gateway.exec_status("./GWMO/ImageInventory/img1/Operations/Download", 202);
        on_alert(
            &mut dev,
            &alert(&[("./GWMO/ImageInventory/img1", &p.gwmo_alert_type_image_ready, " http://gw/1 ")]),
            &p,
            &none,
        );
        assert_eq!(dev.gateway.images[0].local_image_uri.as_deref(), Some("http://gw/1"));
        dev.queue.clear();
        let a = fanout(&mut dev, &json!({ "group": "g" }), &none).unwrap();
        let fragment = a["dm_commands"].as_str().unwrap();
        let cmds = crate::wire::dm12::commands::to_arrays(&gwmo::parse_dm_commands(fragment).unwrap());
        assert_eq!(cmds[0][..3], ["Replace", "./SCOMO/Download/Pkg1/PkgURL", "http://gw/1"]);
        assert_eq!(
            targets(&dev),
            [
                "Replace ./GWMO/Fanout/fo1/DMCommands",
                "Replace ./GWMO/Fanout/fo1/TargetGroupRef",
                "Exec ./GWMO/Fanout/fo1/Operations/Start"
            ]
        );
        let t = p.gwmo_alert_type_aggregation.as_str();
        let ok = r#"<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>1</CmdRef><Cmd>Replace</Cmd><Data>200</Data></Status>"#;
        on_alert(
            &mut dev,
            &alert(&[
                ("./GWMO/Fanout/fo1/Results/1/DeviceID", t, "ED-1"),
                ("./GWMO/Fanout/fo1/Results/1/DevResultXML", t, ok),
                ("./GWMO/Fanout/fo1/Results/2/DeviceID", t, "ED-2"),
            ]),
            &p,
            &none,
        );
        let j = &dev.gateway.fanouts[0];
        assert_eq!((j.succeeded.clone(), j.failed.clone()), (vec!["ED-1".to_string()], vec!["ED-2".to_string()]));
        assert_eq!(j.results[1].error.as_deref(), Some("no DevResultXML: the device did not answer"));
    }

    #[test]
    fn bad_arguments_and_aggregates_are_refused_with_the_reason() {
        let none = ActiveFaults::parse(Role::Server, Vec::<String>::new()).unwrap();
        let mut dev = Device::default();
        assert!(image(&mut dev, &json!({}), &none).unwrap_err().contains("args.image_url"));
        assert!(fanout(&mut dev, &json!({ "group": "g", "commands": [["Bogus"]] }), &none).is_err());
        assert!(fanout(&mut dev, &json!({ "group": "g", "commands": "x" }), &none)
            .unwrap_err()
            .contains("args.commands"));
        let a = fanout(&mut dev, &json!({ "group": "g", "commands": [["Get", "./DevInfo/Mod"]] }), &none).unwrap();
        assert!(a["dm_commands"].as_str().unwrap().starts_with("<Get>"));
        let p = Profile::default();
        let t = p.gwmo_alert_type_aggregation.as_str();
        on_alert(&mut dev, &alert(&[("./GWMO/Fanout/fo1/Results/1/DevResultXML", t, "<Status/>")]), &p, &none);
        assert_eq!(dev.gateway.fanouts[0].state, "queued");
        assert!(dev.report.errors.iter().any(|e| e.contains("DeviceID")), "{:?}", dev.report.errors);
    }
}
