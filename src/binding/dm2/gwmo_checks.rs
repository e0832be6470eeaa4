//! The DM 2.0 built-in checks of the GwMO table (scr/gwmo/gwmo.toml; enablers digest §4; seeds
//! 000 and 003): the gateway's Image Ready and Fanout alerts, what the simulated End Devices
//! received ([`crate::peers::end_devices`], the `end-devices` step's log) and the aggregate
//! judged device by device against it; on the server side, the DMCommands a server stores.
//! The judgements of the End Devices' log are protocol-neutral ([`crate::binding::gwmo_log`]).
//! Each judges one item. Where a check follows an UNVERIFIED profile setting (`gwmo_*`), its
//! failure says so.
use super::checks::{alerts_of, is_session_alert};
use super::Dm2;
use crate::binding::gwmo_log::{self, Reported};
use crate::runner::checks::{arg, arg_str, json_of, show, ArgKind, CheckCtx, CheckDef, Failure, Observed};
use crate::wire::dm2::gwmo::{self, DeviceResult};
use crate::wire::dm2::Profile;
use serde_json::Value;

fn type_note(p: &Profile) -> String {
    format!(
        "the DM 2.0 form of the GwMO alerts is UNVERIFIED (digest §4.2, open question 8): this check follows profile \
         settings gwmo_alert_type_image_ready = {:?}, gwmo_alert_type_aggregation = {:?}; the Data forms are in \
         docs/gwmo.md",
        p.gwmo_alert_type_image_ready, p.gwmo_alert_type_aggregation
    )
}

/// The Generic Alerts (not session alerts) of this message, or of the message saved as
/// `args.<key>`.
fn alerts(args: &toml::Table, key: &str, obs: &Observed, ctx: &CheckCtx) -> Result<Vec<Value>, Failure> {
    let j = match args.get(key).and_then(|v| v.as_str()) {
        Some(name) => {
            let Some(saved) = ctx.saved.and_then(|s| s.get(name)) else {
                return Err(Failure::case_defect(format!("a message saved earlier as {name:?} (save_as)")));
            };
            saved.get("body").unwrap_or(saved).clone()
        }
        None => json_of(obs)?,
    };
    Ok(alerts_of(&j).into_iter().filter(|a| !is_session_alert(a)).collect())
}

/// The instance an EXEC'd operation node belongs to: the ClientURI up to `Operations/`.
fn instance_of(client_uri: &str) -> &str {
    client_uri.find("Operations/").map(|i| &client_uri[..i]).unwrap_or(client_uri)
}

/// The one alert of `alert_type` whose SourceURI lies in the instance of `client_uri`.
fn find_alert(all: &[Value], alert_type: &str, client_uri: &str, p: &Profile) -> Result<Value, Failure> {
    let of_type: Vec<&Value> =
        all.iter().filter(|a| a.get("AlertType").and_then(Value::as_str) == Some(alert_type)).collect();
    let inst = instance_of(client_uri);
    match of_type.iter().find(|a| a.get("SourceURI").and_then(Value::as_str).is_some_and(|s| s.starts_with(inst))) {
        Some(a) => Ok((*a).clone()),
        None if of_type.is_empty() => Err(Failure::new(
            format!("a Generic Alert of type {alert_type:?}"),
            if all.is_empty() {
                "no Generic Alert but session alerts".into()
            } else {
                show(Some(&Value::Array(all.to_vec())))
            },
        )
        .with_note(type_note(p))),
        None => Err(Failure::new(
            format!("its SourceURI in {inst} (the instance whose operation was EXEC'd)"),
            of_type.iter().map(|a| show(a.get("SourceURI"))).collect::<Vec<_>>().join(", "),
        )),
    }
}

fn commands_arg(args: &toml::Table, key: &str) -> Result<Vec<Vec<String>>, Failure> {
    let bad = || Failure::case_defect(format!("args.{key}: an array of command arrays"));
    let arr = args.get(key).and_then(|v| v.as_array()).ok_or_else(bad)?;
    arr.iter()
        .map(|c| c.as_array().ok_or_else(bad)?.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(bad)).collect())
        .collect()
}

/// The aggregate of the Fanout alert saved as `args.alert` (the first alert of the profile's
/// aggregation type).
fn aggregate(args: &toml::Table, obs: &Observed, ctx: &CheckCtx, p: &Profile) -> Result<Vec<DeviceResult>, Failure> {
    let all = alerts(args, "alert", obs, ctx)?;
    let Some(a) =
        all.iter().find(|a| a.get("AlertType").and_then(Value::as_str) == Some(&p.gwmo_alert_type_aggregation))
    else {
        return Err(Failure::new("the Fanout alert with the aggregated results", show(Some(&Value::Array(all))))
            .with_note(type_note(p)));
    };
    gwmo::parse_aggregate(a.get("Data")).map_err(|e| {
        Failure::new(format!("at {}: {}", e.pointer, e.expected), e.found)
            .with_note("the DM 2.0 form of the aggregate is UNVERIFIED: Data {\"Results\": [{DeviceID, DevResult | Error}]} (docs/gwmo.md)")
    })
}

