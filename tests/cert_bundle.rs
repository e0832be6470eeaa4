//! The certification bundle (issue 13 §5): `dmcts bundle REPORT_DIR -o FILE` of a real run
//! against a faulty reference peer verifies with `dmcts bundle verify`, which says what it
//! checked; a bundle tampered with (a changed byte, a removed or added file, an edited summary
//! count, a JUnit element that no longer agrees) fails, naming the file and what differs; the
//! ICS in the bundle carries no secret.
use dmcts::certification::cert_bundle::{self, read_archive, sha256, write_archive, MANIFEST};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn dmcts(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts")).args(args).output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("dmcts-cert-bundle-{}", std::process::id()))
}

/// One real run (the client cases against the reference client whose ServerInitiatedMgmt
/// alert lacks the NOTIFICATION-ID: one failure) and its bundle, made once for all tests.
fn bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = scratch();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let reports = dir.join("reports");
        let (code, out) = dmcts(&[
            "run",
            "--against",
            "reference",
            "--role",
            "client",
            "--fault",
            "client.notification-id-not-echoed",
            "--report-dir",
            reports.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(1), "{out}");
        // A file of the operator's beside the reports is not a report: left out.
        std::fs::write(reports.join("notes.txt"), "operator notes").unwrap();
        let file = dir.join("bundle.tar.gz");
        let (code, out) = dmcts(&["bundle", reports.to_str().unwrap(), "-o", file.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("left out (not reports of the run): notes.txt"), "{out}");
        file
    })
}

/// A copy of the bundle changed by `edit`; with `remanifest`, the manifest is recomputed so
/// only the consistency checks can tell.
fn tampered(name: &str, remanifest: bool, edit: impl FnOnce(&mut BTreeMap<String, Vec<u8>>)) -> PathBuf {
    tampered_with(bundle(), name, remanifest, edit)
}

/// [`tampered`] from another bundle, the manifest recomputed.
fn tampered_from(bundle: &Path, name: &str, edit: impl FnOnce(&mut BTreeMap<String, Vec<u8>>)) -> PathBuf {
    tampered_with(bundle, name, true, edit)
}

fn tampered_with(
    bundle: &Path,
    name: &str,
    remanifest: bool,
    edit: impl FnOnce(&mut BTreeMap<String, Vec<u8>>),
) -> PathBuf {
    let mut files = read_archive(bundle).unwrap();
    edit(&mut files);
    if remanifest {
        let manifest: String =
            files.iter().filter(|(p, _)| *p != MANIFEST).map(|(p, b)| format!("{}  {p}\n", sha256(b))).collect();
        files.insert(MANIFEST.into(), manifest.into_bytes());
    }
    let path = scratch().join(format!("{name}.tar.gz"));
    write_archive(&path, &files).unwrap();
    path
}

fn verify(path: &Path) -> (Option<i32>, String) {
    dmcts(&["bundle", "verify", path.to_str().unwrap()])
}

fn replace(files: &mut BTreeMap<String, Vec<u8>>, name: &str, from: &str, to: &str) {
    let text = String::from_utf8(files[name].clone()).unwrap();
    assert!(text.contains(from), "{name} lacks {from:?}");
    files.insert(name.into(), text.replacen(from, to, 1).into_bytes());
}

#[test]
fn the_bundle_of_a_real_run_verifies_and_says_what_it_checked() {
    let files = read_archive(bundle()).unwrap();
    for name in [
        "MANIFEST.sha256",
        "bundle.json",
        "ics.redacted.json",
        "reports/run.json",
        "reports/junit.xml",
        "reports/coverage.json",
        "reports/coverage.md",
        "reports/traces/TC-DMC-P0-002.json",
        "reports/traces/TC-DMC-P0-002.txt",
    ] {
        assert!(files.contains_key(name), "{name} in {:?}", files.keys().collect::<Vec<_>>());
    }
    assert!(!files.keys().any(|k| k.contains("notes.txt")));
    let meta: serde_json::Value = serde_json::from_slice(&files["bundle.json"]).unwrap();
    let run: serde_json::Value = serde_json::from_slice(&files["reports/run.json"]).unwrap();
    assert_eq!(meta["suite_version"], run["suite_version"]);
    assert_eq!(meta["catalog_digest"], run["catalog_digest"]);
    assert_eq!(meta["suite_version"], dmcts::SUITE_VERSION);

    // Counts of this catalog, whatever it holds.
    let cases = run["cases"].as_array().unwrap().len();
    let coverage: serde_json::Value = serde_json::from_slice(&files["reports/coverage.json"]).unwrap();
    let items = coverage["items"].as_array().unwrap().len();
    let (code, out) = verify(bundle());
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "ok        reports/run.json: SHA-256 ",
        "ok        MANIFEST.sha256: lists every file of the bundle",
        "ok        bundle.json: catalog_digest ",
        &format!("ok        reports/run.json: summary agrees with its {cases} cases (total and every verdict)"),
        "ok        reports/run.json: every case's trace (cases[].trace) is in the bundle",
        &format!("ok        reports/coverage.json: summary counts and mandatory/optional tallies agree with its {items} items"),
        "ok        reports/coverage.json: every item's cases are the run.json cases that cover it",
        "ok        reports/coverage.md: its headline is coverage.json's summary.headline",
        "ok        reports/junit.xml: every testsuite's tests/failures/errors/skipped counts its testcases",
        &format!("ok        reports/junit.xml: its {cases} testcases match run.json's cases, verdict by verdict"),
        "ok        ics.redacted.json: pixit.account.password, pixit.notification.secret, pixit.notification.auth_data are redacted or absent",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(out.contains(": verified ("), "{out}");
    assert!(!out.contains("MISMATCH"), "{out}");
}

