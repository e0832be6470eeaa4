//! Issue 15, client IUT: what the catalog's audit left open, shown the way a vendor meets it —
//! `dmcts run --ics FILE` against the reference client on loopback, with the ICS `[profile]`
//! and the client's own profile and faults set per test.
//!
//! - inferred judgements (P0-004/005) fail by default, say they are inferred, and become
//!   informational under profile `informational`;
//! - profile settings for points the digest leaves UNVERIFIED change what the suite sends and
//!   accepts, and a client that follows the other reading fails.
#[path = "fakes/client_run.rs"]
mod client_run;
use client_run::{client_ics, dmcts, free_port};
use dmcts::reference::client;
use dmcts::wire::dm2::Profile;
use serde_json::Value;
use std::path::PathBuf;

/// A client ICS for the reference client at `ut_url`, the suite on `listen`, with `profile` as
/// the body of its `[profile]` table.
fn ics(listen: u16, ut_url: &str, profile: &str) -> String {
    let facts = "\"ICS-DMC-DEFAULT-FETCH\" = true\n\"ICS-DMC-EXEC-DOWNLOAD\" = true\n\"ICS-DMC-EXEC-EFFECT\" = true";
    let tail = format!(
        "exec_effect_uri = \"urn:oma:mo:oma-fumo:1.0//State\"\nexec_effect_value = \"20\"\n\
         default_moid = \"urn:oma:mo:dmcts-config:1.0\"\ndefault_data = {{ Config = {{ Server = \"dmcts\" }} }}\n\n\
         [profile]\n{profile}"
    );
    client_ics(listen, ut_url, facts, &tail)
}

/// What one `dmcts run --ics` of some cases gave.
struct Run {
    code: Option<i32>,
    console: String,
    run: Value,
    coverage: Value,
}

impl Run {
    fn case(&self, id: &str) -> &Value {
        self.run["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in run.json:\n{}", self.console))
    }

    fn verdict(&self, id: &str) -> &str {
        self.case(id)["verdict"].as_str().unwrap()
    }

    fn item(&self, id: &str) -> &Value {
        self.coverage["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap()
    }
}

/// Runs the cases `ids` against a reference client with `faults` and its own `client_profile`,
/// the suite's ICS having `[profile]` `suite_profile`.
async fn run(tag: &str, ids: &[&str], faults: &[&str], client_profile: Profile, suite_profile: &str) -> Run {
    run_with(tag, ids, suite_profile, |cfg| {
        cfg.faults = faults.iter().map(|f| f.to_string()).collect();
        cfg.profile = client_profile;
    })
    .await
}

/// [`run`] with the reference client's configuration set by `configure`.
async fn run_with(
    tag: &str,
    ids: &[&str],
    suite_profile: &str,
    configure: impl FnOnce(&mut client::ClientConfig),
) -> Run {
    let listen = free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    configure(&mut cfg);
    let cl = client::spawn(cfg).await.unwrap();
    let dir = client_run::scratch(&format!("depth-{tag}"));
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics(listen, &cl.ut_url, suite_profile)).unwrap();
    let reports = dir.join("reports");
    let mut args: Vec<String> = vec!["run".into(), "--ics".into(), path.display().to_string()];
    args.extend(["--report-dir".into(), reports.display().to_string(), "--".into(), "--exact".into()]);
    // Every case of the list, none other (a name filter per case would run each matching one).
    let all: Vec<String> = dmcts(&["cases", "list", "--format", "json"])
        .1
        .parse::<Value>()
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    for other in all.iter().filter(|c| !ids.contains(&c.as_str())) {
        args.extend(["--skip".into(), other.clone()]);
    }
    let (code, console) = tokio::task::spawn_blocking(move || dmcts(&args)).await.unwrap();
    cl.shutdown().await;
    let read = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(reports.join(f)).unwrap_or_else(|e| panic!("{f}: {e}\n{console}")))
            .unwrap()
    };
    let (run, coverage) = (read("run.json"), read("coverage.json"));
    Run { code, console, run, coverage }
}

