//! The DM 2.0 built-in checks of the GwMO table (scr/gwmo/gwmo.toml; enablers digest §4; seeds
//! 000 and 003): the gateway's Image Ready and Fanout alerts, what the simulated End Devices
//! received ([`crate::peers::end_devices`], the `end-devices` step's log) and the aggregate
//! judged device by device against it; on the server side, the DMCommands a server stores.
//! Each judges one item. Where a check follows an UNVERIFIED profile setting (`gwmo_*`), its
//! failure says so.
use super::checks::{alerts_of, is_session_alert};
use super::Dm2;
use crate::runner::checks::{arg, arg_str, json_of, show, ArgKind, CheckCtx, CheckDef, Failure, Observed};
use crate::wire::dm2::gwmo::{self, DeviceResult};
use crate::wire::dm2::Profile;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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

/// The devices of the end-devices log (borrowed: it may hold 10,000 of them), and the members
/// of `group`.
struct Log<'a> {
    devices: &'a [Value],
}

impl<'a> Log<'a> {
    fn of(obs: &'a Observed) -> Result<Log<'a>, Failure> {
        match obs {
            Observed::Json(v) => Ok(Log { devices: v["devices"].as_array().map(Vec::as_slice).unwrap_or_default() }),
            _ => Err(Failure::case_defect("the end devices' log (an `end-devices` step with `group`)")),
        }
    }
    fn members<'b>(&'b self, group: &'b str) -> impl Iterator<Item = &'b Value> + 'b {
        self.devices.iter().filter(move |d| d["group"] == group)
    }
    fn others<'b>(&'b self, group: &'b str) -> impl Iterator<Item = &'b Value> + 'b {
        self.devices.iter().filter(move |d| d["group"] != group)
    }
}

fn id(d: &Value) -> String {
    d["id"].as_str().unwrap_or_default().to_string()
}

