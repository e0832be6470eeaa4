//! `dmcts run --repeat N`: the selection run N times; a case whose verdict is not the same in
//! every repetition is *flaky*, reported with each repetition's verdict and reason (console and
//! run.json `repeat`, docs/certification.md). A flaky case makes the run exit 1: a verdict that
//! depends on the attempt certifies nothing.
use crate::runner::result::RunResult;
use crate::verdict::Verdict;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A case's verdict and reason in one repetition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// 1-based repetition.
    pub run: usize,
    pub verdict: Verdict,
    /// The reason on one line; `null` for a pass.
    pub reason: Option<String>,
}

/// A case across the repetitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseRuns {
    pub id: String,
    pub runs: Vec<Attempt>,
}

/// What N repetitions showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repeated {
    pub runs: usize,
    /// Cases whose verdict varied, in catalog order.
    pub flaky: Vec<CaseRuns>,
    /// Cases with the same fail, inconc, error or not-tested verdict in every repetition.
    pub failing: Vec<CaseRuns>,
}

/// Compares the repetitions' results (each the same catalog, in the same order).
pub fn aggregate(results: &[RunResult]) -> Repeated {
    let mut flaky = Vec::new();
    let mut failing = Vec::new();
    let ids: Vec<&str> = results.first().map(|r| r.cases.iter().map(|c| c.id.as_str()).collect()).unwrap_or_default();
    for id in ids {
        let runs: Vec<Attempt> = results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.cases.iter().find(|c| c.id == id).map(|c| (i, c)))
            .map(|(i, c)| Attempt {
                run: i + 1,
                verdict: c.verdict,
                reason: c.reason.as_ref().map(|r| r.render().lines().map(str::trim).collect::<Vec<_>>().join("; ")),
            })
            .collect();
        let first = runs.first().map(|a| a.verdict);
        let varied = runs.iter().any(|a| Some(a.verdict) != first) || runs.len() != results.len();
        let case = CaseRuns { id: id.to_string(), runs };
        if varied {
            flaky.push(case);
        } else if matches!(first, Some(Verdict::Fail | Verdict::Inconc | Verdict::Error | Verdict::NotTested)) {
            failing.push(case);
        }
    }
    Repeated { runs: results.len(), flaky, failing }
}

impl Repeated {
    /// 1 when a case is flaky, else the worst exit code of the repetitions.
    pub fn exit_code(&self, per_run: &[u8]) -> u8 {
        let worst = per_run.iter().copied().max().unwrap_or(0);
        if self.flaky.is_empty() {
            worst
        } else {
            worst.max(1)
        }
    }

    /// The console's block after the repetitions.
    pub fn render(&self) -> String {
        let mut out = format!("repeat: {} runs; {} flaky case(s)", self.runs, self.flaky.len());
        out.push_str(&format!(", {} failing in every run\n", self.failing.len()));
        for c in &self.flaky {
            out.push_str(&format!("  FLAKY {}:\n", c.id));
            for a in &c.runs {
                let why = a.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
                out.push_str(&format!("    run {}: {}{why}\n", a.run, a.verdict));
            }
        }
        for c in &self.failing {
            let v = c.runs.first().map(|a| a.verdict.as_str()).unwrap_or("?");
            out.push_str(&format!("  {v} in every run: {}\n", c.id));
        }
        out
    }

    /// The `repeat` object of run.json; `dirs` are the repetitions' report dirs, relative.
    pub fn run_json(&self, dirs: &[String]) -> Value {
        json!({ "runs": self.runs, "dirs": dirs, "flaky": self.flaky, "failing": self.failing })
    }
}

/// The folder under the report dir that holds the repetitions' reports.
pub const REPEAT_DIR: &str = "repeat";

/// Where repetition `i` (1-based) writes its reports: `REPORT_DIR/repeat/<i>`.
pub fn run_dir(report_dir: &Path, i: usize) -> PathBuf {
    report_dir.join(REPEAT_DIR).join(i.to_string())
}

/// Removes the repetitions of an earlier run (`REPORT_DIR/repeat/`), so none is taken for this
/// run's, as [`crate::report::prepare_dir`] does for the other reports.
pub fn prepare_dir(report_dir: &Path) -> std::io::Result<()> {
    let dir = report_dir.join(REPEAT_DIR);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))
        }
        _ => Ok(()),
    }
}

/// Adds `repeat` to the run.json in `report_dir`.
pub fn annotate_run_json(report_dir: &Path, repeated: &Repeated, runs: usize) -> std::io::Result<()> {
    let path = report_dir.join("run.json");
    let text = std::fs::read(&path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut v: Value =
        serde_json::from_slice(&text).map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
    let dirs: Vec<String> = (1..=runs).map(|i| format!("{REPEAT_DIR}/{i}")).collect();
    v["repeat"] = repeated.run_json(&dirs);
    let mut s = serde_json::to_string_pretty(&v).map_err(std::io::Error::other)?;
    s.push('\n');
    std::fs::write(&path, s).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::result::CaseResult;
    use crate::verdict::Reason;

    fn run(verdicts: &[(&str, Verdict)]) -> RunResult {
        RunResult {
            suite_version: "0".into(),
            catalog_digest: "d".into(),
            catalog: None,
            interrupted: false,
            iut: Value::Null,
            cases: verdicts
                .iter()
                .map(|(id, v)| CaseResult {
                    id: id.to_string(),
                    title: String::new(),
                    role: "client".into(),
                    covers: vec![],
                    verdict: *v,
                    reason: (*v != Verdict::Pass).then(|| Reason { step: Some(2), ..Reason::new(format!("{v} here")) }),
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
    fn a_case_whose_verdict_varies_is_flaky_with_each_runs_reason() {
        use Verdict::*;
        let r = aggregate(&[
            run(&[("A", Pass), ("B", Fail), ("C", Pass), ("D", NotApplicable)]),
            run(&[("A", Fail), ("B", Fail), ("C", Pass), ("D", NotApplicable)]),
            run(&[("A", Pass), ("B", Fail), ("C", Pass), ("D", NotApplicable)]),
        ]);
        assert_eq!(r.runs, 3);
        assert_eq!(r.flaky.len(), 1);
        assert_eq!(r.flaky[0].id, "A");
        let verdicts: Vec<_> = r.flaky[0].runs.iter().map(|a| (a.run, a.verdict, a.reason.clone())).collect();
        assert_eq!(verdicts, vec![(1, Pass, None), (2, Fail, Some("step 2: fail here".into())), (3, Pass, None)]);
        assert_eq!(r.failing.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec!["B"]);
        assert_eq!(r.exit_code(&[1, 1, 1]), 1);
        assert!(
            r.render().contains("FLAKY A:\n    run 1: pass\n    run 2: fail: step 2: fail here\n"),
            "{}",
            r.render()
        );
    }

    #[test]
    fn steady_runs_keep_their_exit_code() {
        use Verdict::*;
        let r = aggregate(&[run(&[("A", Pass)]), run(&[("A", Pass)])]);
        assert!(r.flaky.is_empty() && r.failing.is_empty());
        assert_eq!(r.exit_code(&[0, 0]), 0);
        let r = aggregate(&[run(&[("A", Error)]), run(&[("A", Error)])]);
        assert_eq!(r.exit_code(&[2, 2]), 2);
    }
}