// ---------------------------------------------------------------------------------------------
// P0-004 / P0-005: inferred judgements, informational under the profile.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inferred_silence_fails_saying_so_and_the_profile_makes_it_informational() {
    let ids = ["TC-DMC-P0-004", "TC-DMC-P0-005"];
    let faults = ["accept-wrong-ver", "accept-oc-mismatch"];
    // Default profile: the faults fail the cases, and every report says the judgement is inferred.
    let r = run("inferred-counts", &ids, &faults, Profile::default(), "").await;
    assert_eq!(r.code, Some(1), "{}", r.console);
    for (id, item) in ids.iter().zip(["DM-PACK-003-C-M", "DM-PACK-004-C-M"]) {
        assert_eq!(r.verdict(id), "fail", "{}", r.console);
        let reason = &r.case(id)["reason"];
        assert_eq!(reason["scr"], item, "{reason}");
        assert!(reason["inferred"].as_str().is_some_and(|w| w.contains("binds only the sender") || w.contains("OC")));
        assert!(r.case(id)["inferred"][item].is_array(), "{}", r.case(id));
        assert!(r.item(item)["inferred"][0].as_str().is_some_and(|s| s.starts_with(id)), "{}", r.item(item));
        assert_eq!(r.item(item)["verdict"], "fail");
    }
    assert!(r.console.contains("inferred:    the seed (5.2.1.1) binds only the sender"), "{}", r.console);

    // Informational: the same faults change no verdict, and the failures are recorded and shown.
    let profile = "informational = [\"DM-PACK-003-C-M\", \"DM-PACK-004-C-M\"]";
    let r = run("inferred-informational", &ids, &faults, Profile::default(), profile).await;
    assert_eq!(r.code, Some(0), "{}", r.console);
    for (id, item) in ids.iter().zip(["DM-PACK-003-C-M", "DM-PACK-004-C-M"]) {
        assert_eq!(r.verdict(id), "pass", "{}", r.console);
        let info = &r.case(id)["informational"][0];
        assert_eq!(info["scr"], item, "{}", r.case(id));
        assert!(info["message"].as_str().unwrap().contains("while silence was required"), "{info}");
        assert!(r.item(item)["informational"][0].as_str().is_some_and(|s| s.starts_with(id)), "{}", r.item(item));
        // The failed judgement did not hold: the item's evidence says so.
        assert_eq!(r.case(id)["evidence"][item]["held"], 0, "{}", r.case(id));
    }
    assert!(r.console.contains("2 failed judgement(s) rest on an inference the profile makes informational"));

    // The clean client passes either way, with nothing informational.
    let r = run("inferred-clean", &ids, &[], Profile::default(), "informational = [\"*\"]").await;
    assert_eq!(r.code, Some(0), "{}", r.console);
    assert!(r.case("TC-DMC-P0-004").get("informational").is_none(), "{}", r.case("TC-DMC-P0-004"));
}

fn profile_with(f: impl FnOnce(&mut Profile)) -> Profile {
    let mut p = Profile::default();
    f(&mut p);
    p
}

fn reason_of(r: &Run, id: &str) -> String {
    r.case(id)["reason"].to_string()
}

// ---------------------------------------------------------------------------------------------
// CMD-006 / CMD-013: after a 202 the case waits for the asynchronous result first.

/// The reference client reports its FUMO operations asynchronously (202) and runs them after the
/// session: reading the tree back in the EXEC's own session, as TC-DMC-CMD-013 did, failed this
/// conformant client. The old procedure, run here as a case of its own, shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_effect_right_after_a_202_would_fail_a_conformant_client() {
    use dmcts::catalog::Catalog;
    use dmcts::scr::Registry;
    use std::sync::Arc;
    let registry = Arc::new(Registry::load_dir(std::path::Path::new("scr")).unwrap());
    let old = r#"
[[case]]
id = "TC-OLD-CMD-013"
title = "EXEC's effect read back in the EXEC's session"
purpose = "the procedure before issue 15"
role = "client"
covers = ["DM-PACK-018-C-M"]
pixit = ["mo.exec_uri", "mo.exec_effect_uri", "mo.exec_effect_value"]

