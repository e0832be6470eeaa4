//! The SyncML DM 1.2 built-in checks of the GwMO table (scr/gwmo/gwmo.toml; enablers digest
//! §4, §4.7; seeds 000 and 003; docs/gwmo.md), under the names and meanings of the DM 2.0 ones
//! (`binding::dm2::gwmo_checks`): the gateway's Image Ready and Fanout alerts — Generic Alerts
//! 1226 read with [`crate::wire::dm12::gwmo`] — and, protocol-neutral
//! ([`crate::binding::gwmo_log`]), what the simulated End Devices received and the aggregate
//! judged device by device against it. Where a check follows an UNVERIFIED profile setting
//! (`gwmo_alert_type_*`), its failure says so.
use super::checks::{message, saved_message};
use super::Dm12;
use crate::binding::gwmo_log::{self, Reported};
use crate::runner::checks::{arg, arg_str, opt_arg, ArgKind, CheckCtx, CheckDef, Failure, Observed};
use crate::wire::dm12::commands::{from_arrays, to_arrays, CmdIds};
use crate::wire::dm12::gwmo::{self, DeviceResult};
use crate::wire::dm12::json::message_json;
use crate::wire::dm12::Command;
use serde_json::Value;

fn type_note(b: &Dm12) -> String {
    format!(
        "the string forms of the GwMO alert types are UNVERIFIED (enablers digest §4.2): this check follows profile \
         settings dm12.gwmo_alert_type_image_ready = {:?}, dm12.gwmo_alert_type_aggregation = {:?} (docs/gwmo.md)",
        b.profile.gwmo_alert_type_image_ready, b.profile.gwmo_alert_type_aggregation
    )
}

/// One Generic Alert 1226 (JSON view): its Items.
struct Alert1226 {
    items: Vec<Value>,
}

impl Alert1226 {
    fn has_type(&self, t: &str) -> bool {
        self.items.iter().any(|i| i.pointer("/Meta/Type").and_then(Value::as_str).map(str::trim) == Some(t))
    }
    fn pairs(&self) -> Vec<(Option<&str>, Option<&str>)> {
        self.items
            .iter()
            .map(|i| (i.get("Source").and_then(Value::as_str), i.get("Data").and_then(Value::as_str)))
            .collect()
    }
}

/// The Generic Alerts of the message saved as `args.<key>` (if given) and of the observed one.
fn alerts(args: &toml::Table, key: &str, obs: &Observed, ctx: &CheckCtx) -> Result<Vec<Alert1226>, Failure> {
    let mut views = Vec::new();
    if let Some(name) = args.get(key).and_then(|v| v.as_str()) {
        views.push(saved_message(ctx, name)?);
    }
    if let Ok((m, enc)) = message(obs) {
        views.push(message_json(&m, enc));
    }
    let mut out = Vec::new();
    for v in &views {
        for a in v.get("Commands").and_then(Value::as_array).into_iter().flatten() {
            if a.get("element").and_then(Value::as_str) == Some("Alert")
                && a.get("Data").and_then(Value::as_str).map(str::trim) == Some("1226")
            {
                let items = a.get("Items").and_then(Value::as_array).cloned().unwrap_or_default();
                out.push(Alert1226 { items });
            }
        }
    }
    Ok(out)
}

fn shown(all: &[Alert1226]) -> String {
    if all.is_empty() {
        return "no Generic Alert (Alert 1226)".into();
    }
    let items: Vec<String> = all.iter().flat_map(|a| a.items.iter().map(|i| i.to_string())).take(6).collect();
    format!("Generic Alert Items {}", items.join(", "))
}

/// `uri` without `./` and a trailing `/`.
fn norm(uri: &str) -> &str {
    uri.trim().trim_start_matches("./").trim_end_matches('/')
}

/// The instance an Exec'd operation node belongs to: the URI up to `Operations/`.
fn instance_of(uri: &str) -> &str {
    uri.find("Operations/").map(|i| &uri[..i]).unwrap_or(uri)
}

fn within(node: &str, root: &str) -> bool {
    let (n, r) = (norm(node), norm(root));
    n == r || n.starts_with(&format!("{r}/"))
}

