//! The reference DM 1.2 client's FUMO and SCOMO management objects (enablers digest §1.2, §2,
//! §3): the nodes, what a write into them changes, which Execs start an operation, and the
//! operation itself, run after the session that Exec'd it (202 now, the result later in a
//! Generic Alert 1226 echoing the Exec's Correlator, in a new client-initiated session).
//!
//! FUMO at `./FUMO` (one instance: PkgName, PkgVersion, Download/PkgURL, Update/PkgData,
//! DownloadAndUpdate/PkgURL, State): Replace of Update/PkgData sets State 50; Exec Update
//! applies the delivered package (60, then 100); Exec Download fetches PkgURL (30, then 50 or
//! 20); Exec DownloadAndUpdate fetches and applies. The alert: Meta Type the operation's FUMO
//! type, Format `int`, Source the Exec'd node, Data the ResultCode (digest §2.5.2).
//!
//! SCOMO at `./SCOMO` (Download, Inventory/Delivered, Inventory/Deployed): a package the server
//! Adds under Inventory/Delivered/<x> gets State 10 and the operations Install, InstallInactive,
//! Remove; Install deploys a component Inventory/Deployed/<x> (ID, Name, Version, PkgIDRef =
//! PkgID, State 20, operations Activate, Deactivate, Remove). The alert: Meta Type
//! `urn:oma:at:scomo:1.0:OperationComplete`, Format `xml`, Source the Exec'd node, Target the
//! component, Data `<ResultCode>NNNN</ResultCode><Identifier>…</Identifier>` (digest §3.4).
use super::tree::{Node, Tree};
use super::{Faults, GenericAlert};
use crate::wire::dm2::fumo::{self, state, Operation};
use crate::wire::dm2::scomo;

/// The FUMO instance (tree path).
pub const FUMO: &str = "FUMO";
/// The SCOMO root (tree path).
pub const SCOMO: &str = "SCOMO";
/// The SCOMO result alert type the reference sends (digest §3.4).
pub const SCOMO_ALERT_TYPE: &str = "urn:oma:at:scomo:1.0:OperationComplete";

const DELIVERED: &str = "SCOMO/Inventory/Delivered";
const DEPLOYED: &str = "SCOMO/Inventory/Deployed";

