//! Reports of a run, all generated from one [`RunResult`] so they always agree:
//! `junit.xml`, `coverage.json`, `coverage.md`, `run.json`, `report.html` and
//! `traces/<case>.{json,txt}`.
//! The file layout and every JSON key are documented in `docs/reports.md`.
pub mod coverage;
pub mod html;
pub mod junit;
pub mod run_json;
pub mod text;

pub use coverage::{coverage, coverage_md, Coverage, CoverageItemInput, ItemVerdict};
pub use junit::{junit_xml, junit_xml_at};
pub use run_json::{run_json, SCHEMA_VERSION};
pub use text::{case_text, trace_text};

use crate::runner::result::RunResult;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// The files [`write_all`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub junit: PathBuf,
    pub coverage_json: PathBuf,
    pub coverage_md: PathBuf,
    pub run_json: PathBuf,
    /// `report.html`, built from the JSON reports.
    pub html: PathBuf,
    /// `traces/<case>.json` and `traces/<case>.txt`, in run order, json before txt.
    pub traces: Vec<PathBuf>,
}

impl Written {
    /// Every path written, reports first, then traces.
    pub fn all(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = vec![&self.junit, &self.coverage_json, &self.coverage_md, &self.run_json, &self.html];
        v.extend(self.traces.iter().map(PathBuf::as_path));
        v
    }
}

/// The report files [`write_all`] writes into the report directory, besides [`TRACES`].
pub const REPORT_FILES: [&str; 5] = [JUNIT, COVERAGE_JSON, COVERAGE_MD, RUN_JSON, html::REPORT_HTML];
const JUNIT: &str = "junit.xml";
const COVERAGE_JSON: &str = "coverage.json";
const COVERAGE_MD: &str = "coverage.md";
const RUN_JSON: &str = "run.json";
/// The folder of the per-case traces.
pub const TRACES: &str = "traces";

/// Makes `dir` ready for a run's reports, before the run's first case: creates it, proves it
/// writable, and removes the reports of an earlier run there ([`REPORT_FILES`] and [`TRACES`],
/// nothing else), so that a run which ends before writing its own reports leaves none that
/// could be taken for its own.
pub fn prepare_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
    let probe = dir.join(format!(".dmcts-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| with_path(e, dir))?;
    std::fs::remove_file(&probe).map_err(|e| with_path(e, &probe))?;
    for name in REPORT_FILES {
        remove_if_present(&dir.join(name), false)?;
    }
    remove_if_present(&dir.join(TRACES), true)
}

fn remove_if_present(path: &Path, dir: bool) -> io::Result<()> {
    let result = if dir && path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r.map_err(|e| with_path(e, path)),
    }
}

/// Writes every report of `run` into `dir` (created if needed). Existing files of the same
/// names are overwritten; other files in `dir` are left alone.
pub fn write_all(dir: &Path, run: &RunResult, items: &[CoverageItemInput]) -> io::Result<Written> {
    let traces_dir = dir.join(TRACES);
    std::fs::create_dir_all(&traces_dir).map_err(|e| with_path(e, &traces_dir))?;

    let cov = coverage(run, items);
    let run_value = run_json(run);
    // report.html is built from the same JSON the other files hold (as `dmcts report html`
    // rebuilds it from them).
    let mut page = html::Input {
        run: run_value.clone(),
        coverage: Some(serde_json::to_value(&cov).map_err(io::Error::other)?),
        traces: Default::default(),
    };
    let mut traces = Vec::new();
    for (i, (case, stem)) in run.cases.iter().zip(trace_stems(run)).enumerate() {
        let json = run_json::trace_json(run, i).unwrap_or(serde_json::Value::Null);
        traces.push(write(traces_dir.join(format!("{stem}.json")), pretty(&json)?)?);
        traces.push(write(traces_dir.join(format!("{stem}.txt")), case_text(case))?);
        page.traces.insert(format!("{TRACES}/{stem}.json"), json);
    }
    let written = Written {
        junit: write(dir.join(JUNIT), junit_xml(run)?)?,
        coverage_json: write(dir.join(COVERAGE_JSON), pretty(&cov)?)?,
        coverage_md: write(dir.join(COVERAGE_MD), coverage_md(&cov))?,
        run_json: write(dir.join(RUN_JSON), pretty(&run_value)?)?,
        html: write(dir.join(html::REPORT_HTML), html::render(&page).map_err(io::Error::other)?)?,
        traces,
    };
    Ok(written)
}

fn write(path: PathBuf, contents: String) -> io::Result<PathBuf> {
    std::fs::write(&path, contents).map_err(|e| with_path(e, &path))?;
    Ok(path)
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn pretty<T: serde::Serialize>(value: &T) -> io::Result<String> {
    let mut s = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    s.push('\n');
    Ok(s)
}

/// File-name stems of the per-case trace files, in run order: the case id with anything but
/// `[A-Za-z0-9._-]` replaced by `_`, made unique (case-insensitively, for such file systems)
/// with a `_<n>` suffix. Case ids come from the catalog, but a file name must never escape
/// `traces/`.
pub fn trace_stems(run: &RunResult) -> Vec<String> {
    let mut seen = HashSet::new();
    run.cases
        .iter()
        .map(|c| {
            let mut base: String =
                c.id.chars()
                    .map(|ch| if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.') { ch } else { '_' })
                    .collect();
            if base.is_empty() || base.starts_with('.') {
                base.insert(0, '_');
            }
            let mut stem = base.clone();
            let mut n = 2;
            while !seen.insert(stem.to_ascii_lowercase()) {
                stem = format!("{base}_{n}");
                n += 1;
            }
            stem
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::result::CaseResult;
    use crate::verdict::Verdict;

    fn run_with_ids(ids: &[&str]) -> RunResult {
        RunResult {
            suite_version: "0".into(),
            catalog_digest: "d".into(),
            catalog: None,
            interrupted: false,
            iut: serde_json::json!({}),
            cases: ids
                .iter()
                .map(|id| CaseResult {
                    id: id.to_string(),
                    title: String::new(),
                    role: "client".into(),
                    covers: vec![],
                    verdict: Verdict::Pass,
                    reason: None,
                    duration_ms: 0,
                    evidence: Default::default(),
                    inferred: Default::default(),
                    informational: Vec::new(),
                    trace: vec![],
                })
                .collect(),
            selection: None,
            late_traffic: Vec::new(),
        }
    }

    #[test]
    fn prepare_dir_removes_only_the_reports_of_an_earlier_run() {
        let dir = std::env::temp_dir().join(format!("dmcts-prepare-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("traces")).unwrap();
        for name in REPORT_FILES.iter().chain(&["traces/TC-OLD.txt", "notes.txt", "selftest.json"]) {
            std::fs::write(dir.join(name), "stale").unwrap();
        }
        prepare_dir(&dir).unwrap();
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, vec!["notes.txt", "selftest.json"]);
        prepare_dir(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn prepare_dir_fails_where_no_directory_can_be() {
        let file = std::env::temp_dir().join(format!("dmcts-prepare-file-{}", std::process::id()));
        std::fs::write(&file, "a file").unwrap();
        let e = prepare_dir(&file.join("reports")).unwrap_err();
        assert!(e.to_string().contains("dmcts-prepare-file-"), "{e}");
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn trace_stems_are_safe_and_unique() {
        let r = run_with_ids(&["TC-1", "../x", "tc-1", "", "a/b", "a_b"]);
        assert_eq!(trace_stems(&r), vec!["TC-1", "_.._x", "tc-1_2", "_", "a_b", "a_b_2"]);
    }
}