/// The Fanout alert: the first Generic Alert with an Item of the aggregation type.
fn fanout_alert<'a>(b: &Dm12, all: &'a [Alert1226]) -> Result<&'a Alert1226, Failure> {
    let t = &b.profile.gwmo_alert_type_aggregation;
    all.iter().find(|a| a.has_type(t)).ok_or_else(|| {
        Failure::new(format!("a Generic Alert (1226) whose Items have Meta Type {t:?} (the Fanout alert)"), shown(all))
            .with_note(type_note(b))
    })
}

/// The Fanout instance an aggregate speaks of: `args.fanout`, else the first Item's Source up
/// to `Results/`.
fn fanout_of(args: &toml::Table, a: &Alert1226) -> String {
    if let Some(f) = args.get("fanout").and_then(|v| v.as_str()) {
        return f.to_string();
    }
    let marker = format!("/{}/", gwmo::RESULTS);
    a.pairs()
        .iter()
        .filter_map(|(s, _)| *s)
        .find_map(|s| s.find(&marker).map(|i| s[..i].to_string()))
        .unwrap_or_default()
}

/// The aggregate of the Fanout alert of the message saved as `args.alert`.
fn aggregate(b: &Dm12, args: &toml::Table, obs: &Observed, ctx: &CheckCtx) -> Result<Vec<Reported>, Failure> {
    let all = alerts(args, "alert", obs, ctx)?;
    let a = fanout_alert(b, &all)?;
    let fanout = fanout_of(args, a);
    let agg = gwmo::parse_aggregate(a.pairs(), &fanout).map_err(|e| {
        Failure::new("the aggregate: Items <fanout>Results/<r>/DeviceID and …/DevResultXML (docs/gwmo.md)", e)
            .with_note(type_note(b))
    })?;
    Ok(agg.iter().map(reported).collect())
}

fn reported(r: &DeviceResult) -> Reported {
    Reported {
        device_id: r.device_id.clone(),
        result_codes: r.dev_result_xml.as_ref().map(|_| r.status_codes()),
        reported_failed: r.dev_result_xml.is_none(),
        shown: format!("DevResultXML {:?}", r.dev_result_xml.as_deref().unwrap_or_default()),
    }
}

/// Command arrays in the DM 1.2 command-array form the device log uses (the defaults
/// [`from_arrays`] fills in made explicit; CmdIDs dropped).
fn normalised(arrays: Vec<Vec<String>>) -> Vec<Vec<String>> {
    match from_arrays(&arrays, &mut CmdIds::starting_at(1)) {
        Ok(c) => to_arrays(&c),
        Err(_) => arrays,
    }
}

fn commands_arg(args: &toml::Table) -> Result<Vec<Vec<String>>, Failure> {
    let bad = || Failure::case_defect("args.commands: an array of DM 1.2 command arrays");
    let arr = args.get("commands").and_then(|v| v.as_array()).ok_or_else(bad)?;
    let arrays: Vec<Vec<String>> = arr
        .iter()
        .map(|c| c.as_array().ok_or_else(bad)?.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(bad)).collect())
        .collect::<Result<_, _>>()?;
    let typed = from_arrays(&arrays, &mut CmdIds::starting_at(1)).map_err(Failure::case_defect)?;
    Ok(to_arrays(&typed))
}

