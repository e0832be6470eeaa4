//! The reference DM 1.2 server's FUMO and SCOMO management (enablers digest §1.2, §2.7, §3.6):
//! the upper-tester actions `firmware.update` and `software.install|remove|activate|deactivate`
//! become queued commands in the seeds' DM 1.x form — the package (Replace of
//! `<fumo>Update/PkgData`, Add of `Inventory/Delivered/<x>` with its Data) or its URL (Replace of
//! `<fumo>DownloadAndUpdate/PkgURL`) before an Exec of the operation node with a Correlator —
//! and each becomes a job that `device.report` lists (`firmware`, `software`): pending after the
//! device's 202, finished once the Generic Alert 1226 with the job's Correlator brings its
//! ResultCode (FUMO: the integer Data; SCOMO: `<ResultCode>` in Data).
use super::commands::{self, Queued};
use crate::reference::faults::ActiveFaults;
use crate::wire::dm2::{fumo, scomo};
use serde_json::{json, Value};

/// What an enabler job is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Firmware,
    Software,
}

/// One operation the server started.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub kind: Kind,
    /// `dm`, `download_and_update` (firmware); `install`, `remove`, `activate`, `deactivate`
    /// (software).
    pub operation: String,
    /// The Exec, as a command array `["Exec", target, "", correlator]`.
    pub exec: Vec<String>,
    pub correlator: String,
    /// The Status the device gave the Exec.
    pub status: Option<u16>,
    pub result_code: Option<i64>,
    pub finished: bool,
    pub success: Option<bool>,
}

impl Job {
    /// A job whose Exec is about to be queued: nothing answered yet.
    fn queued(kind: Kind, operation: &str, exec: Vec<String>, correlator: String) -> Job {
        Job {
            kind,
            operation: operation.to_string(),
            exec,
            correlator,
            status: None,
            result_code: None,
            finished: false,
            success: None,
        }
    }

    fn target(&self) -> &str {
        self.exec.get(1).map(String::as_str).unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        match self.kind {
            Kind::Firmware => json!({
                "mode": self.operation, "exec": self.exec, "correlator": self.correlator, "status": self.status,
                "finished": self.finished, "result_code": self.result_code, "success": self.success,
            }),
            Kind::Software => {
                let outcome = match (self.finished, self.success) {
                    (true, Some(true)) => "succeeded",
                    (true, _) => "failed",
                    (false, _) if self.status.is_some() => "pending",
                    (false, _) => "queued",
                };
                json!({
                    "op": self.operation, "exec": self.exec, "correlator": self.correlator, "status": self.status,
                    "outcome": outcome, "result_code": self.result_code,
                })
            }
        }
    }
}

fn text<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn required<'a>(args: &'a Value, key: &str) -> Result<&'a str, String> {
    text(args, key).ok_or_else(|| format!("args.{key} (a non-empty string) is required"))
}

/// `root` with exactly one trailing `/`.
fn root(args: &Value, key: &str, default: &str) -> String {
    format!("{}/", text(args, key).unwrap_or(default).trim_end_matches('/'))
}