#[test]
fn the_ics_in_the_bundle_carries_no_secret() {
    let files = read_archive(bundle()).unwrap();
    let ics = String::from_utf8(files["ics.redacted.json"].clone()).unwrap();
    assert!(ics.contains("\"secret\": \"<redacted>\""), "{ics}");
    assert!(ics.contains("\"auth_data\": \"<redacted>\""), "{ics}");
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for secret in [dmcts::reference::ics::REFERENCE_SECRET, dmcts::reference::ics::REFERENCE_AUTH_DATA] {
            assert!(!text.contains(secret), "{name} holds the secret {secret}");
        }
    }
}

#[test]
fn a_changed_byte_fails_naming_the_file() {
    let path = tampered("changed-byte", false, |f| replace(f, "reports/traces/TC-DMC-P0-002.txt", "FAIL", "PASS"));
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("MISMATCH  reports/traces/TC-DMC-P0-002.txt: SHA-256 differs from MANIFEST.sha256"), "{out}");
    assert!(out.contains("NOT verified: 1 mismatch(es)"), "{out}");
}

#[test]
fn a_removed_or_added_file_fails() {
    let path = tampered("removed", false, |f| {
        f.remove("reports/traces/TC-DMC-P0-002.txt");
    });
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "MISMATCH  reports/traces/TC-DMC-P0-002.txt: listed in MANIFEST.sha256 but missing from the bundle"
        ),
        "{out}"
    );
    let path = tampered("added", false, |f| {
        f.insert("reports/extra.txt".into(), b"slipped in".to_vec());
    });
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("MISMATCH  reports/extra.txt: in the bundle but not listed in MANIFEST.sha256"), "{out}");
    let path = tampered("no-manifest", false, |f| {
        f.remove(MANIFEST);
    });
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("MISMATCH  MANIFEST.sha256: missing from the bundle"), "{out}");
}

#[test]
fn an_edited_summary_count_fails_even_with_a_recomputed_manifest() {
    let path = tampered("summary", true, |f| replace(f, "reports/run.json", "\"fail\": 1,", "\"fail\": 0,"));
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("MISMATCH  reports/run.json: summary.fail is 0 but 1 case(s) have verdict fail"), "{out}");
    // The manifest itself agrees: only the consistency check caught it.
    assert!(!out.contains("SHA-256 differs"), "{out}");

    let path = tampered("coverage", true, |f| {
        let text = String::from_utf8(f["reports/coverage.json"].clone()).unwrap();
        let mut cov: serde_json::Value = serde_json::from_str(&text).unwrap();
        cov["summary"]["counts"]["pass"] = serde_json::json!(52);
        f.insert("reports/coverage.json".into(), serde_json::to_vec_pretty(&cov).unwrap());
    });
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("MISMATCH  reports/coverage.json: summary.counts.pass is 52 but "), "{out}");
}

#[test]
fn a_junit_report_that_disagrees_with_run_json_fails() {
    let path = tampered("junit", true, |f| {
        let text = String::from_utf8(f["reports/junit.xml"].clone()).unwrap();
        let at = text.find("<testcase name=\"TC-DMC-P0-002\"").unwrap();
        let fail_at = at + text[at..].find("<failure ").unwrap();
        let end = fail_at + text[fail_at..].find("</failure>").unwrap() + "</failure>".len();
        let edited = format!("{}{}", &text[..fail_at], &text[end..]).replacen("failures=\"1\"", "failures=\"0\"", 1);
        f.insert("reports/junit.xml".into(), edited.into_bytes());
    });
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("MISMATCH  reports/junit.xml: testcase TC-DMC-P0-002 is success \"\" but run.json says fail"),
        "{out}"
    );
}

