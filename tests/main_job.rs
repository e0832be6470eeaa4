//! The README's main job end to end: `dmcts run --against reference` exits 0 and its
//! coverage report shows all 52 DM-PACK items applicable, covered and passing.
use std::process::Command;

fn dmcts(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().expect("dmcts runs")
}

#[test]
fn run_against_reference_covers_and_passes_all_52_items() {
    let dir = std::env::temp_dir().join(format!("dmcts-main-job-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // The README's main job: the full suite, the certificate cases too (over HTTPS).
    let out = dmcts(&["run", "--against", "reference", "--tls", "--report-dir", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let cov: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("coverage.json")).expect("coverage.json")).unwrap();
    let items = cov["items"].as_array().unwrap();
    // The 52 DM-PACK items, and every item of the enabler tables the reference peers implement.
    assert_eq!(items.iter().filter(|i| i["table"] == "DM-PACK").count(), 52);
    for item in items {
        assert_eq!(item["applicable"], true, "{item}");
        assert_eq!(item["verdict"], "pass", "{item}");
        assert!(!item["cases"].as_array().unwrap().is_empty(), "{item}");
    }
    let md = std::fs::read_to_string(dir.join("coverage.md")).unwrap();
    assert!(md.contains("DM-PACK (normative): mandatory 45/45 pass, optional 7/7 pass"), "{md}");
    assert!(md.contains("SCOMO (derived): mandatory 13/13 pass, optional 8/8 pass"), "{md}");
    assert!(md.contains("DM-SEC (derived): mandatory 4/4 pass, optional 1/1 pass"), "{md}");
    for f in ["junit.xml", "run.json"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    // The real run's JUnit validates against the common JUnit schema (xmllint: libxml2-utils).
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema", "tests/schemas/junit.xsd"])
        .arg(dir.join("junit.xml"))
        .output()
        .expect("xmllint is needed for the JUnit schema check: apt-get install libxml2-utils");
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    for case in run["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        assert!(dir.join("traces").join(format!("{id}.txt")).exists(), "trace of {id}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_faulty_reference_fails_the_run_with_exit_1() {
    let dir = std::env::temp_dir().join(format!("dmcts-faulty-{}", std::process::id()));
    let out = dmcts(&[
        "run",
        "--against",
        "reference",
        "--fault",
        "client.p3-after-end",
        "--role",
        "client",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_case_but_the_get_case_rests_on_the_optional_get() {
    // A client whose GET answers 501 fails only the GET case: every mandatory item is judged
    // without the optional command.
    let dir = std::env::temp_dir().join(format!("dmcts-noget-{}", std::process::id()));
    let out = dmcts(&[
        "run",
        "--against",
        "reference",
        "--fault",
        "client.get-unsupported",
        "--role",
        "client",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).expect("run.json")).expect("JSON");
    let failed: Vec<&str> = run["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] != "pass" && c["verdict"] != "not-selected" && c["verdict"] != "not-applicable")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec!["TC-DMC-CMD-008"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scr_list_json_has_the_52_seed_items_with_dependencies() {
    let out = dmcts(&["scr", "list", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = v.as_array().unwrap();
    // The seed's 52 DM-PACK items; the enabler tables (derived) come beside them.
    let items: Vec<serde_json::Value> = all.iter().filter(|i| i["table"] == "DM-PACK").cloned().collect();
    assert_eq!(items.len(), 52);
    assert!(all.iter().all(|i| i["table"] == "DM-PACK" || i["provenance"] == "derived"));
    let get = |id: &str| items.iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(get("DM-PACK-003-C-M")["requires"], "DM-PACK-002-C-O");
    assert_eq!(get("DM-PACK-002-C-O")["status"], "O");
    assert!(get("DM-PACK-001-S-M")["requires"].is_null());
    for key in ["id", "role", "status", "function", "section", "requires", "table", "provenance", "source"] {
        assert!(items.iter().all(|i| i.get(key).is_some()), "{key}");
    }
    assert!(items.iter().all(|i| (i["table"] == "DM-PACK") == i["id"].as_str().unwrap().starts_with("DM-PACK-")
        && (i["table"] != "DM-PACK" || i["provenance"] == "normative")));

    // --table filters; an unknown table is a usage error naming the known ones.
    let out = dmcts(&["scr", "list", "--table", "DM-PACK", "--role", "server"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("26 item(s) in 1 table(s)"), "{text}");
    let out = dmcts(&["scr", "list", "--table", "NO-SUCH-TABLE"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("known tables: ") && err.contains("DM-PACK"), "{err}");
}

#[test]
fn scr_check_passes_and_rejects_a_broken_table() {
    assert_eq!(dmcts(&["scr", "check"]).status.code(), Some(0));
    let dir = std::env::temp_dir().join(format!("dmcts-broken-scr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.toml"),
        "[table]\nid = \"T\"\ntitle = \"t\"\nsource = \"s\"\nsection = \"1\"\nbindings = [\"dm2\"]\n\
         id_pattern = '.*'\nprovenance = \"normative\"\n\n\
         [[item]]\nid = \"DM-PACK-001-C-M\"\nrole = \"client\"\nstatus = \"M\"\nfunction = \"f\"\nsection = \"5\"\n\
         requires = \"DM-PACK-404-C-O\"\n",
    )
    .unwrap();
    let out = dmcts(&["--scr-dir", dir.to_str().unwrap(), "scr", "check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("broken.toml:16:") && err.contains("DM-PACK-404-C-O"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plan_on_a_missing_or_empty_ics_exits_2() {
    let out = dmcts(&["plan", "--ics", "/nonexistent/ics.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ics.toml"));
    let empty = std::env::temp_dir().join(format!("dmcts-empty-ics-{}.toml", std::process::id()));
    std::fs::write(&empty, "# nothing\n").unwrap();
    let out = dmcts(&["plan", "--ics", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&empty);
}

#[test]
fn plan_explains_applicability_before_any_traffic() {
    let out = dmcts(&["plan", "--ics", "examples/ics-client.toml", "--all"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("TC-DMC-SESS-001"), "{text}");
    assert!(text.contains("tests a server IUT; the IUT is a client"), "{text}");
}

/// Issue 14 point 4: the IUT's role first and only, with one line per list saying what the
/// text leaves out; `--all` shows it; the JSON always has every case and item.
#[test]
fn plan_shows_the_iuts_role_and_counts_the_other_roles_cases_and_items() {
    for (ics, role, other) in
        [("examples/ics-server.toml", "server", "client"), ("examples/ics-client.toml", "client", "server")]
    {
        let out = dmcts(&["plan", "--ics", ics, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["role"], role);
        let count = |list: &str| v[list].as_array().unwrap().iter().filter(|x| x["role"] == other).count();
        let (cases, items) = (count("cases"), count("items"));
        assert!(cases > 0 && items > 0, "the JSON keeps the other role's cases and items");

        let out = dmcts(&["plan", "--ics", ics]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(!text.contains(&format!("tests a {other} IUT")), "{text}");
        let prefix = if other == "client" { "TC-DMC-" } else { "TC-DMS-" };
        assert!(!text.contains(&format!("SKIP {prefix}")), "{text}");
        assert!(text.contains(&format!("\n  {cases} cases of the {other} role not shown: --all\n")), "{text}");
        assert!(text.contains(&format!("\n  {items} SCR items of the {other} role not shown: --all\n")), "{text}");
        // The hidden cases still count in the total.
        let total = v["cases"].as_array().unwrap().len();
        assert!(text.contains(&format!(" of {total} cases will run.")), "{text}");

        let out = dmcts(&["plan", "--ics", ics, "--all"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("tests a {other} IUT; the IUT is a {role}")), "{text}");
        assert!(!text.contains("not shown"), "{text}");
    }
}

#[test]
fn reference_faults_json_lists_both_roles_with_scr_items() {
    let out = dmcts(&["reference", "faults", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let faults = v.as_array().unwrap();
    assert!(faults.iter().any(|f| f["role"] == "client") && faults.iter().any(|f| f["role"] == "server"));
    let reg = dmcts::scr::Registry::load_dir(std::path::Path::new("scr")).unwrap();
    for f in faults {
        assert!(!f["violates"].as_array().unwrap().is_empty(), "{f}");
        for id in f["violates"].as_array().unwrap() {
            assert!(reg.get(id.as_str().unwrap()).is_some(), "{f}: {id} is no SCR item");
        }
    }
}

#[test]
fn plan_warns_before_traffic_when_the_pixit_lacks_a_value_a_case_needs() {
    let src = std::fs::read_to_string("examples/ics-client.toml").unwrap();
    let without = src.replace("secret = ", "# secret = ").replace("auth_data = ", "# auth_data = ");
    let path = std::env::temp_dir().join(format!("dmcts-ics-no-secret-{}.toml", std::process::id()));
    std::fs::write(&path, without).unwrap();
    let out = dmcts(&["plan", "--ics", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text.lines().skip_while(|l| !l.contains("TC-DMC-P0-001")).nth(1).unwrap_or_default();
    assert!(line.contains("WILL END IN ERROR: the PIXIT lacks notification.secret, notification.auth_data"), "{text}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn selection_by_scr_id_runs_only_the_cases_covering_it() {
    let dir = std::env::temp_dir().join(format!("dmcts-scr-select-{}", std::process::id()));
    let out =
        dmcts(&["run", "--against", "reference", "--scr", "DM-PACK-022-*", "--report-dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    for case in run["cases"].as_array().unwrap() {
        let covers_022 =
            case["covers"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("DM-PACK-022-"));
        if covers_022 {
            assert_eq!(case["verdict"], "pass", "{case}");
        } else if case["verdict"] == "not-applicable" {
            // Applicability is decided first: the certificate cases need --tls.
            assert!(case["reason"]["message"].as_str().unwrap().contains("ICS-DMC-TLS"), "{case}");
        } else {
            assert_eq!(case["verdict"], "not-selected", "{case}");
            assert!(case["reason"]["message"].as_str().unwrap().contains("not selected"), "{case}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