/// `firmware.update` {`mode`: `dm` | `download_and_update`, `package_url`, `data`?, `confirm`?,
/// `fumo_uri`? (default `./FUMO/`)}: the commands to queue and the job. Job `n` names the
/// Correlator.
pub(super) fn firmware_update(args: &Value, n: usize, faults: &ActiveFaults) -> Result<(Vec<Queued>, Job), String> {
    let fumo = root(args, "fumo_uri", "./FUMO");
    let mode = text(args, "mode").unwrap_or("dm");
    let url = required(args, "package_url")?;
    let correlator = format!("dmcts-fw-{n}");
    let (prepare, node) = match mode {
        "dm" => {
            // The reference server has no firmware to deliver: the package data names its URL.
            let data = text(args, "data").map(str::to_string).unwrap_or_else(|| format!("firmware package {url}"));
            (
                vec![json!(["Replace", format!("{fumo}Update/PkgData"), data, "bin", "application/octet-stream"])],
                "Update",
            )
        }
        "download_and_update" => {
            (vec![json!(["Replace", format!("{fumo}DownloadAndUpdate/PkgURL"), url])], "DownloadAndUpdate")
        }
        other => {
            return Err(format!(
                "args.mode {other:?}: the reference DM 1.2 server updates in mode \"dm\" or \"download_and_update\""
            ))
        }
    };
    let with_corr = if faults.has("fumo12-no-correlator") { "" } else { correlator.as_str() };
    let exec = vec!["Exec".to_string(), format!("{fumo}{node}"), String::new(), with_corr.to_string()];
    let mut cmds = Vec::new();
    let confirm = args.get("confirm").and_then(Value::as_bool).unwrap_or(false);
    let exec_cmds: Vec<Value> = if confirm {
        vec![
            json!(["Sequence", "2"]),
            json!(["Alert", "1101", "MINDT=10", "Install the firmware update?"]),
            json!(exec),
        ]
    } else {
        vec![json!(exec)]
    };
    if faults.has("fumo12-exec-before-package") {
        cmds.extend(exec_cmds);
        cmds.extend(prepare);
    } else {
        cmds.extend(prepare);
        cmds.extend(exec_cmds);
    }
    let queued = commands::parse(Some(&Value::Array(cmds))).map_err(|e| format!("args{e}"))?;
    Ok((queued, Job::queued(Kind::Firmware, mode, exec, correlator)))
}

/// `software.install` {`package_id`, `mode`: `dm` (`data`) | `download` (`url` or
/// `descriptor_url`, `install`?), `activate`?, `entry`?, `scomo_uri`? (default `./SCOMO/`)} and `software.remove|activate|deactivate` {`component_id`,
/// `scomo_uri`?}: the commands to queue and the job.
pub(super) fn software(
    action: &str,
    args: &Value,
    n: usize,
    faults: &ActiveFaults,
) -> Result<(Vec<Queued>, Job), String> {
    let scomo = root(args, "scomo_uri", "./SCOMO");
    let correlator = format!("dmcts-sw-{n}");
    let corr = correlator.clone();
    let mut cmds = Vec::new();
    let (operation, target) = match action {
        "software.install" if text(args, "mode") == Some("download") => {
            // Seed 5.4.2.1 steps 5-6 (digest §3.6 B): Download/<x> with its PkgID and PkgURL,
            // then an Exec of its DownloadInstall (or DownloadInstallInactive, or Download alone).
            let id = required(args, "package_id")?;
            let url = text(args, "url").or_else(|| text(args, "descriptor_url")).ok_or_else(|| {
                "args.url (or descriptor_url), the package's URL, is required in mode \"download\"".to_string()
            })?;
            let entry = text(args, "entry").unwrap_or("pkg1");
            let dl = format!("{scomo}Download/{entry}");
            cmds.push(json!(["Add", dl]));
            cmds.push(json!(["Add", format!("{dl}/PkgID"), id]));
            cmds.push(json!(["Add", format!("{dl}/PkgURL"), url]));
            let activate = args.get("activate").and_then(Value::as_bool).unwrap_or(true);
            let install = args.get("install").and_then(Value::as_bool).unwrap_or(true);
            let op = match (install, activate) {
                _ if faults.has("scomo12-download-wrong-op") => "Install",
                (false, _) => "Download",
                (true, true) => "DownloadInstall",
                (true, false) => "DownloadInstallInactive",
            };
            ("install", format!("{dl}/Operations/{op}"))
        }
        "software.install" => {
            if text(args, "mode").is_some_and(|m| m != "dm") {
                return Err("args.mode: the reference DM 1.2 server installs in mode \"dm\" or \"download\"".into());
            }
            let id = required(args, "package_id")?;
            let data = required(args, "data")?;
            let entry = text(args, "entry").unwrap_or("pkg1");
            let dp = format!("{scomo}Inventory/Delivered/{entry}");
            cmds.push(json!(["Add", dp]));
            cmds.push(json!(["Add", format!("{dp}/PkgID"), id]));
            if !faults.has("scomo12-install-no-delivery") {
                cmds.push(json!(["Add", format!("{dp}/Data"), data, "bin", "application/octet-stream"]));
            }
            let op = if args.get("activate").and_then(Value::as_bool).unwrap_or(true) {
                "Install"
            } else {
                "InstallInactive"
            };
            ("install", format!("{dp}/Operations/{op}"))
        }
        "software.remove" | "software.activate" | "software.deactivate" => {
            let c = required(args, "component_id")?;
            let (op, node) = match action {
                "software.remove" => ("remove", "Remove"),
                "software.activate" => ("activate", "Activate"),
                _ => ("deactivate", "Deactivate"),
            };
            let dc = format!("{scomo}Inventory/Deployed/{c}");
            let target = if faults.has("scomo12-op-wrong-node") { dc } else { format!("{dc}/Operations/{node}") };
            (op, target)
        }
        other => return Err(format!("{other}: not a software action")),
    };
    let exec = vec!["Exec".to_string(), target, String::new(), corr];
    cmds.push(json!(exec));
    let queued = commands::parse(Some(&Value::Array(cmds))).map_err(|e| format!("args{e}"))?;
    Ok((queued, Job::queued(Kind::Software, operation, exec, correlator)))
}