#[test]
fn a_damaged_archive_fails_and_a_missing_one_is_an_input_error() {
    let path = scratch().join("damaged.tar.gz");
    let mut bytes = std::fs::read(bundle()).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, bytes).unwrap();
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not a readable tar.gz bundle"), "{out}");
    let (code, out) = verify(&scratch().join("no-such.tar.gz"));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no-such.tar.gz"), "{out}");
    let (code, out) = dmcts(&["bundle", scratch().join("no-reports").to_str().unwrap(), "-o", "/tmp/x.tar.gz"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no-reports/run.json: cannot read"), "{out}");
    let _ = cert_bundle::FORMAT;
}

#[path = "fakes/client_run.rs"]
mod client_run;

/// A vendor's run (`--ics`, here against the reference client on loopback): the notification
/// secret and auth data of its PIXIT are in no file of the bundle, and the bundled ICS says
/// `<redacted>` where they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_of_an_ics_run_holds_no_pixit_secret() {
    use dmcts::reference::client;
    let listen = client_run::free_port();
    let mut cfg = client::ClientConfig::new(format!("http://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let cl = client::spawn(cfg).await.unwrap();
    let dir = client_run::scratch("bundle-ics");
    let ics = dir.join("ics.toml");
    let text = client_run::client_ics(listen, &cl.ut_url, "", "");
    for secret in ["test-noti-secret", "test-noti-authdata"] {
        assert!(text.contains(secret), "the ICS holds {secret}");
    }
    std::fs::write(&ics, text).unwrap();
    let reports = dir.join("reports");
    let file = dir.join("bundle.tar.gz");
    let args: Vec<String> =
        ["run", "--ics", ics.to_str().unwrap(), "--report-dir", reports.to_str().unwrap(), "--", "TC-DMC-P0-00"]
            .map(String::from)
            .to_vec();
    let (code, out) = tokio::task::spawn_blocking(move || client_run::dmcts(&args)).await.unwrap();
    cl.shutdown().await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = dmcts(&["bundle", reports.to_str().unwrap(), "-o", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = verify(&file);
    assert_eq!(code, Some(0), "{out}");
    let files = read_archive(&file).unwrap();
    let bundled: serde_json::Value = serde_json::from_slice(&files["ics.redacted.json"]).unwrap();
    assert_eq!(bundled["pixit"]["notification"]["secret"], "<redacted>");
    assert_eq!(bundled["pixit"]["notification"]["auth_data"], "<redacted>");
    assert!(bundled["path"].as_str().unwrap().ends_with("ics.toml"), "{bundled}");
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for secret in ["test-noti-secret", "test-noti-authdata"] {
            assert!(!text.contains(secret), "{name} holds the secret {secret}");
        }
    }
}

/// A run with expected results: the expected failure is `<skipped type="expected">` in JUnit,
/// and verification checks the expectation counts of run.json and coverage.json too.
#[test]
fn the_bundle_of_a_run_with_expected_results_verifies() {
    let dir = scratch().join("expect");
    let _ = std::fs::remove_dir_all(&dir);
    let reports = dir.join("reports");
    let (code, out) = dmcts(&[
        "run",
        "--against",
        "reference",
        "--role",
        "client",
        "--fault",
        "client.notification-id-not-echoed",
        "--expect",
        "examples/expect.toml",
        "--report-dir",
        reports.to_str().unwrap(),
        "--",
        "TC-DMC-P0",
    ]);
    // The example's waiver for DM-PACK-009-C-O is stale against the reference client.
    assert_eq!(code, Some(1), "{out}");
    let file = dir.join("bundle.tar.gz");
    let (code, out) = dmcts(&["bundle", reports.to_str().unwrap(), "-o", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = verify(&file);
    assert_eq!(code, Some(0), "{out}");
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(reports.join("run.json")).unwrap()).unwrap();
    let cases = run["cases"].as_array().unwrap().len();
    for line in [
        "ok        reports/run.json: expectations.counts agree with cases[].expectation and expectations.entries",
        "ok        reports/coverage.json: summary.expectations as run.json expectations.counts",
        &format!("ok        reports/junit.xml: its {cases} testcases match run.json's cases, verdict by verdict"),
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let path = tampered_from(&file, "expect-counts", |f| {
        replace(f, "reports/run.json", "\"expected\": 1", "\"expected\": 0");
    });
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("MISMATCH  reports/run.json: expectations.counts.expected is 0 but the cases and entries give 1"),
        "{out}"
    );
}