/// An operation accepted with 202, run once the session is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub op: Op,
    /// The Exec'd node's URI as the server wrote it (the alert's Source).
    pub uri: String,
    /// Its tree path.
    pub path: String,
    pub correlator: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Fumo(Operation),
    /// A SCOMO operation on the package or component at `Job::path`'s grandparent.
    Scomo(ScomoOp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScomoOp {
    Install { active: bool },
    RemovePackage,
    Activate,
    Deactivate,
    RemoveComponent,
}

/// Adds the FUMO and SCOMO nodes to the provisioned tree.
/// The Type property of an MO instance's root is its MO identifier (digest §11.4: "interior:
/// MO identifier").
pub fn provision(t: &mut Tree) {
    let leaf = |v: &str| Node { format: "chr".into(), ..Node::leaf(v) };
    let mo = |moid: &str| Node { r#type: Some(moid.into()), ..Node::interior().permanent() };
    t.insert(FUMO, mo(fumo::MOID_FUMO));
    t.insert("FUMO/PkgName", leaf("reference-firmware"));
    t.insert("FUMO/PkgVersion", leaf("1.0.0"));
    for op in Operation::ALL {
        t.insert(&format!("FUMO/{}", op.node()), Node { executable: true, ..Node::interior().permanent() });
    }
    t.insert("FUMO/Download/PkgURL", leaf(""));
    t.insert("FUMO/DownloadAndUpdate/PkgURL", leaf(""));
    t.insert("FUMO/Update/PkgData", Node { format: "bin".into(), ..Node::leaf("") });
    t.insert("FUMO/State", Node { format: "int".into(), ..Node::leaf(&state::IDLE.to_string()) });
    t.insert(SCOMO, mo(scomo::MOID));
    for p in ["SCOMO/Download", "SCOMO/Inventory", DELIVERED, DEPLOYED] {
        t.insert(p, Node::interior().permanent());
    }
}

fn value(t: &Tree, path: &str) -> String {
    t.get(path).and_then(|n| n.value.as_ref()).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
}

fn set(t: &mut Tree, path: &str, v: &str) {
    let format = t.get(path).map(|n| n.format.clone()).unwrap_or_else(|| "chr".into());
    t.insert(path, Node { format, ..Node::leaf(v) });
}

/// After a successful Add/Replace of `path`: the MO's own bookkeeping.
pub fn after_write(t: &mut Tree, path: &str, faults: &Faults) {
    if path == "FUMO/Update/PkgData" && !faults.has("fumo12-pkgdata-state-unchanged") {
        set(t, "FUMO/State", &state::READY_TO_UPDATE.to_string());
    }
    // A new package Inventory/Delivered/<x>: Delivered (10), with its operations.
    if let Some(x) = path.strip_prefix(&format!("{DELIVERED}/")).filter(|x| !x.contains('/')) {
        let dp = format!("{DELIVERED}/{x}");
        if !faults.has("scomo12-delivered-no-state") {
            t.insert(&format!("{dp}/State"), Node { format: "int".into(), ..Node::leaf(scomo::DP_DELIVERED) });
        }
        t.insert(&format!("{dp}/Operations"), Node::interior());
        for op in scomo::DELIVERED_OPS {
            t.insert(&format!("{dp}/Operations/{op}"), Node { executable: true, ..Node::interior() });
        }
    }
}

/// The user declined a confirmation (Alert 1101 answered 304 or 214): nothing happens, unless
/// the fault `fumo12-ui-decline-ignored` installs the delivered firmware anyway.
pub fn declined(t: &mut Tree, faults: &Faults) {
    if faults.has("fumo12-ui-decline-ignored") && !value(t, "FUMO/Update/PkgData").is_empty() {
        set(t, "FUMO/PkgVersion", "2.0.0");
        set(t, "FUMO/State", &state::UPDATE_SUCCESSFUL_NO_DATA.to_string());
    }
}

/// Whether an Exec of `path` starts an enabler operation; the job to run after the session.
pub fn exec(t: &Tree, path: &str, uri: &str, correlator: Option<&str>) -> Option<Job> {
    let op = if let Some(name) = path.strip_prefix("FUMO/") {
        Op::Fumo(Operation::from_node(name)?)
    } else {
        let (owner, op) = path.rsplit_once("/Operations/")?;
        let (parent, _) = owner.rsplit_once('/')?;
        t.get(owner)?;
        Op::Scomo(match (parent, op) {
            (DELIVERED, "Install") => ScomoOp::Install { active: true },
            (DELIVERED, "InstallInactive") => ScomoOp::Install { active: false },
            (DELIVERED, "Remove") => ScomoOp::RemovePackage,
            (DEPLOYED, "Activate") => ScomoOp::Activate,
            (DEPLOYED, "Deactivate") => ScomoOp::Deactivate,
            (DEPLOYED, "Remove") => ScomoOp::RemoveComponent,
            _ => return None,
        })
    };
    Some(Job { op, uri: uri.into(), path: path.into(), correlator: correlator.map(str::to_string) })
}

/// The Status of an accepted enabler Exec: 202, the result comes later (digest §1.2).
pub fn accepted_code(job: &Job, faults: &Faults) -> u16 {
    let synchronous = match job.op {
        Op::Fumo(_) => faults.has("fumo12-no-202"),
        Op::Scomo(_) => faults.has("scomo12-no-202"),
    };
    if synchronous {
        200
    } else {
        202
    }
}

/// What an operation needs from the network: the URL to fetch (FUMO Download,
/// DownloadAndUpdate).
pub fn fetch_url(t: &Tree, job: &Job) -> Option<String> {
    match job.op {
        Op::Fumo(Operation::Download) => Some(value(t, "FUMO/Download/PkgURL")),
        Op::Fumo(Operation::DownloadAndUpdate) => Some(value(t, "FUMO/DownloadAndUpdate/PkgURL")),
        _ => None,
    }
}

/// The outcome of a fetch: the body, or the FUMO ResultCode of the failure.
pub type Fetched = Result<Vec<u8>, u16>;

/// Runs the operation on the tree (after the session; `fetched` is the download when the
/// operation has one) and returns the result alert, unless a fault suppresses it.
pub fn run(t: &mut Tree, job: &Job, fetched: Option<Fetched>, faults: &Faults) -> Option<GenericAlert> {
    let alert = match job.op {
        Op::Fumo(op) => fumo_run(t, op, job, fetched, faults),
        Op::Scomo(op) => scomo_run(t, op, job, faults),
    };
    let suppressed = match job.op {
        Op::Fumo(_) => faults.has("fumo12-no-result-alert"),
        Op::Scomo(_) => false,
    };
    (!suppressed).then_some(alert)
}

fn fumo_run(t: &mut Tree, op: Operation, job: &Job, fetched: Option<Fetched>, faults: &Faults) -> GenericAlert {
    let st = |t: &mut Tree, s: u16| set(t, "FUMO/State", &s.to_string());
    let mut code = fumo::result::SUCCESSFUL;
    if let Some(f) = fetched {
        st(t, state::DOWNLOAD_PROGRESSING);
        match f {
            Ok(body) if !body.is_empty() => {
                set(t, "FUMO/Update/PkgData", &String::from_utf8_lossy(&body));
                st(t, state::READY_TO_UPDATE);
            }
            Ok(_) => code = fumo::result::CORRUPTED_PACKAGE,
            Err(c) => code = c,
        }
        if code != fumo::result::SUCCESSFUL {
            st(t, state::DOWNLOAD_FAILED);
        }
    }
    let applies = matches!(op, Operation::Update)
        || (op == Operation::DownloadAndUpdate
            && code == fumo::result::SUCCESSFUL
            && !faults.has("fumo12-dau-no-update"))
        || (op == Operation::Download && code == fumo::result::SUCCESSFUL && faults.has("fumo12-download-updates"));
    if applies {
        if value(t, "FUMO/Update/PkgData").is_empty() {
            code = fumo::result::UPDATE_FAILED;
            st(t, state::UPDATE_FAILED_NO_DATA);
        } else {
            st(t, state::UPDATE_PROGRESSING);
            set(t, "FUMO/PkgVersion", "2.0.0");
            st(t, state::UPDATE_SUCCESSFUL_NO_DATA);
        }
    }
    let r#type = if faults.has("fumo12-alert-wrong-type") {
        "org.openmobilealliance.dm.firmwareupdate.devicerequest".to_string()
    } else {
        op.oma_alert_type().to_string()
    };
    let data = if faults.has("fumo12-result-not-integer") {
        if fumo::is_success(i64::from(code)) { "success" } else { "failure" }.to_string()
    } else {
        code.to_string()
    };
    GenericAlert {
        r#type,
        format: "int".into(),
        data,
        source: Some(if faults.has("fumo12-alert-wrong-source") { "./DevInfo".into() } else { job.uri.clone() }),
        target: None,
        correlator: job.correlator.clone(),
        mark: Some(if fumo::is_success(i64::from(code)) { "informational" } else { "critical" }.into()),
    }
}

/// `.../<x>/Operations/<op>` → `.../<x>`.
fn owner_of(path: &str) -> &str {
    path.rsplit_once("/Operations/").map(|(o, _)| o).unwrap_or(path)
}

fn scomo_run(t: &mut Tree, op: ScomoOp, job: &Job, faults: &Faults) -> GenericAlert {
    let owner = owner_of(&job.path).to_string();
    let name = owner.rsplit('/').next().unwrap_or_default().to_string();
    let uri_prefix = job.uri.strip_suffix(job.path.as_str()).unwrap_or("./");
    let pkg_id = value(t, &format!("{owner}/PkgID"));
    let identifier = if pkg_id.is_empty() { value(t, &format!("{owner}/ID")) } else { pkg_id.clone() };
    let mut target = None;
    let code = match op {
        ScomoOp::Install { active } => {
            if value(t, &format!("{owner}/Data")).is_empty() {
                scomo::RC_INSTALL_FAILED
            } else {
                set(t, &format!("{owner}/State"), scomo::DP_INSTALLED);
                if !faults.has("scomo12-install-no-deploy") {
                    let dc = format!("{DEPLOYED}/{name}");
                    t.insert(&dc, Node::interior());
                    for (leaf, v) in [
                        ("ID", pkg_id.as_str()),
                        ("Name", name.as_str()),
                        ("Version", "1.0"),
                        ("PkgIDRef", pkg_id.as_str()),
                    ] {
                        t.insert(&format!("{dc}/{leaf}"), Node::leaf(v));
                    }
                    let s = if active || faults.has("scomo12-install-inactive-active") {
                        scomo::DC_ACTIVE
                    } else {
                        scomo::DC_INACTIVE
                    };
                    t.insert(&format!("{dc}/State"), Node { format: "int".into(), ..Node::leaf(s) });
                    t.insert(&format!("{dc}/Operations"), Node::interior());
                    for op in scomo::DEPLOYED_OPS {
                        t.insert(&format!("{dc}/Operations/{op}"), Node { executable: true, ..Node::interior() });
                    }
                    target = Some(format!("{uri_prefix}{dc}"));
                }
                scomo::RC_SUCCESS
            }
        }
        ScomoOp::RemovePackage | ScomoOp::RemoveComponent => {
            if !faults.has("scomo12-remove-keeps") {
                t.delete(&owner, true);
            }
            scomo::RC_SUCCESS
        }
        ScomoOp::Activate | ScomoOp::Deactivate => {
            let s = if op == ScomoOp::Activate { scomo::DC_ACTIVE } else { scomo::DC_INACTIVE };
            if !faults.has("scomo12-deactivate-no-state") || op == ScomoOp::Activate {
                set(t, &format!("{owner}/State"), s);
            }
            target = Some(format!("{uri_prefix}{owner}"));
            scomo::RC_SUCCESS
        }
    };
    let reported = if faults.has("scomo12-result-code-wrong") && scomo::is_success(code) {
        scomo::RC_INSTALL_FAILED
    } else {
        code
    };
    GenericAlert {
        r#type: SCOMO_ALERT_TYPE.into(),
        format: "xml".into(),
        data: format!("<ResultCode>{reported}</ResultCode><Identifier>{identifier}</Identifier>"),
        source: Some(if faults.has("scomo12-alert-wrong-source") {
            format!("{uri_prefix}{owner}")
        } else {
            job.uri.clone()
        }),
        target,
        correlator: job.correlator.clone(),
        mark: Some(if scomo::is_success(reported) { "informational" } else { "critical" }.into()),
    }
}