/// A software inventory query (`software.inventory`, SCOMO-018-S-O; seed 001 5.4.1.3): a Get of
/// `<scomo>Inventory/Deployed` (its child list), then, as its Results come, a Get of each
/// component's leaves; what the device answered is what `device.report`'s `inventory` shows.
#[derive(Debug, Clone, Default)]
pub(super) struct Inventory {
    /// `<scomo>Inventory/Deployed`, as the server addressed it.
    deployed: String,
    /// The device answered the child list.
    read: bool,
    /// Per component node: its leaves as the device gave them.
    components: std::collections::BTreeMap<String, serde_json::Map<String, Value>>,
    /// The `scomo12-inventory-not-read` fault: the answers are dropped.
    ignore: bool,
}

/// The component leaves the inventory reads (digest §3.2).
const COMPONENT_LEAVES: [&str; 5] = ["ID", "Name", "Version", "PkgIDRef", "State"];

/// `software.inventory` {`scomo_uri`?}: the Get to queue and the query's record.
pub(super) fn inventory(args: &Value, faults: &ActiveFaults) -> Result<(Vec<Queued>, Inventory), String> {
    let deployed = format!("{}Inventory/Deployed", root(args, "scomo_uri", "./SCOMO"));
    let queued = commands::parse(Some(&json!([["Get", deployed]]))).map_err(|e| format!("args{e}"))?;
    let ignore = faults.has("scomo12-inventory-not-read");
    Ok((queued, Inventory { deployed, ignore, ..Inventory::default() }))
}

impl Inventory {
    /// A Results item of the device: the child list asks for each component's leaves (the Gets
    /// returned, to queue); a leaf is recorded.
    pub fn on_result(&mut self, source: &str, data: &str) -> Vec<Queued> {
        let norm = |u: &str| u.trim().trim_start_matches("./").trim_end_matches('/').to_string();
        let (source, deployed) = (norm(source), norm(&self.deployed));
        if self.ignore {
            return Vec::new();
        }
        if source == deployed {
            self.read = true;
            let gets: Vec<Value> = data
                .split('/')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .flat_map(|c| COMPONENT_LEAVES.map(|leaf| json!(["Get", format!("{}/{c}/{leaf}", self.deployed)])))
                .collect();
            return commands::parse(Some(&Value::Array(gets))).unwrap_or_default();
        }
        let Some((node, leaf)) = source.strip_prefix(&format!("{deployed}/")).and_then(|r| r.split_once('/')) else {
            return Vec::new();
        };
        self.components.entry(node.to_string()).or_default().insert(leaf.to_string(), json!(data));
        Vec::new()
    }