/// The aggregate's entries as the protocol-neutral checks read them.
fn reported(args: &toml::Table, obs: &Observed, ctx: &CheckCtx, p: &Profile) -> Result<Vec<Reported>, Failure> {
    Ok(aggregate(args, obs, ctx, p)?
        .iter()
        .map(|r| Reported {
            device_id: r.device_id.clone(),
            result_codes: r.dev_result.as_ref().map(|_| r.status_codes()),
            reported_failed: r.dev_result.is_none() && r.error.is_some(),
            shown: show(r.dev_result.as_ref()),
        })
        .collect())
}

pub const CHECKS: &[CheckDef<Dm2>] = &[
    CheckDef {
        name: "gw-image-ready",
        about: "args.client_uri (the EXEC'd Operations/Download): an Image Ready alert (profile \
                gwmo_alert_type_image_ready) from that image instance whose Data carries the LocalImageURI, a URL",
        args: &[arg("client_uri", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let p = &b.profile;
            let a = find_alert(
                &alerts(args, "earlier", obs, ctx)?,
                &p.gwmo_alert_type_image_ready,
                arg_str(args, "client_uri")?,
                p,
            )?;
            match gwmo::local_image_uri_of(a.get("Data")) {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => Ok(()),
                _ => Err(Failure::new(
                    "Data carrying the LocalImageURI, e.g. {\"LocalImageURI\": \"http://...\"} (seed 000 step 4)",
                    show(a.get("Data")),
                )
                .with_note(type_note(p))),
            }
        },
    },
    CheckDef {
        name: "gw-aggregation-alert",
        about: "args.client_uri (the EXEC'd Operations/Start): a Fanout alert (profile gwmo_alert_type_aggregation) \
                from that Fanout job, its Data the aggregated results",
        args: &[arg("client_uri", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let p = &b.profile;
            let a = find_alert(
                &alerts(args, "earlier", obs, ctx)?,
                &p.gwmo_alert_type_aggregation,
                arg_str(args, "client_uri")?,
                p,
            )?;
            gwmo::parse_aggregate(a.get("Data"))
                .map(|_| ())
                .map_err(|e| Failure::new(format!("at {}: {}", e.pointer, e.expected), e.found).with_note(type_note(p)))
        },
    },
    CheckDef {
        name: "gw-commands-received",
        about: "args.group, args.commands (the DMCommands the server set): every member that had a session got \
                exactly these commands, in order, nothing more",
        args: &[arg("group", ArgKind::Str), arg("commands", ArgKind::CommandList)],
        run: |_, args, obs, _| gwmo_log::commands_received(args, obs, &commands_arg(args, "commands")?, |c| c),
    },
    CheckDef {
        name: "gw-aggregate-complete",
        about: "args.group, args.alert (the saved Fanout alert's message): the aggregate has one entry per member \
                of the group, each DeviceID once, and none of any other device",
        args: &[arg("group", ArgKind::Str), arg("alert", ArgKind::Str)],
        run: |b, args, obs, ctx| gwmo_log::aggregate_complete(args, obs, &reported(args, obs, ctx, &b.profile)?),
    },
    CheckDef {
        name: "gw-aggregate-results",
        about: "args.group, args.alert: each member's entry is that device's own response (its Package#3 status \
                codes, as the device sent them); a member that never answered is reported as failed (Error, no \
                DevResult)",
        args: &[arg("group", ArgKind::Str), arg("alert", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            gwmo_log::aggregate_results(
                args,
                obs,
                &reported(args, obs, ctx, &b.profile)?,
                "each device's own result (DevResult), and a failure (Error) for a device that did not answer",
            )
        },
    },
    CheckDef {
        name: "gw-dmcommands-carry",
        about: "args.value (the LocalImageURI): the DMCommands the server stored (the data its HGET serves) carry \
                the value, in whatever form (seed 000 step 5)",
        args: &[arg("value", ArgKind::Str)],
        run: |_, args, obs, _| {
            let want = arg_str(args, "value")?;
            let j = json_of(obs)?;
            fn has(v: &Value, want: &str) -> bool {
                match v {
                    Value::String(s) => s.contains(want),
                    Value::Array(a) => a.iter().any(|x| has(x, want)),
                    Value::Object(o) => o.values().any(|x| has(x, want)),
                    _ => false,
                }
            }
            if has(&j, want) {
                return Ok(());
            }
            Err(Failure::new(format!("DMCommands that include the LocalImageURI {want}"), show(Some(&j))))
        },
    },
];
