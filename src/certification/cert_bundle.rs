//! The certification bundle (`dmcts bundle REPORT_DIR -o FILE`, `dmcts bundle verify FILE`):
//! one `tar.gz` holding a run's reports, the ICS it ran with (secrets redacted), the suite
//! version and catalog digest, and a SHA-256 manifest of every other file. Verification checks
//! the manifest (no file changed, missing or extra) and that every summary agrees with the
//! case data it summarises, and says what it checked, line by line. Layout: docs/certification.md.
//!
//! Not to be confused with [`crate::bundle`], the catalog built into the binary.
use crate::ics::redact::{redact_pixit_json, REDACTED, SENSITIVE};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Version of the bundle layout, in `bundle.json`.
pub const FORMAT: u32 = 1;
/// `<sha256 hex>  <path>` per file (the `sha256sum` format), every file but itself.
pub const MANIFEST: &str = "MANIFEST.sha256";
/// Suite version, catalog digest and what the bundle holds.
pub const BUNDLE_JSON: &str = "bundle.json";
/// The ICS and PIXIT the run used, sensitive values redacted (from run.json `iut`).
pub const ICS_JSON: &str = "ics.redacted.json";
/// Folder of the report files inside the archive.
pub const REPORTS: &str = "reports";
/// The report files bundled when present (run.json is required), besides `traces/`.
pub const REPORT_FILES: [&str; 5] = ["run.json", "junit.xml", "coverage.json", "coverage.md", "report.html"];

/// What [`create`] wrote.
pub struct Created {
    pub path: PathBuf,
    /// Paths inside the archive, manifest last.
    pub files: Vec<String>,
    /// Files of the report dir that were left out (not reports).
    pub left_out: Vec<String>,
}

/// Writes the bundle of the run whose reports are in `report_dir` to `out`.
pub fn create(report_dir: &Path, out: &Path) -> anyhow::Result<Created> {
    let run_path = report_dir.join("run.json");
    let run_bytes = std::fs::read(&run_path).map_err(|e| {
        anyhow::anyhow!("{}: cannot read ({e}); is {} a report dir?", run_path.display(), report_dir.display())
    })?;
    let run: Value =
        serde_json::from_slice(&run_bytes).map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", run_path.display()))?;
    for key in ["suite_version", "catalog_digest", "cases", "summary"] {
        if run.get(key).is_none() {
            anyhow::bail!("{}: at /{key}: missing; not a run.json of dmcts", run_path.display());
        }
    }
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for name in REPORT_FILES {
        let p = report_dir.join(name);
        if p.is_file() {
            files.insert(
                format!("{REPORTS}/{name}"),
                std::fs::read(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            );
        }
    }
    let traces = report_dir.join(crate::report::TRACES);
    if traces.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(&traces)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            if e.file_type()?.is_file() {
                let name = e.file_name().to_string_lossy().into_owned();
                files.insert(format!("{REPORTS}/traces/{name}"), std::fs::read(e.path())?);
            }
        }
    }
    let mut left_out = Vec::new();
    for e in std::fs::read_dir(report_dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if !REPORT_FILES.contains(&name.as_str()) && name != crate::report::TRACES {
            left_out.push(name);
        }
    }
    left_out.sort();
    let mut ics = run.get("iut").cloned().unwrap_or(Value::Null);
    redact_ics(&mut ics);
    files.insert(ICS_JSON.into(), pretty(&ics));
    let bundle = json!({
        "format": FORMAT,
        "suite_version": run["suite_version"],
        "catalog_digest": run["catalog_digest"],
        "catalog": run.get("catalog").cloned().unwrap_or(Value::Null),
        "bundled_by": format!("dmcts {}", crate::SUITE_VERSION),
        // Files listed in the manifest: every file but the manifest, this one included.
        "files": files.len() + 1,
    });
    files.insert(BUNDLE_JSON.into(), pretty(&bundle));
    let manifest: String = files.iter().map(|(p, b)| format!("{}  {p}\n", sha256(b))).collect();
    files.insert(MANIFEST.into(), manifest.into_bytes());

    let tmp = out.with_extension("partial");
    write_archive(&tmp, &files).map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    let mut names: Vec<String> = files.keys().filter(|k| *k != MANIFEST).cloned().collect();
    names.push(MANIFEST.into());
    Ok(Created { path: out.to_path_buf(), files: names, left_out })
}