    /// `device.report`'s `inventory`: `{read, components: [{node, <leaf>: value…}]}`.
    pub fn json(&self) -> Value {
        let components: Vec<Value> = self
            .components
            .iter()
            .map(|(node, leaves)| {
                let mut o = leaves.clone();
                o.insert("node".into(), json!(node));
                Value::Object(o)
            })
            .collect();
        json!({ "read": self.read, "components": components })
    }
}

/// The device's Status for an Exec the server sent: 202 leaves the job pending (the result
/// comes later, digest §1.2); an error finishes it as failed; another 2xx finished it.
pub(super) fn on_exec_status(jobs: &mut [Job], target: &str, code: u16, faults: &ActiveFaults) {
    let Some(job) = jobs.iter_mut().find(|j| !j.finished && j.status.is_none() && j.target() == target) else {
        return;
    };
    job.status = Some(code);
    let taken_as_final = match job.kind {
        Kind::Firmware => faults.has("fumo12-202-final"),
        Kind::Software => false,
    };
    if code == 202 && !taken_as_final {
        return;
    }
    job.finished = true;
    job.success = Some((200..300).contains(&code));
}

/// A Generic Alert 1226 Item: the job whose Correlator it carries (else whose Exec node its
/// Source names) takes its ResultCode.
pub(super) fn on_result_alert(
    jobs: &mut [Job],
    correlator: Option<&str>,
    source: Option<&str>,
    data: Option<&str>,
    faults: &ActiveFaults,
) {
    let job = jobs.iter_mut().filter(|j| j.result_code.is_none()).find(|j| match correlator {
        Some(c) => j.correlator == c,
        None => source.is_some_and(|s| s == j.target()),
    });
    let Some(job) = job else { return };
    let ignored = match job.kind {
        Kind::Firmware => faults.has("fumo12-result-ignored"),
        Kind::Software => faults.has("scomo12-result-ignored"),
    };
    if ignored {
        return;
    }
    let data = data.unwrap_or_default();
    let (code, success) = match job.kind {
        Kind::Firmware => {
            let code = data.trim().parse::<i64>().ok();
            (code, code.map(|c| fumo::is_success(c) || faults.has("fumo12-failure-as-success")))
        }
        Kind::Software => {
            let code = data
                .find("<ResultCode>")
                .and_then(|s| data[s + 12..].split("</ResultCode>").next())
                .and_then(|c| c.trim().parse::<u16>().ok());
            (code.map(i64::from), code.map(|c| scomo::is_success(c) || faults.has("scomo12-failure-as-success")))
        }
    };
    job.result_code = code;
    job.success = success;
    job.finished = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scr::Role;

    #[test]
    fn a_firmware_job_is_pending_after_202_and_takes_its_result_by_correlator() {
        let none = ActiveFaults::parse(Role::Server, Vec::<String>::new()).unwrap();
        let (cmds, job) = firmware_update(&json!({"mode": "dm", "package_url": "http://x/p"}), 0, &none).unwrap();
        assert_eq!(cmds.len(), 2);
        assert_eq!(job.exec, ["Exec", "./FUMO/Update", "", "dmcts-fw-0"]);
        let mut jobs = vec![job];
        on_exec_status(&mut jobs, "./FUMO/Update", 202, &none);
        assert!(!jobs[0].finished);
        on_result_alert(&mut jobs, Some("dmcts-fw-0"), None, Some("412"), &none);
        assert_eq!((jobs[0].finished, jobs[0].result_code, jobs[0].success), (true, Some(412), Some(false)));
        let (_, sw) = software("software.remove", &json!({"component_id": "c"}), 1, &none).unwrap();
        let mut jobs = vec![sw];
        on_result_alert(&mut jobs, Some("dmcts-sw-1"), None, Some("<ResultCode>1200</ResultCode>"), &none);
        assert_eq!(jobs[0].json()["outcome"], "succeeded");
    }
}
