//! Client cases take every node and every value they send into the tree from the PIXIT, and a
//! device that lacks a fact declares it: the cases that need it are not applicable, with the
//! reason, in `plan` and in the run (issue 8 §2). Proven the way a vendor meets it: `dmcts run
//! --ics FILE` against a client on loopback whose ICS names other nodes than the defaults.
#[path = "fakes/client_run.rs"]
mod client_run;
use client_run::{client_ics, dmcts, free_port};
use dmcts::reference::client;
use std::path::Path;

/// A client ICS for the reference client at `ut_url`, the suite on `listen`; `support` and `mo`
/// go into `[support]` and `[pixit.mo]`.
fn ics(listen: u16, ut_url: &str, support: &str, mo: &str) -> String {
    client_ics(listen, ut_url, support, mo)
}

/// The reference client's sandbox MO (`urn:oma:mo:dmcts-test:1.0`, documented in
/// `reference::client`) stands in for a vendor's tree: none of its nodes is a default. Its
/// executable node downloads nothing; its execution shows in OpCount.
const OTHER_TREE: &str = r#"
devid_uri = "urn:oma:mo:oma-dm-devinfo:1.0/d0/DevID"
upload_uri = "urn:oma:mo:dmcts-test:1.0/t0/Dyn"
permanent_uri = "urn:oma:mo:dmcts-test:1.0/t0/Perm"
replace_uri = "urn:oma:mo:dmcts-test:1.0/t0/Scratch"
replace_value = "vendor-replaced"
instance_moid = "urn:oma:mo:dmcts-test:1.0"
instance_data = { Test = { Name = "vendor-created", Val = "7" } }
instance_value = "vendor-created"
exec_uri = "urn:oma:mo:dmcts-test:1.0/t0/Op"
exec_effect_uri = "urn:oma:mo:dmcts-test:1.0/t0/OpCount"
exec_effect_value = "1"
default_moid = "urn:oma:mo:dmcts-config:1.0"
default_data = { Config = { Server = "vendor-config" } }
"#;

const OTHER_TREE_FACTS: &str = r#"
"ICS-DMC-EXEC-DOWNLOAD" = false
"ICS-DMC-EXEC-EFFECT" = true
"ICS-DMC-DEFAULT-FETCH" = true
"#;

fn run_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("reports/run.json")).unwrap()).unwrap()
}