[[case.steps]]
kind = "ut"
action = "session.start"

[[case.steps]]
kind = "await"
endpoint = "dm"
scr = "DM-PACK-011-C-M"
answer = { commands = [["EXEC", "${pixit.mo.exec_uri}"]] }

[[case.steps]]
kind = "await"
endpoint = "dm"
scr = "DM-PACK-001-C-M"
answer = { commands = [["HPUT", "${endpoint.repo}/exec/effect", "${pixit.mo.exec_effect_uri}"]] }

[[case.steps]]
kind = "await"
endpoint = "repo"
path = "/exec/effect"
scr = "DM-PACK-015-C-M"
checks = [
  { check = "builtin", name = "body-contains", args = { value = "${pixit.mo.exec_effect_value}" }, scr = "DM-PACK-018-C-M" },
]
answer = { status = 204 }
"#;
    let catalog = Catalog::load_sources(&[(PathBuf::from("old.toml"), old.to_string())], &registry).unwrap();
    let r = dmcts::runner::run::run_against_reference(&catalog.cases[0], registry.clone(), Default::default()).await;
    assert_eq!(r.verdict, dmcts::verdict::Verdict::Fail, "{:?}", r.reason);
    assert_eq!(r.reason.unwrap().scr.as_deref(), Some("DM-PACK-018-C-M"));
    // The shipped case waits for the result, then reads the effect back: it passes.
    let shipped = Catalog::load_dir(std::path::Path::new("cases"), &registry).unwrap();
    let case = shipped.get("TC-DMC-CMD-013").unwrap();
    let r = dmcts::runner::run::run_against_reference(case, registry, Default::default()).await;
    assert_eq!(r.verdict, dmcts::verdict::Verdict::Pass, "{:?}", r.reason);
    let trace = format!("{:?}", r.trace);
    assert!(trace.contains(r#""sc\\":202"#) || trace.contains("\\\"sc\\\":202"), "the EXEC was answered 202: {trace}");
    assert!(!trace.contains("skipped: it runs when"), "the result was awaited: {trace}");
}

/// Both reportings pass: synchronous (the sandbox MO's Op, no result awaited) and asynchronous
/// with the result in the new session's Package#3 instead of its Package#1 (the seed allows
/// either).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_cases_follow_the_clients_choice_of_reporting() {
    // Asynchronous, result in Package#3, for all three EXEC cases.
    let ids = ["TC-DMC-CMD-006", "TC-DMC-CMD-007", "TC-DMC-CMD-013"];
    let r = run_with("result-in-p3", &ids, "", |c| c.async_result_in_package3 = true).await;
    assert_eq!(r.code, Some(0), "{}", r.console);
    // Without the result anywhere, the wait for it fails on asynchronous reporting.
    let r = run(
        "result-missing",
        &["TC-DMC-CMD-006", "TC-DMC-CMD-013"],
        &["exec-async-result-missing"],
        Profile::default(),
        "",
    )
    .await;
    for id in ["TC-DMC-CMD-006", "TC-DMC-CMD-013"] {
        assert_eq!(r.verdict(id), "fail", "{}", r.console);
        assert_eq!(r.case(id)["reason"]["scr"], "DM-PACK-026-C-M", "{}", reason_of(&r, id));
    }
}