pub const CHECKS: &[CheckDef<Dm12>] = &[
    CheckDef {
        name: "gw-image-ready",
        about: "args.client_uri (the Exec'd Operations/Download), args.earlier?: an Image Ready alert — a Generic \
                Alert 1226 whose Item has Meta Type profile gwmo_alert_type_image_ready and a Source in that image \
                instance — whose Data is the LocalImageURI, an http(s) URL (digest §4.7)",
        args: &[arg("client_uri", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let all = alerts(args, "earlier", obs, ctx)?;
            let t = &b.profile.gwmo_alert_type_image_ready;
            let inst = instance_of(arg_str(args, "client_uri")?);
            let typed: Vec<&Value> = all
                .iter()
                .flat_map(|a| a.items.iter())
                .filter(|i| i.pointer("/Meta/Type").and_then(Value::as_str).map(str::trim) == Some(t.as_str()))
                .collect();
            if typed.is_empty() {
                return Err(Failure::new(format!("a Generic Alert (1226) Item of Meta Type {t:?}"), shown(&all))
                    .with_note(type_note(b)));
            }
            let Some(item) =
                typed.iter().find(|i| i.get("Source").and_then(Value::as_str).is_some_and(|s| within(s, inst)))
            else {
                return Err(Failure::new(
                    format!("its Item Source in {inst} (the image instance whose Download was Exec'd)"),
                    typed.iter().map(|i| i["Source"].to_string()).collect::<Vec<_>>().join(", "),
                ));
            };
            match gwmo::local_image_uri_of(item.get("Data").and_then(Value::as_str)) {
                Some(_) => Ok(()),
                None => Err(Failure::new(
                    "Item Data the LocalImageURI, an http(s) URL (seed 000 step 4, digest §4.7)",
                    item["Data"].to_string(),
                )),
            }
        },
    },
    CheckDef {
        name: "gw-local-uri-set",
        about: "args.target (the LocalImageURI node the suite's message read with Get): its Results carry a \
                gateway-local http(s) URL (seed 000 step 3)",
        args: &[arg("target", ArgKind::Str)],
        run: |_, args, obs, _| {
            let target = arg_str(args, "target")?;
            let (m, _) = message(obs)?;
            let data = m.body.commands.iter().find_map(|c| match c {
                Command::Results(r) => r
                    .items
                    .iter()
                    .find(|i| i.source.as_ref().is_some_and(|l| norm(&l.loc_uri) == norm(target)))
                    .map(|i| i.data.as_ref().and_then(|d| d.text()).unwrap_or_default().to_string()),
                _ => None,
            });
            match data {
                Some(d) if gwmo::local_image_uri_of(Some(&d)).is_some() => Ok(()),
                Some(d) => Err(Failure::new(
                    format!("{target} holding the image's local URL (http or https)"),
                    format!("{d:?}"),
                )),
                None => Err(Failure::new(format!("Results of {target}"), "none (judged on DM12-015-C-M)")),
            }
        },
    },
    CheckDef {
        name: "gw-aggregation-alert",
        about: "args.client_uri (the Exec'd Operations/Start), args.earlier?: a Fanout alert — a Generic Alert 1226 \
                whose Items have Meta Type profile gwmo_alert_type_aggregation — carrying the aggregate of that \
                Fanout job: Items <fanout>Results/<r>/DeviceID and …/DevResultXML",
        args: &[arg("client_uri", ArgKind::Str), opt_arg("earlier", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let all = alerts(args, "earlier", obs, ctx)?;
            let a = fanout_alert(b, &all)?;
            let fanout = instance_of(arg_str(args, "client_uri")?);
            gwmo::parse_aggregate(a.pairs(), fanout).map(|_| ()).map_err(|e| {
                Failure::new(
                    format!("the aggregate of {fanout}: Items {fanout}Results/<r>/DeviceID and DevResultXML"),
                    e,
                )
                .with_note(type_note(b))
            })
        },
    },
    CheckDef {
        name: "gw-commands-received",
        about: "args.group, args.commands (the DMCommands the server set, as DM 1.2 command arrays): every member \
                that had a session got exactly these commands, in order, nothing more (both sides in the \
                command-array form, CmdIDs aside)",
        args: &[arg("group", ArgKind::Str), arg("commands", ArgKind::CommandList)],
        run: |_, args, obs, _| gwmo_log::commands_received(args, obs, &commands_arg(args)?, normalised),
    },
    CheckDef {
        name: "gw-aggregate-complete",
        about: "args.group, args.alert (the saved Fanout alert's message), args.fanout?: the aggregate has one entry \
                per member of the group, each DeviceID once, and none of any other device",
        args: &[arg("group", ArgKind::Str), arg("alert", ArgKind::Str), opt_arg("fanout", ArgKind::Str)],
        run: |b, args, obs, ctx| gwmo_log::aggregate_complete(args, obs, &aggregate(b, args, obs, ctx)?),
    },
    CheckDef {
        name: "gw-aggregate-results",
        about: "args.group, args.alert, args.fanout?: each member's entry is that device's own response (the status \
                codes of its answer, in its DevResultXML); a member that never answered has no DevResultXML",
        args: &[arg("group", ArgKind::Str), arg("alert", ArgKind::Str), opt_arg("fanout", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            gwmo_log::aggregate_results(
                args,
                obs,
                &aggregate(b, args, obs, ctx)?,
                "each device's own response as its DevResultXML, and none for a device that did not answer",
            )
        },
    },
];
