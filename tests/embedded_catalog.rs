//! The binary carries its catalog: an installed `dmcts` works from any directory, `cases
//! export` writes the embedded catalog out, and `--scr-dir`/`--cases-dir` (or
//! `DMCTS_SCR_DIR`/`DMCTS_CASES_DIR`) read an edited copy, with the same digest when unedited.
//! Every command runs the built binary as a process, in an empty temporary directory.
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(60);

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dmcts-embedded-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `dmcts args` run in `cwd`, with `env` set and the catalog variables otherwise unset.
fn dmcts_in(cwd: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dmcts"));
    cmd.args(args).current_dir(cwd).env_remove("DMCTS_SCR_DIR").env_remove("DMCTS_CASES_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + BOUND;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dmcts {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// The digest `cases check` prints.
fn digest_of(check_stdout: &str) -> String {
    let at = check_stdout.find("catalog digest ").expect("a digest") + "catalog digest ".len();
    check_stdout[at..].chars().take_while(char::is_ascii_hexdigit).collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("JSON")
}

#[test]
fn the_binary_runs_from_an_empty_directory() {
    let empty = temp_dir("empty");
    let items = ok(&dmcts_in(&empty, &[], &["scr", "list"]));
    assert!(items.contains("DM-PACK-001-C-M"), "{items}");
    let check = ok(&dmcts_in(&empty, &[], &["cases", "check"]));
    assert!(check.starts_with("embedded: ") && check.contains("all valid"), "{check}");

    let out = dmcts_in(&empty, &[], &["run", "--against", "reference", "--report-dir", "reports"]);
    let stdout = ok(&out);
    assert!(stdout.contains("reports: reports"), "{stdout}");
    let run = read_json(&empty.join("reports/run.json"));
    assert_eq!(run["catalog"]["scr"], "embedded");
    assert_eq!(run["catalog"]["cases"], "embedded");
    assert_eq!(run["catalog"]["digest"], run["catalog_digest"]);
    assert_eq!(run["catalog"]["digest"].as_str(), Some(digest_of(&check).as_str()));
    // Everything passes but the certificate cases, which need --tls (docs/security.md).
    let s = &run["summary"];
    assert_eq!(s["pass"].as_u64().unwrap() + s["not-applicable"].as_u64().unwrap(), s["total"].as_u64().unwrap());
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn an_exported_catalog_read_back_from_directories_has_the_embedded_digest() {
    let dir = temp_dir("export");
    let out = dmcts_in(&dir, &[], &["cases", "export", "catalog"]);
    let listing = ok(&out);
    let written: Vec<&str> = listing.lines().filter_map(|l| l.strip_prefix("wrote ")).collect();
    assert!(written.contains(&"catalog/scr/dm2/packages.toml"), "{listing}");
    assert!(written.contains(&"catalog/cases/dm2/client/session.toml"), "{listing}");
    assert!(written.iter().all(|p| dir.join(p).is_file()), "{listing}");
    assert!(listing.contains("--scr-dir catalog/scr --cases-dir catalog/cases"), "{listing}");

    // A second export refuses to overwrite, and writes nothing; --force overwrites.
    std::fs::write(dir.join("catalog/cases/dm2/client/session.toml"), "edited").unwrap();
    let again = dmcts_in(&dir, &[], &["cases", "export", "catalog"]);
    let err = text(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing to overwrite") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("catalog/cases/dm2/client/session.toml")).unwrap(), "edited");
    ok(&dmcts_in(&dir, &[], &["cases", "export", "catalog", "--force"]));

    let embedded = digest_of(&ok(&dmcts_in(&dir, &[], &["cases", "check"])));
    let flags =
        ok(&dmcts_in(&dir, &[], &["--scr-dir", "catalog/scr", "--cases-dir", "catalog/cases", "cases", "check"]));
    assert!(flags.starts_with("catalog/cases: "), "{flags}");
    assert_eq!(digest_of(&flags), embedded);
    let (scr, cases) = (dir.join("catalog/scr"), dir.join("catalog/cases"));
    let vars = ok(&dmcts_in(&dir, &[("DMCTS_SCR_DIR", &scr), ("DMCTS_CASES_DIR", &cases)], &["cases", "check"]));
    assert_eq!(digest_of(&vars), embedded);

    // run.json names the directories, with the same digest.
    let out = dmcts_in(
        &dir,
        &[("DMCTS_SCR_DIR", &scr)],
        &[
            "run",
            "--against",
            "reference",
            "--cases-dir",
            "catalog/cases",
            "--report-dir",
            "r",
            "--",
            "TC-DMC-SESS-001",
        ],
    );
    ok(&out);
    let run = read_json(&dir.join("r/run.json"));
    assert_eq!(run["catalog"]["scr"].as_str(), scr.to_str());
    assert_eq!(run["catalog"]["cases"], "catalog/cases");
    assert_eq!(run["catalog"]["digest"].as_str(), Some(embedded.as_str()));
    assert_eq!(run["catalog_digest"].as_str(), Some(embedded.as_str()));

    // An edit is a different catalog; the tables may sit in subfolders (scr/<area>/<table>.toml).
    let session = dir.join("catalog/cases/dm2/client/session.toml");
    let src = std::fs::read_to_string(&session).unwrap();
    std::fs::write(&session, format!("# a catalog author's note\n{src}")).unwrap();
    std::fs::create_dir_all(dir.join("catalog/scr/dm2")).unwrap();
    std::fs::rename(dir.join("catalog/scr/dm2/packages.toml"), dir.join("catalog/scr/dm2/packages.toml")).unwrap();
    let edited =
        ok(&dmcts_in(&dir, &[], &["--scr-dir", "catalog/scr", "--cases-dir", "catalog/cases", "cases", "check"]));
    assert_ne!(digest_of(&edited), embedded);
    let scr_check = ok(&dmcts_in(&dir, &[], &["--scr-dir", "catalog/scr", "scr", "check"]));
    let embedded_scr = ok(&dmcts_in(&dir, &[], &["scr", "check"]));
    assert_eq!(scr_check.strip_prefix("catalog/scr"), embedded_scr.strip_prefix("embedded"), "{scr_check}");

    // An error in an edited case names the file in the directory.
    std::fs::write(&session, "[[case]]\nid = \"TC-X\"\ntitle = \n").unwrap();
    let broken = dmcts_in(&dir, &[], &["--cases-dir", "catalog/cases", "cases", "check"]);
    let err = text(&broken.stderr);
    assert_eq!(broken.status.code(), Some(2), "{err}");
    assert!(err.contains("catalog/cases/dm2/client/session.toml:3"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_catalog_directory_names_the_flag_and_the_variable() {
    let dir = temp_dir("missing");
    let out = dmcts_in(&dir, &[], &["--cases-dir", "no-such-cases", "cases", "check"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no-such-cases") && err.contains("--cases-dir") && err.contains("DMCTS_CASES_DIR"), "{err}");

    let missing = dir.join("no-such-scr");
    let out = dmcts_in(&dir, &[("DMCTS_SCR_DIR", &missing)], &["scr", "check"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no-such-scr") && err.contains("--scr-dir") && err.contains("DMCTS_SCR_DIR"), "{err}");

    // An empty directory is not an empty catalog.
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let out = dmcts_in(&dir, &[], &["--cases-dir", "empty", "cases", "list"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no case files (*.toml) under empty") && err.contains("--cases-dir"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
