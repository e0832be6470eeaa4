//! The GwMO gateway judgements that do not depend on the DM protocol (scr/gwmo/gwmo.toml; seeds
//! 000 and 003): what the simulated End Devices received ([`crate::peers::end_devices`], the
//! `end-devices` step's log, one shape for DM 2.0 and DM 1.2), and the aggregate judged
//! device by device against it once a binding has read it ([`Reported`]). The DM 2.0 and
//! DM 1.2 GwMO checks (`binding::dm2::gwmo_checks`, `binding::dm12::gwmo_checks`) call these
//! under the same names.
use crate::runner::checks::{arg_str, show, Failure, Observed};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The devices of the end-devices log (borrowed: it may hold 10,000 of them).
pub struct Log<'a> {
    devices: &'a [Value],
}

impl<'a> Log<'a> {
    pub fn of(obs: &'a Observed) -> Result<Log<'a>, Failure> {
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

/// One entry of an aggregate, as a binding read it.
#[derive(Debug, Clone)]
pub struct Reported {
    pub device_id: String,
    /// The status codes of the device's response the entry gives (None: no result).
    pub result_codes: Option<Vec<u16>>,
    /// The entry says the device failed in the protocol's form (DM 2.0: an Error and no
    /// DevResult; DM 1.2: no DevResultXML).
    pub reported_failed: bool,
    /// The entry's result as shown in a failure.
    pub shown: String,
}

/// `gw-image-downloaded`: args.fetched ≥ 1.
pub fn image_downloaded(args: &toml::Table) -> Result<(), Failure> {
    match args.get("fetched").and_then(|v| v.as_integer()) {
        Some(n) if n >= 1 => Ok(()),
        _ => Err(Failure::new(
            "the image completely downloaded (a whole GET of ImageURI answered) before the Image Ready alert",
            "no complete download of ImageURI when the alert arrived",
        )),
    }
}

/// `gw-members-reached`.
pub fn members_reached(args: &toml::Table, obs: &Observed) -> Result<(), Failure> {
    let group = arg_str(args, "group")?;
    let log = Log::of(obs)?;
    let missed: Vec<String> = log
        .members(group)
        .filter(|d| d["notified"].as_u64() == Some(0) || (d["behaviour"] != "silent" && d["commands"].is_null()))
        .map(id)
        .collect();
    if missed.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        format!("every member of {group} reached with the DMCommands ({} members)", log.members(group).count()),
        format!("{} not reached: {}", missed.len(), listed(&missed)),
    ))
}

/// `gw-only-members`.
pub fn only_members(args: &toml::Table, obs: &Observed) -> Result<(), Failure> {
    let group = arg_str(args, "group")?;
    let log = Log::of(obs)?;
    let wrong: Vec<String> =
        log.others(group).filter(|d| d["notified"].as_u64() != Some(0) || !d["commands"].is_null()).map(id).collect();
    if wrong.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        format!("the fan-out to the members of {group} only (TargetGroupRef)"),
        format!("{} device(s) of other groups reached: {}", wrong.len(), listed(&wrong)),
    ))
}

/// `gw-commands-received`: every member that had a session got exactly `want` (both sides put
/// through `normalise`, the binding's command-array form).
pub fn commands_received(
    args: &toml::Table,
    obs: &Observed,
    want: &[Vec<String>],
    normalise: impl Fn(Vec<Vec<String>>) -> Vec<Vec<String>>,
) -> Result<(), Failure> {
    let group = arg_str(args, "group")?;
    let log = Log::of(obs)?;
    let mut wrong = Vec::new();
    let mut example = None;
    for d in log.members(group).filter(|d| !d["commands"].is_null()) {
        let got = normalise(Vec::<Vec<String>>::deserialize(&d["commands"]).unwrap_or_default());
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
}

/// `gw-image-fetched`.
pub fn image_fetched(args: &toml::Table, obs: &Observed) -> Result<(), Failure> {
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
}

/// `gw-aggregate-complete`: one entry per member, each DeviceID once, none of another device.
pub fn aggregate_complete(args: &toml::Table, obs: &Observed, agg: &[Reported]) -> Result<(), Failure> {
    let group = arg_str(args, "group")?;
    let log = Log::of(obs)?;
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
        format!("the results of all {} members of {group}, each once ({} entries given)", members.len(), agg.len()),
        actual.join("; "),
    ))
}

/// `gw-aggregate-results`: each member's entry is its own response (the status codes it sent);
/// one that never answered is reported as failed (`failed_form` says how, in the binding).
pub fn aggregate_results(args: &toml::Table, obs: &Observed, agg: &[Reported], expected: &str) -> Result<(), Failure> {
    let group = arg_str(args, "group")?;
    let log = Log::of(obs)?;
    let by_id: BTreeMap<&str, &Reported> = agg.iter().map(|r| (r.device_id.as_str(), r)).collect();
    let mut wrong = Vec::new();
    for d in log.members(group) {
        let Some(r) = by_id.get(id(d).as_str()) else { continue };
        let answered = d["done"] == true;
        let sent: Vec<u16> = Vec::<u16>::deserialize(&d["statuses"]).unwrap_or_default();
        let ok = match answered {
            true => r.result_codes.as_ref() == Some(&sent),
            false => r.reported_failed,
        };
        if !ok {
            wrong.push(if answered {
                format!(
                    "{}: the device answered {sent:?}, the aggregate says {:?}",
                    id(d),
                    r.result_codes.clone().unwrap_or_default()
                )
            } else {
                format!("{}: the device never answered, the aggregate gives it a result {}", id(d), r.shown)
            });
        }
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        expected,
        format!("{} wrong: {}", wrong.len(), wrong.iter().take(4).cloned().collect::<Vec<_>>().join("; ")),
    ))
}