fn case<'a>(run: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    run["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} not in run.json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_tree_has_other_node_names_passes_through_its_pixit() {
    let listen = free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let cl = client::spawn(cfg).await.unwrap();
    let dir = client_run::scratch("pixit-other-tree");
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics(listen, &cl.ut_url, OTHER_TREE_FACTS, OTHER_TREE)).unwrap();
    let p = path.to_str().unwrap().to_string();
    let reports = dir.join("reports").to_str().unwrap().to_string();
    let (code, text) =
        tokio::task::spawn_blocking(move || dmcts(&["run", "--ics", &p, "--report-dir", &reports])).await.unwrap();
    cl.shutdown().await;
    assert_eq!(code, Some(0), "{text}");
    let run = run_json(&dir);
    for c in run["cases"].as_array().unwrap() {
        assert!(c["verdict"] == "pass" || c["verdict"] == "not-applicable", "{c}");
    }
    // Every case that sends data into the tree ran, on the ICS's nodes.
    for id in ["TC-DMC-CMD-001", "TC-DMC-CMD-002", "TC-DMC-CMD-005", "TC-DMC-CMD-012", "TC-DMC-CMD-013"] {
        assert_eq!(case(&run, id)["verdict"], "pass", "{id}");
    }
    for id in ["TC-DMC-CMD-007", "TC-DMC-CMD-011", "TC-DMC-SESS-002"] {
        assert_eq!(case(&run, id)["verdict"], "pass", "{id}");
    }
    // The download case is not applicable: this device's executable node downloads nothing.
    let download = case(&run, "TC-DMC-CMD-006");
    assert_eq!(download["verdict"], "not-applicable");
    assert!(download.to_string().contains("ICS-DMC-EXEC-DOWNLOAD declared false in the ICS"), "{download}");
    // The data sent is the PIXIT's, never the defaults' (no FUMO anywhere).
    let trace = |id: &str| std::fs::read_to_string(dir.join(format!("reports/traces/{id}.txt"))).unwrap();
    let hget = trace("TC-DMC-CMD-001");
    assert!(hget.contains(r#""MOData":{"Scratch":"vendor-replaced"}"#), "{hget}");
    let created = trace("TC-DMC-CMD-002");
    assert!(created.contains(r#"{"Test":{"Name":"vendor-created","Val":"7"}}"#), "{created}");
    for id in ["TC-DMC-CMD-001", "TC-DMC-CMD-002", "TC-DMC-CMD-005", "TC-DMC-CMD-012", "TC-DMC-CMD-013"] {
        assert!(!trace(id).contains("oma-fumo"), "{id} used a default node");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_without_an_executable_node_makes_the_exec_cases_not_applicable() {
    let listen = free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let cl = client::spawn(cfg).await.unwrap();
    let dir = client_run::scratch("pixit-no-exec");
    let path = dir.join("ics.toml");
    // No exec value at all: the ICS says the device has no executable node.
    std::fs::write(&path, ics(listen, &cl.ut_url, "\"ICS-DMC-NODE-EXEC\" = false\n", "")).unwrap();
    let p = path.to_str().unwrap().to_string();
    let reason = "ICS-DMC-NODE-EXEC declared false in the ICS";

    // plan says so before any traffic.
    let (code, plan) = dmcts(&["plan", "--ics", &p]);
    assert_eq!(code, Some(0), "{plan}");
    for id in ["TC-DMC-CMD-006", "TC-DMC-CMD-007", "TC-DMC-CMD-013"] {
        let mut lines = plan.lines().skip_while(|l| !l.contains(&format!("SKIP {id}")));
        assert!(lines.next().is_some(), "{id} is not skipped:\n{plan}");
        let why = lines.next().unwrap_or_default();
        assert!(why.contains(reason), "{id}: {why}");
    }
    assert!(plan.contains("  false ICS-DMC-NODE-EXEC\n"), "{plan}");
    let (_, json) = dmcts(&["plan", "--ics", &p, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cap = json["capabilities"].as_array().unwrap().iter().find(|c| c["id"] == "ICS-DMC-NODE-EXEC").unwrap();
    assert_eq!((&cap["holds"], &cap["source"]), (&false.into(), &"ics".into()), "{cap}");
    let permanent =
        json["capabilities"].as_array().unwrap().iter().find(|c| c["id"] == "ICS-DMC-NODE-PERMANENT").unwrap();
    assert_eq!((&permanent["holds"], &permanent["source"]), (&true.into(), &"default".into()), "{permanent}");
    let exec_uri = json["pixit"].as_array().unwrap().iter().find(|v| v["name"] == "mo.exec_uri").unwrap();
    assert_eq!(exec_uri["source"], "default");
    assert_eq!(exec_uri["cases"], serde_json::json!([]), "no case that runs needs it: {exec_uri}");

    // The run reports them not applicable with the same reason, and runs nothing for them.
    let reports = dir.join("reports").to_str().unwrap().to_string();
    let (code, text) = tokio::task::spawn_blocking(move || {
        dmcts(&["run", "--ics", &p, "--scr", "DM-PACK-018-C-M", "--report-dir", &reports])
    })
    .await
    .unwrap();
    let log = cl.log();
    cl.shutdown().await;
    assert_eq!(code, Some(0), "{text}");
    let run = run_json(&dir);
    for id in ["TC-DMC-CMD-006", "TC-DMC-CMD-007", "TC-DMC-CMD-013"] {
        let c = case(&run, id);
        assert_eq!(c["verdict"], "not-applicable", "{c}");
        assert!(c.to_string().contains(reason), "{c}");
    }
    assert!(!log.iter().any(|l| l.contains("EXEC")), "an EXEC was sent: {log:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `${pixit.X}` names a text uses (filters left out).
fn pixit_names(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\$\{pixit\.([A-Za-z0-9_.]+)").unwrap();
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

#[test]
fn shipped_client_cases_name_their_tree_only_through_declared_pixit() {
    use dmcts::ics::mo::param;
    let dirs = ["cases/dm2/client", "cases/scomo/client"];
    for entry in dirs.iter().flat_map(|d| std::fs::read_dir(d).unwrap()) {
        let path = entry.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        // None of the reference client's own MOs or node names.
        for word in ["dmcts-test", "dmcts-config", "Scratch", "OpCount", "/t0/", "oma-fumo", "oma-dm-devinfo"] {
            assert!(!src.contains(word), "{} names {word}: take it from [pixit.mo]", path.display());
        }
        let doc: toml::Table = toml::from_str(&src).unwrap();
        let defaults: Vec<String> = doc
            .get("defaults")
            .and_then(|d| d.get("pixit"))
            .and_then(|p| p.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        for case in doc.get("case").and_then(|c| c.as_array()).into_iter().flatten() {
            let id = case["id"].as_str().unwrap();
            let listed: Vec<String> = case
                .get("pixit")
                .and_then(|p| p.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            // Every value the case uses is listed, so a missing one is caught before traffic...
            for name in pixit_names(&toml::to_string(case).unwrap()) {
                assert!(listed.contains(&name) || defaults.contains(&name), "{id} uses {name} without listing it");
            }
            // ...and every tree value is declared, with its default and documentation.
            for name in listed.iter().filter_map(|n| n.strip_prefix("mo.")) {
                assert!(param(name).is_some(), "{id} needs mo.{name}, which src/ics/mo.rs does not declare");
            }
        }
    }
}

#[test]
fn every_capability_and_tree_value_is_documented_for_vendors() {
    let reg = dmcts::scr::Registry::load_dir(Path::new("scr")).unwrap();
    let readme = std::fs::read_to_string("README.md").unwrap();
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    // A capability is shown in the example ICS of its protocol (and, DM 1.2, of its role).
    for c in reg.capabilities() {
        assert!(readme.contains(&format!("`{}`", c.id)), "README lacks {}", c.id);
        let path = match (c.bindings.iter().any(|b| b == "dm12"), c.role) {
            (true, dmcts::scr::Role::Client) => "examples/ics-dm12-client.toml",
            (true, dmcts::scr::Role::Server) => "examples/ics-dm12-server.toml",
            (false, _) => "examples/ics-client.toml",
        };
        assert!(read(path).contains(&format!("\"{}\"", c.id)), "{path} lacks {}", c.id);
    }
    // Every tree value is shown, with its default, in one of the example client ICSs.
    let examples: Vec<(String, String)> = std::fs::read_dir("examples")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("ics-"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    for p in dmcts::ics::mo::MO_PIXIT {
        assert!(readme.contains(&format!("`{}`", p.key)), "README lacks mo.{}", p.key);
        let shown = match p.default.filter(|_| p.kind != dmcts::ics::mo::MoKind::Data) {
            Some(d) => format!("{} = \"{d}\"", p.key),
            None => format!("{} = ", p.key),
        };
        assert!(examples.iter().any(|(_, text)| text.contains(&shown)), "no examples/ics-*.toml shows `{shown}`");
    }
}

/// Issue 8 §4, client half: a failure is charged to the item that failed, only to it. The
/// selftest runs each case against the faults it declares; here every client case runs against
/// every client fault of the reference client, and whatever a case catches must be charged to
/// an item the fault violates (a read-back or a preparation through another command is at most
/// inconclusive), and no fault makes a case end in `error`.
#[test]
fn every_client_case_charges_every_client_fault_only_to_an_item_it_violates() {
    use std::sync::Arc;
    let registry = Arc::new(dmcts::scr::Registry::load_dir(Path::new("scr")).unwrap());
    let catalog = dmcts::catalog::Catalog::load_dir(Path::new("cases"), &registry).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let wrong = rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut jobs = tokio::task::JoinSet::new();
        for case in catalog.cases.iter().filter(|c| c.role == dmcts::scr::Role::Client) {
            // Only the faults of the peer that speaks the case's protocol can change its verdict.
            let family = dmcts::binding::family_of(&case.binding);
            for f in dmcts::reference::faults::of_family(dmcts::scr::Role::Client, family) {
                let (case, registry, sem) = (case.clone(), registry.clone(), sem.clone());
                jobs.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    let (v, reason, charged) =
                        dmcts::selftest::run_case(&case, registry, [f.name.to_string()].into()).await;
                    dmcts::selftest::misattribution(&case.id, &f, v, reason.as_deref(), charged.as_deref())
                });
            }
        }
        let mut wrong = Vec::new();
        while let Some(r) = jobs.join_next().await {
            wrong.extend(r.unwrap());
        }
        wrong.sort();
        wrong
    });
    assert!(wrong.is_empty(), "{} misattributed verdict(s):\n{}", wrong.len(), wrong.join("\n"));
}