// ---------------------------------------------------------------------------------------------
// CMD-007: the certain parts stay required; the rest follows the profile.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_result_session_alert_and_source_uri_follow_the_profile() {
    let id = ["TC-DMC-CMD-007"];
    // No ClientInitiatedMgmt in the result session: a fail by default, naming the setting ...
    let r = run("no-session-alert", &id, &["async-result-no-session-alert"], Profile::default(), "").await;
    assert_eq!(r.verdict(id[0]), "fail", "{}", r.console);
    assert!(reason_of(&r, id[0]).contains("exec_result_session_alert = true"), "{}", reason_of(&r, id[0]));
    // ... not judged when the profile says the session alert is not required.
    let r = run(
        "no-session-alert-off",
        &id,
        &["async-result-no-session-alert"],
        Profile::default(),
        "exec_result_session_alert = false",
    )
    .await;
    assert_eq!(r.verdict(id[0]), "pass", "{}", r.console);
    // A SourceURI naming another MO fails under either SourceURI setting (the seed's part).
    for setting in ["", "exec_result_source_uri = \"same-moid\""] {
        let r = run("wrong-source", &id, &["async-alert-wrong-source"], Profile::default(), setting).await;
        assert_eq!(r.verdict(id[0]), "fail", "{setting}: {}", r.console);
        assert_eq!(r.case(id[0])["reason"]["scr"], "DM-PACK-024-C-M", "{}", reason_of(&r, id[0]));
    }
}

// ---------------------------------------------------------------------------------------------
// Hard-coded UNVERIFIED defaults that became profile settings.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_and_default_parameters_go_in_the_profiles_order() {
    let ids = ["TC-DMC-CMD-007", "TC-DMC-CMD-011"];
    let swapped = "exec_parameter_order = \"server-uri-first\"\ndefault_parameter_order = \"server-uri-first\"";
    let client_swapped = || {
        profile_with(|p| {
            p.exec_parameter_order = dmcts::wire::dm2::profile::ExecParameterOrder::ServerUriFirst;
            p.default_parameter_order = dmcts::wire::dm2::profile::DefaultParameterOrder::ServerUriFirst;
        })
    };
    // Suite and client agree on the other order: both cases pass.
    let r = run("order-agree", &ids, &[], client_swapped(), swapped).await;
    assert_eq!(r.code, Some(0), "{}", r.console);
    // The suite sends the other order to a client that reads the digest's: both fail, on the
    // commands' items, and the reason names the setting.
    let r = run("order-disagree", &ids, &[], Profile::default(), swapped).await;
    assert_eq!(r.verdict("TC-DMC-CMD-007"), "fail", "{}", r.console);
    assert_eq!(r.case("TC-DMC-CMD-007")["reason"]["scr"], "DM-PACK-026-C-M");
    assert!(
        reason_of(&r, "TC-DMC-CMD-007").contains("exec_parameter_order = \\\"server-uri-first\\\""),
        "{}",
        reason_of(&r, "TC-DMC-CMD-007")
    );
    assert_eq!(r.verdict("TC-DMC-CMD-011"), "fail", "{}", r.console);
    assert_eq!(r.case("TC-DMC-CMD-011")["reason"]["scr"], "DM-PACK-023-C-O");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_body_format_and_instance_slash_follow_the_profile() {
    // Bare MOData uploads: accepted when the profile does not judge the format.
    let ids = ["TC-DMC-CMD-003", "TC-DMC-CMD-004"];
    let r = run("upload-any", &ids, &["upload-not-serialized"], Profile::default(), "upload_body = \"any\"").await;
    assert_eq!(r.code, Some(0), "{}", r.console);
    // A new instance's URI without the "/" after mo-inst: a fail by default, naming the setting;
    // a pass when the profile (of the suite, and of the client, which reads its own URI back)
    // makes it optional.
    let id = ["TC-DMC-CMD-002"];
    let optional =
        || profile_with(|p| p.client_uri_instance_slash = dmcts::wire::dm2::profile::InstanceSlash::Optional);
    let r = run("slash-required", &id, &["uri-without-instance-slash"], optional(), "").await;
    assert_eq!(r.verdict(id[0]), "fail", "{}", r.console);
    assert_eq!(r.case(id[0])["reason"]["scr"], "DM-PACK-014-C-M");
    assert!(reason_of(&r, id[0]).contains("client_uri_instance_slash"), "{}", reason_of(&r, id[0]));
    let r = run(
        "slash-optional",
        &id,
        &["uri-without-instance-slash"],
        optional(),
        "client_uri_instance_slash = \"optional\"",
    )
    .await;
    assert_eq!(r.verdict(id[0]), "pass", "{}", r.console);
}