/// Redacts the sensitive PIXIT values wherever an ICS sits in run.json `iut` (an `--ics` run:
/// `pixit`; a reference run: `client.pixit` and `server.pixit`). run.json is redacted already:
/// this makes sure of it for the copy a lab receives.
fn redact_ics(iut: &mut Value) {
    for pointer in ["/pixit", "/client/pixit", "/server/pixit"] {
        if let Some(p) = iut.pointer_mut(pointer) {
            redact_pixit_json(p);
        }
    }
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A reproducible archive: sorted paths, fixed mode, owner and time.
pub fn write_archive(path: &Path, files: &BTreeMap<String, Vec<u8>>) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, bytes.as_slice())?;
    }
    tar.into_inner()?.finish()?.sync_all()
}

/// Reads every regular file of a bundle: path → bytes.
pub fn read_archive(path: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let name = entry.path()?.to_string_lossy().into_owned();
        if !entry.header().entry_type().is_file() {
            return Err(std::io::Error::other(format!("{name}: not a regular file")));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        if out.insert(name.clone(), bytes).is_some() {
            return Err(std::io::Error::other(format!("{name}: twice in the archive")));
        }
    }
    Ok(out)
}

/// What verification found: one line per check that held, one per mismatch.
#[derive(Debug, Default)]
pub struct Verification {
    pub verified: Vec<String>,
    pub mismatches: Vec<String>,
}

impl Verification {
    fn ok(&mut self, line: String) {
        self.verified.push(line);
    }
    fn bad(&mut self, line: String) {
        self.mismatches.push(line);
    }

    /// The text printed by `dmcts bundle verify`: `ok` lines, then `MISMATCH` lines, then the result.
    pub fn render(&self, path: &Path) -> String {
        let mut out = String::new();
        for l in &self.verified {
            out.push_str(&format!("ok        {l}\n"));
        }
        for l in &self.mismatches {
            out.push_str(&format!("MISMATCH  {l}\n"));
        }
        if self.mismatches.is_empty() {
            out.push_str(&format!("{}: verified ({} checks)\n", path.display(), self.verified.len()));
        } else {
            out.push_str(&format!("{}: NOT verified: {} mismatch(es)\n", path.display(), self.mismatches.len()));
        }
        out
    }

    pub fn exit_code(&self) -> u8 {
        u8::from(!self.mismatches.is_empty())
    }
}

