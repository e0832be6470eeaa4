//! Verdicts, TTCN-3 style: fail and error are sticky and keep their first reason.
use serde::{Deserialize, Serialize};
use std::fmt;

/// The outcome of one case (or the roll-up for one SCR item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    /// The IUT's behaviour prevented a judgement (e.g. the upper tester could not set up a precondition).
    Inconc,
    Fail,
    /// A harness or configuration fault: says nothing about the IUT.
    Error,
    /// The ICS says the case does not apply.
    NotApplicable,
    /// Not run: an operator step in a run without a terminal.
    Skipped,
    /// Not run: outside the run's selection (`--role`, `--scr`, a name filter or `--skip`).
    NotSelected,
    /// Selected and applicable, but the run ended before the case could run to its end (the
    /// run was interrupted, or PIXIT `timeouts.run_ms` ran out). Says nothing about the IUT.
    NotTested,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Inconc => "inconc",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::NotApplicable => "not-applicable",
            Verdict::Skipped => "skipped",
            Verdict::NotSelected => "not-selected",
            Verdict::NotTested => "not-tested",
        }
    }

    /// Severity used when combining verdicts: error > fail > inconc > pass, then the verdicts
    /// of cases that did not run: not-tested > not-selected > skipped, not-applicable.
    fn rank(self) -> u8 {
        match self {
            Verdict::NotApplicable | Verdict::Skipped => 0,
            Verdict::NotSelected => 1,
            Verdict::NotTested => 2,
            Verdict::Pass => 3,
            Verdict::Inconc => 4,
            Verdict::Fail => 5,
            Verdict::Error => 6,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a verdict was given. For check failures it names the SCR item, expected and actual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Reason {
    /// One-line human-readable reason.
    pub message: String,
    /// The SCR item whose requirement was judged, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scr: Option<String>,
    /// The requirement text of that item (its function, and the check's own wording).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The step (1-based) at which the verdict was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// The judgement that failed rests on an inference, not on a sentence of the spec: why the
    /// requirement is read so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred: Option<String>,
}

impl Reason {
    pub fn new(message: impl Into<String>) -> Self {
        Reason { message: message.into(), ..Default::default() }
    }

    /// Multi-line text for consoles and JUnit failure bodies.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(step) = self.step {
            s.push_str(&format!("step {step}: "));
        }
        s.push_str(&self.message);
        if let Some(scr) = &self.scr {
            s.push_str(&format!("\n  SCR item:    {scr}"));
        }
        if let Some(r) = &self.requirement {
            s.push_str(&format!("\n  requirement: {r}"));
        }
        if let Some(e) = &self.expected {
            s.push_str(&format!("\n  expected:    {e}"));
        }
        if let Some(a) = &self.actual {
            s.push_str(&format!("\n  actual:      {a}"));
        }
        if let Some(i) = &self.inferred {
            s.push_str(&format!("\n  inferred:    {i}"));
        }
        s
    }
}

/// Accumulates the verdict of a running case. `pass` can be overridden by anything worse;
/// `fail` and `error` are sticky: once set, the first reason is kept.
#[derive(Debug, Clone)]
pub struct VerdictState {
    verdict: Verdict,
    reason: Option<Reason>,
}

impl Default for VerdictState {
    fn default() -> Self {
        VerdictState { verdict: Verdict::Pass, reason: None }
    }
}

impl VerdictState {
    pub fn set(&mut self, verdict: Verdict, reason: Reason) {
        let sticky = matches!(self.verdict, Verdict::Fail | Verdict::Error);
        if sticky {
            return;
        }
        if verdict.rank() > self.verdict.rank() || self.reason.is_none() && verdict != Verdict::Pass {
            self.verdict = verdict;
            self.reason = Some(reason);
        }
    }

    /// True once the case can no longer pass; the runner stops executing steps.
    pub fn is_final(&self) -> bool {
        !matches!(self.verdict, Verdict::Pass)
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    pub fn reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    pub fn into_parts(self) -> (Verdict, Option<Reason>) {
        (self.verdict, self.reason)
    }
}

/// Rolls up the verdicts of the cases covering one SCR item: error > fail > inconc > pass;
/// when no covering case ran, not-tested if one was cut by the end of the run, else skipped or
/// not-applicable.
pub fn roll_up(verdicts: impl IntoIterator<Item = Verdict>) -> Option<Verdict> {
    let mut best: Option<Verdict> = None;
    for v in verdicts {
        best = Some(match best {
            None => v,
            Some(b) if v.rank() > b.rank() => v,
            Some(b) => b,
        });
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_is_sticky_and_keeps_first_reason() {
        let mut s = VerdictState::default();
        s.set(Verdict::Fail, Reason::new("first"));
        s.set(Verdict::Error, Reason::new("second"));
        s.set(Verdict::Pass, Reason::new("third"));
        assert_eq!(s.verdict(), Verdict::Fail);
        assert_eq!(s.reason().unwrap().message, "first");
    }

    #[test]
    fn inconc_can_be_overridden_by_fail() {
        let mut s = VerdictState::default();
        s.set(Verdict::Inconc, Reason::new("ut failed"));
        s.set(Verdict::Fail, Reason::new("bad"));
        assert_eq!(s.verdict(), Verdict::Fail);
    }

    #[test]
    fn roll_up_takes_worst() {
        assert_eq!(roll_up([Verdict::Pass, Verdict::Inconc, Verdict::Pass]), Some(Verdict::Inconc));
        assert_eq!(roll_up([Verdict::Skipped]), Some(Verdict::Skipped));
        assert_eq!(roll_up([Verdict::Skipped, Verdict::Pass]), Some(Verdict::Pass));
        assert_eq!(roll_up(Vec::<Verdict>::new()), None);
        assert_eq!(roll_up([Verdict::Skipped, Verdict::NotTested]), Some(Verdict::NotTested));
        assert_eq!(roll_up([Verdict::NotTested, Verdict::Pass]), Some(Verdict::Pass));
        assert_eq!(roll_up([Verdict::NotTested, Verdict::NotApplicable]), Some(Verdict::NotTested));
    }
}