fn listed(ids: &[String]) -> String {
    crate::runner::steps::end_devices::preview(ids)
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

pub const CHECKS: &[CheckDef<Dm2>] = &[
    CheckDef {
        name: "gw-image-downloaded",
        about: "args.fetched (${download.<object>.fetched}, taken when the Image Ready alert arrived): the image was \
                completely fetched before the gateway said it was ready (seed 000 step 3-4)",
        args: &[arg("fetched", ArgKind::Int)],
        run: |_, args, _, _| match args.get("fetched").and_then(|v| v.as_integer()) {
            Some(n) if n >= 1 => Ok(()),
            _ => Err(Failure::new(
                "the image completely downloaded (a whole GET of ImageURI answered) before the Image Ready alert",
                "no complete download of ImageURI when the alert arrived",
            )),
        },
    },
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
        name: "gw-members-reached",
        about: "args.group: every member of the group was notified, and every one that answers got the commands in \
                a session (end-devices log)",
        args: &[arg("group", ArgKind::Str)],
        run: |_, args, obs, _| {
            let group = arg_str(args, "group")?;
            let log = Log::of(obs)?;
            let missed: Vec<String> = log
                .members(group)
                .filter(|d| {
                    d["notified"].as_u64() == Some(0) || (d["behaviour"] != "silent" && d["commands"].is_null())
                })
                .map(id)
                .collect();
            if missed.is_empty() {
                return Ok(());
            }
            Err(Failure::new(
                format!("every member of {group} reached with the DMCommands ({} members)", log.members(group).count()),
                format!("{} not reached: {}", missed.len(), listed(&missed)),
            ))
        },
    },
    CheckDef {
        name: "gw-only-members",
        about: "args.group: no end device outside the group was notified or got commands",
        args: &[arg("group", ArgKind::Str)],
        run: |_, args, obs, _| {
            let group = arg_str(args, "group")?;
            let log = Log::of(obs)?;
            let wrong: Vec<String> = log
                .others(group)
                .filter(|d| d["notified"].as_u64() != Some(0) || !d["commands"].is_null())
                .map(id)
                .collect();
            if wrong.is_empty() {
                return Ok(());
            }
            Err(Failure::new(
                format!("the fan-out to the members of {group} only (TargetGroupRef)"),
                format!("{} device(s) of other groups reached: {}", wrong.len(), listed(&wrong)),
            ))
        },
    },
    CheckDef {
        name: "gw-commands-received",
        about: "args.group, args.commands (the DMCommands the server set): every member that had a session got \
                exactly these commands, in order, nothing more",
        args: &[arg("group", ArgKind::Str), arg("commands", ArgKind::CommandList)],
        run: |_, args, obs, _| {
            let group = arg_str(args, "group")?;
            let want = commands_arg(args, "commands")?;
            let log = Log::of(obs)?;
            let mut wrong = Vec::new();
            let mut example = None;
            for d in log.members(group).filter(|d| !d["commands"].is_null()) {
                let got: Vec<Vec<String>> = Vec::<Vec<String>>::deserialize(&d["commands"]).unwrap_or_default();
                if got != want {
                    example.get_or_insert_with(|| format!("{}: {}", id(d), show(Some(&d["commands"]))));
                    wrong.push(id(d));
                }
            }
            match example {
                None => Ok(()),
                Some(e) => Err(Failure::new(
                    format!("each device given exactly the DMCommands {}", show(Some(&serde_json::json!(want)))),
                    format!("{} device(s) got other commands ({}); e.g. {e}", wrong.len(), listed(&wrong)),
                )),
            }
        },
    },
    CheckDef {
        name: "gw-image-fetched",
        about: "args.group, args.url (the LocalImageURI), args.sha256 (the image's digest): every member that \
                executes the commands fetched the image from the url, whole and unchanged",
        args: &[arg("group", ArgKind::Str), arg("url", ArgKind::Str), arg("sha256", ArgKind::Str)],
        run: |_, args, obs, _| {
            let (group, url, sha) = (arg_str(args, "group")?, arg_str(args, "url")?, arg_str(args, "sha256")?);
            let log = Log::of(obs)?;
            let mut wrong = Vec::new();
            let mut example = None;
            for d in log.members(group).filter(|d| d["behaviour"] != "silent" && d["behaviour"] != "erroring") {
                let ok = d["fetches"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|f| f["url"] == url && f["status"] == 200 && f["sha256"] == sha);
                if !ok {
                    example.get_or_insert_with(|| format!("{}: {}", id(d), show(Some(&d["fetches"]))));
                    wrong.push(id(d));
                }
            }
            match example {
                None => Ok(()),
                Some(e) => Err(Failure::new(
                    format!("the image (sha256 {sha}) served at the LocalImageURI {url} to every device"),
                    format!("{} device(s) did not get it ({}); e.g. {e}", wrong.len(), listed(&wrong)),
                )),
            }
        },
    },
    CheckDef {
        name: "gw-aggregate-complete",
        about: "args.group, args.alert (the saved Fanout alert's message): the aggregate has one entry per member \
                of the group, each DeviceID once, and none of any other device",
        args: &[arg("group", ArgKind::Str), arg("alert", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let group = arg_str(args, "group")?;
            let log = Log::of(obs)?;
            let agg = aggregate(args, obs, ctx, &b.profile)?;
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            agg.iter().for_each(|r| *seen.entry(r.device_id.as_str()).or_default() += 1);
            let members: BTreeSet<String> = log.members(group).map(id).collect();
            let missing: Vec<String> = members.iter().filter(|m| !seen.contains_key(m.as_str())).cloned().collect();
            let twice: Vec<String> = seen.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k.to_string()).collect();
            let extra: Vec<String> = seen.keys().filter(|k| !members.contains(**k)).map(|k| k.to_string()).collect();
            if missing.is_empty() && twice.is_empty() && extra.is_empty() {
                return Ok(());
            }
            let mut actual = Vec::new();
            if !missing.is_empty() {
                actual.push(format!("{} member(s) missing: {}", missing.len(), listed(&missing)));
            }
            if !twice.is_empty() {
                actual.push(format!("given twice: {}", listed(&twice)));
            }
            if !extra.is_empty() {
                actual.push(format!("{} device(s) outside {group}: {}", extra.len(), listed(&extra)));
            }
            Err(Failure::new(
                format!(
                    "the results of all {} members of {group}, each once ({} entries given)",
                    members.len(),
                    agg.len()
                ),
                actual.join("; "),
            ))
        },
    },
    CheckDef {
        name: "gw-aggregate-results",
        about: "args.group, args.alert: each member's entry is that device's own response (its Package#3 status \
                codes, as the device sent them); a member that never answered is reported as failed (Error, no \
                DevResult)",
        args: &[arg("group", ArgKind::Str), arg("alert", ArgKind::Str)],
        run: |b, args, obs, ctx| {
            let group = arg_str(args, "group")?;
            let log = Log::of(obs)?;
            let agg = aggregate(args, obs, ctx, &b.profile)?;
            let by_id: BTreeMap<&str, &DeviceResult> = agg.iter().map(|r| (r.device_id.as_str(), r)).collect();
            let mut wrong = Vec::new();
            for d in log.members(group) {
                let Some(r) = by_id.get(id(d).as_str()) else { continue };
                let answered = d["done"] == true;
                let sent: Vec<u16> = Vec::<u16>::deserialize(&d["statuses"]).unwrap_or_default();
                let ok = match answered {
                    true => r.dev_result.is_some() && r.status_codes() == sent,
                    false => r.dev_result.is_none() && r.error.is_some(),
                };
                if !ok {
                    let what = if answered {
                        format!("{}: the device answered {sent:?}, the aggregate says {:?}", id(d), r.status_codes())
                    } else {
                        format!(
                            "{}: the device never answered, the aggregate gives it a result {}",
                            id(d),
                            show(r.dev_result.as_ref())
                        )
                    };
                    wrong.push(what);
                }
            }
            if wrong.is_empty() {
                return Ok(());
            }
            Err(Failure::new(
                "each device's own result (DevResult), and a failure (Error) for a device that did not answer",
                format!("{} wrong: {}", wrong.len(), wrong.iter().take(4).cloned().collect::<Vec<_>>().join("; ")),
            ))
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