/// Verifies the bundle at `path`. `Err` only when the file cannot be opened at all; a damaged
/// archive is a mismatch.
pub fn verify(path: &Path) -> std::io::Result<Verification> {
    std::fs::metadata(path)?;
    let mut v = Verification::default();
    let files = match read_archive(path) {
        Ok(f) => f,
        Err(e) => {
            v.bad(format!("{}: not a readable tar.gz bundle: {e}", path.display()));
            return Ok(v);
        }
    };
    check_manifest(&files, &mut v);
    let json = |name: &str, v: &mut Verification| -> Option<Value> {
        let bytes = files.get(name)?;
        match serde_json::from_slice(bytes) {
            Ok(j) => Some(j),
            Err(e) => {
                v.bad(format!("{name}: not JSON: {e}"));
                None
            }
        }
    };
    let run_name = format!("{REPORTS}/run.json");
    let Some(run) = json(&run_name, &mut v) else {
        if !files.contains_key(&run_name) {
            v.bad(format!("{run_name}: missing from the bundle"));
        }
        return Ok(v);
    };
    if let Some(b) = json(BUNDLE_JSON, &mut v) {
        check_bundle_json(&b, &run, &mut v);
    } else if !files.contains_key(BUNDLE_JSON) {
        v.bad(format!("{BUNDLE_JSON}: missing from the bundle"));
    }
    check_run_summary(&run, &files, &mut v);
    let cov_name = format!("{REPORTS}/coverage.json");
    if let Some(cov) = json(&cov_name, &mut v) {
        check_coverage(&cov, &run, &mut v);
        if let Some(md) = files.get(&format!("{REPORTS}/coverage.md")) {
            let headline = cov.pointer("/summary/headline").and_then(Value::as_str).unwrap_or_default();
            if String::from_utf8_lossy(md).contains(headline) {
                v.ok(format!("{REPORTS}/coverage.md: its headline is coverage.json's summary.headline"));
            } else {
                v.bad(format!(
                    "{REPORTS}/coverage.md: its headline differs from coverage.json summary.headline {headline:?}"
                ));
            }
        }
    }
    if let Some(xml) = files.get(&format!("{REPORTS}/junit.xml")) {
        check_junit(xml, &run, &mut v);
    }
    match json(ICS_JSON, &mut v) {
        Some(ics) => check_ics(&ics, &run, &mut v),
        None if !files.contains_key(ICS_JSON) => v.bad(format!("{ICS_JSON}: missing from the bundle")),
        None => {}
    }
    Ok(v)
}

fn check_manifest(files: &BTreeMap<String, Vec<u8>>, v: &mut Verification) {
    let Some(manifest) = files.get(MANIFEST) else {
        v.bad(format!("{MANIFEST}: missing from the bundle: no file can be verified"));
        return;
    };
    let mut listed = BTreeSet::new();
    for (i, line) in String::from_utf8_lossy(manifest).lines().enumerate() {
        let Some((hash, name)) = line.split_once("  ").filter(|(h, _)| h.len() == 64) else {
            v.bad(format!("{MANIFEST} line {}: expected `<sha256 hex>  <path>`, found {line:?}", i + 1));
            continue;
        };
        listed.insert(name.to_string());
        match files.get(name) {
            None => v.bad(format!("{name}: listed in {MANIFEST} but missing from the bundle")),
            Some(bytes) => {
                let actual = sha256(bytes);
                if actual == hash {
                    v.ok(format!("{name}: SHA-256 {}… as in {MANIFEST}", &hash[..16]));
                } else {
                    v.bad(format!(
                        "{name}: SHA-256 differs from {MANIFEST} (manifest {}…, file {}…): the file was changed",
                        &hash[..16],
                        &actual[..16]
                    ));
                }
            }
        }
    }
    for name in files.keys().filter(|n| *n != MANIFEST && !listed.contains(*n)) {
        v.bad(format!("{name}: in the bundle but not listed in {MANIFEST}"));
    }
    let declared = std::str::from_utf8(files.get(BUNDLE_JSON).map(Vec::as_slice).unwrap_or_default())
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|b| b.get("files").and_then(Value::as_u64));
    if declared.is_some_and(|n| n != listed.len() as u64) {
        v.bad(format!(
            "{BUNDLE_JSON}: files is {} but {MANIFEST} lists {} files",
            declared.unwrap_or_default(),
            listed.len()
        ));
    }
    if files.keys().all(|n| n == MANIFEST || listed.contains(n)) {
        v.ok(format!("{MANIFEST}: lists every file of the bundle ({} files), none extra", listed.len()));
    }
}

fn check_bundle_json(b: &Value, run: &Value, v: &mut Verification) {
    for key in ["suite_version", "catalog_digest"] {
        if b.get(key) == run.get(key) && b.get(key).is_some() {
            v.ok(format!("{BUNDLE_JSON}: {key} {} as in run.json", b[key]));
        } else {
            v.bad(format!("{BUNDLE_JSON}: {key} is {} but run.json says {}", b[key], run[key]));
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn check_run_summary(run: &Value, files: &BTreeMap<String, Vec<u8>>, v: &mut Verification) {
    let name = format!("{REPORTS}/run.json");
    let cases = run.get("cases").and_then(Value::as_array).cloned().unwrap_or_default();
    let Some(summary) = run.get("summary").and_then(Value::as_object) else {
        v.bad(format!("{name}: at /summary: missing"));
        return;
    };
    let mut ok = true;
    for (key, count) in summary {
        let actual =
            if key == "total" { cases.len() } else { cases.iter().filter(|c| str_of(c, "verdict") == key).count() };
        if count.as_u64() != Some(actual as u64) {
            ok = false;
            v.bad(format!(
                "{name}: summary.{key} is {count} but {actual} case(s) have {}",
                if key == "total" { "an entry".to_string() } else { format!("verdict {key}") }
            ));
        }
    }
    let unknown: BTreeSet<&str> =
        cases.iter().map(|c| str_of(c, "verdict")).filter(|k| !summary.contains_key(*k)).collect();
    for k in unknown {
        ok = false;
        v.bad(format!("{name}: cases have verdict {k} but summary does not count it"));
    }
    if ok {
        v.ok(format!("{name}: summary agrees with its {} cases (total and every verdict)", cases.len()));
    }
    let missing: Vec<String> =
        cases.iter().map(|c| format!("{REPORTS}/{}", str_of(c, "trace"))).filter(|t| !files.contains_key(t)).collect();
    if missing.is_empty() {
        v.ok(format!("{name}: every case's trace (cases[].trace) is in the bundle"));
    } else {
        v.bad(format!("{name}: traces named by cases[].trace are missing: {}", missing.join(", ")));
    }
    if let Some(exp) = run.get("expectations") {
        let count = |o: &str| {
            cases.iter().filter(|c| c.pointer("/expectation/outcome").and_then(Value::as_str) == Some(o)).count()
        };
        let entries = exp.get("entries").and_then(Value::as_array).cloned().unwrap_or_default();
        let entry_count = |o: &str| entries.iter().filter(|e| str_of(e, "outcome") == o).count();
        let checks = [
            ("expected", count("expected")),
            ("now_passing", entry_count("now-passes")),
            ("not_run", entry_count("not-run")),
        ];
        let mut ok = true;
        for (key, actual) in checks {
            let given = exp.pointer(&format!("/counts/{key}")).and_then(Value::as_u64);
            if given != Some(actual as u64) {
                ok = false;
                v.bad(format!(
                    "{name}: expectations.counts.{key} is {} but the cases and entries give {actual}",
                    given.map(|g| g.to_string()).unwrap_or("missing".into())
                ));
            }
        }
        if ok {
            v.ok(format!("{name}: expectations.counts agree with cases[].expectation and expectations.entries"));
        }
    }
}

fn check_coverage(cov: &Value, run: &Value, v: &mut Verification) {
    let name = format!("{REPORTS}/coverage.json");
    let items = cov.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    let cases = run.get("cases").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut ok = true;
    if let Some(counts) = cov.pointer("/summary/counts").and_then(Value::as_object) {
        for (key, count) in counts {
            let actual = items.iter().filter(|i| str_of(i, "verdict") == key).count();
            if count.as_u64() != Some(actual as u64) {
                ok = false;
                v.bad(format!("{name}: summary.counts.{key} is {count} but {actual} item(s) have verdict {key}"));
            }
        }
    } else {
        ok = false;
        v.bad(format!("{name}: at /summary/counts: missing"));
    }
    for tally in ["mandatory", "optional"] {
        let rows = items.iter().filter(|i| {
            i.get("applicable") == Some(&Value::Bool(true))
                && str_of(i, "verdict") != "not-selected"
                && (str_of(i, "status") == "M") == (tally == "mandatory")
        });
        let (total, pass) = rows.fold((0u64, 0u64), |(t, p), i| (t + 1, p + u64::from(str_of(i, "verdict") == "pass")));
        let given = (
            cov.pointer(&format!("/summary/{tally}/total")).and_then(Value::as_u64),
            cov.pointer(&format!("/summary/{tally}/pass")).and_then(Value::as_u64),
        );
        if given != (Some(total), Some(pass)) {
            ok = false;
            v.bad(format!(
                "{name}: summary.{tally} is {:?}/{:?} pass/total but the items give {pass}/{total}",
                given.1, given.0
            ));
        }
    }
    if ok {
        v.ok(format!("{name}: summary counts and mandatory/optional tallies agree with its {} items", items.len()));
    }
    if let Some(counts) = run.pointer("/expectations/counts") {
        if cov.pointer("/summary/expectations") == Some(counts) {
            v.ok(format!("{name}: summary.expectations as run.json expectations.counts"));
        } else {
            v.bad(format!(
                "{name}: summary.expectations is {} but run.json expectations.counts is {counts}",
                cov.pointer("/summary/expectations").cloned().unwrap_or(Value::Null)
            ));
        }
    }
    let mut ok = true;
    for item in &items {
        let id = str_of(item, "id");
        let listed: BTreeSet<&str> =
            item.get("cases").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let covering: BTreeSet<&str> = cases
            .iter()
            .filter(|c| c.get("covers").and_then(Value::as_array).is_some_and(|cv| cv.iter().any(|x| x == id)))
            .map(|c| str_of(c, "id"))
            .collect();
        if listed != covering {
            ok = false;
            v.bad(format!(
                "{name}: item {id} lists cases {:?} but run.json's cases covering it are {:?}",
                listed, covering
            ));
        }
    }
    if ok {
        v.ok(format!("{name}: every item's cases are the run.json cases that cover it"));
    }
}

/// The JUnit element a run.json case must have: (element, type).
fn junit_element(case: &Value) -> (&'static str, String) {
    match case.pointer("/expectation/outcome").and_then(Value::as_str) {
        Some("expected") => return ("skipped", "expected".into()),
        Some("now-passes") => return ("failure", "expected-fail-now-passes".into()),
        _ => {}
    }
    match str_of(case, "verdict") {
        "pass" => ("success", String::new()),
        "fail" => ("failure", "fail".into()),
        "inconc" => ("failure", "inconclusive".into()),
        "error" => ("error", "error".into()),
        other => ("skipped", other.to_string()),
    }
}

fn check_junit(xml: &[u8], run: &Value, v: &mut Verification) {
    use quick_xml::events::Event;
    let name = format!("{REPORTS}/junit.xml");
    let mut reader = quick_xml::Reader::from_reader(xml);
    // (suite attributes tests/failures/errors/skipped, counted elements)
    struct Suite {
        name: String,
        attrs: BTreeMap<String, String>,
        counts: BTreeMap<&'static str, u64>,
    }
    let mut suites: Vec<Suite> = Vec::new();
    let mut cases: Vec<(String, &'static str, String)> = Vec::new();
    let mut current: Option<(String, &'static str, String)> = None;
    let mut buf = Vec::new();
    let attrs_of = |e: &quick_xml::events::BytesStart| -> BTreeMap<String, String> {
        e.attributes()
            .flatten()
            .map(|a| {
                let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                let val =
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map(|c| c.into_owned()).unwrap_or_default();
                (key, val)
            })
            .collect()
    };
    loop {
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                v.bad(format!("{name}: not well-formed XML at byte {}: {e}", reader.buffer_position()));
                return;
            }
        };
        let (start, empty) = match &ev {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(e) => {
                if e.name().as_ref() == b"testcase" {
                    if let Some(c) = current.take() {
                        cases.push(c);
                    }
                }
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        if let Some(e) = start {
            let attrs = attrs_of(&e);
            match e.name().as_ref() {
                b"testsuite" => suites.push(Suite {
                    name: attrs.get("name").cloned().unwrap_or_default(),
                    attrs,
                    counts: BTreeMap::new(),
                }),
                b"testcase" => {
                    let c = (attrs.get("name").cloned().unwrap_or_default(), "success", String::new());
                    if let Some(s) = suites.last_mut() {
                        *s.counts.entry("tests").or_default() += 1;
                    }
                    if empty {
                        cases.push(c);
                    } else {
                        current = Some(c);
                    }
                }
                tag @ (b"failure" | b"error" | b"skipped") => {
                    let el: &'static str = match tag {
                        b"failure" => "failure",
                        b"error" => "error",
                        _ => "skipped",
                    };
                    if let Some(c) = current.as_mut() {
                        c.1 = el;
                        c.2 = attrs.get("type").cloned().unwrap_or_default();
                        if let Some(s) = suites.last_mut() {
                            let key = match el {
                                "failure" => "failures",
                                "error" => "errors",
                                _ => "skipped",
                            };
                            *s.counts.entry(key).or_default() += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        buf.clear();
    }
    let mut ok = true;
    for s in &suites {
        for key in ["tests", "failures", "errors", "skipped"] {
            // An attribute the writer leaves out (junit-report writes no `skipped`) says nothing.
            let Some(given) = s.attrs.get(key) else { continue };
            let actual = s.counts.get(key).copied().unwrap_or(0);
            if given.parse::<u64>().ok() != Some(actual) {
                ok = false;
                v.bad(format!("{name}: testsuite {} says {key}=\"{given}\" but holds {actual}", s.name));
            }
        }
    }
    if ok {
        v.ok(format!(
            "{name}: every testsuite's tests/failures/errors/skipped counts its testcases ({} suites)",
            suites.len()
        ));
    }
    let run_cases = run.get("cases").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut ok = cases.len() == run_cases.len();
    if !ok {
        v.bad(format!("{name}: {} testcases but run.json has {} cases", cases.len(), run_cases.len()));
    }
    for rc in &run_cases {
        let id = str_of(rc, "id");
        let want = junit_element(rc);
        match cases.iter().find(|c| c.0 == id) {
            None => {
                ok = false;
                v.bad(format!("{name}: no testcase for run.json case {id}"));
            }
            Some(c) if (c.1, c.2.as_str()) != (want.0, want.1.as_str()) => {
                ok = false;
                v.bad(format!(
                    "{name}: testcase {id} is {} {:?} but run.json says {} (expected {} {:?})",
                    c.1,
                    c.2,
                    str_of(rc, "verdict"),
                    want.0,
                    want.1
                ));
            }
            Some(_) => {}
        }
    }
    if ok {
        v.ok(format!("{name}: its {} testcases match run.json's cases, verdict by verdict", cases.len()));
    }
}

fn check_ics(ics: &Value, run: &Value, v: &mut Verification) {
    let mut leaks = Vec::new();
    for base in ["/pixit", "/client/pixit", "/server/pixit"] {
        for s in SENSITIVE {
            let pointer = format!("{base}/{}", s.replace('.', "/"));
            if let Some(val) = ics.pointer(&pointer) {
                if !val.is_null() && val != REDACTED {
                    leaks.push(pointer);
                }
            }
        }
    }
    if leaks.is_empty() {
        v.ok(format!("{ICS_JSON}: {} are redacted or absent", SENSITIVE.map(|s| format!("pixit.{s}")).join(", ")));
    } else {
        v.bad(format!("{ICS_JSON}: not redacted: {}", leaks.join(", ")));
    }
    let mut iut = run.get("iut").cloned().unwrap_or(Value::Null);
    redact_ics(&mut iut);
    if &iut == ics {
        v.ok(format!("{ICS_JSON}: the ICS run.json names (iut), redacted"));
    } else {
        v.bad(format!("{ICS_JSON}: differs from run.json's iut"));
    }
}
