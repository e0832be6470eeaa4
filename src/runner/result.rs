//! What a run produced: the model every report is generated from (JUnit is generated from
//! this, not separately, so the reports always agree).
use crate::trace::TraceEntry;
use crate::verdict::{Reason, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub title: String,
    /// The IUT role the case tests: "client" or "server".
    pub role: String,
    pub covers: Vec<String>,
    pub verdict: Verdict,
    /// Why: for fail/inconc/error the first reason; for not-applicable/skipped the cause.
    pub reason: Option<Reason>,
    pub duration_ms: u64,
    /// Per SCR item the case's steps and checks name: how many judgements, how many held.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub evidence: BTreeMap<String, ItemEvidence>,
    /// Per SCR item the case judged through an inference: why the requirement is read so.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub inferred: BTreeMap<String, Vec<String>>,
    /// Failures of inferred judgements the profile makes informational: recorded and shown,
    /// without changing the verdict.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub informational: Vec<Informational>,
    #[serde(skip)]
    pub trace: Vec<TraceEntry>,
}

/// A failed judgement that does not count for the verdict: it rests on an inference (`inferred`)
/// and the profile lists its item (or `*`) as informational.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Informational {
    /// The step (1-based) whose judgement failed.
    pub step: usize,
    /// The SCR item the judgement names.
    pub scr: String,
    /// One line: what failed.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    pub expected: String,
    pub actual: String,
    /// Why the requirement is read so (the judgement's `inferred`).
    pub inferred: String,
}

impl Informational {
    /// "step 2: DM-PACK-003-C-M: a request arrived ... (inferred: ...)", for consoles and texts.
    pub fn line(&self) -> String {
        format!(
            "step {}: {}: {}; expected {}, actual {} (inferred: {})",
            self.step, self.scr, self.message, self.expected, self.actual, self.inferred
        )
    }
}

/// What one case showed about one SCR item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ItemEvidence {
    /// Checks naming the item, and steps whose own `scr` it is.
    pub judgements: usize,
    /// How many of them ran and held.
    pub held: usize,
}

impl ItemEvidence {
    /// Every judgement of the item ran and held.
    pub fn complete(&self) -> bool {
        self.judgements > 0 && self.held >= self.judgements
    }
}

/// The result of a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub suite_version: String,
    /// SHA-256 over the SCR tables and the case catalog, hex.
    pub catalog_digest: String,
    /// Which catalog ran (embedded or directories) and its digest; `None` when the caller did
    /// not say (library use).
    pub catalog: Option<crate::bundle::CatalogInfo>,
    /// The run was interrupted (SIGINT/SIGTERM): cases that did not run are `not-tested`.
    pub interrupted: bool,
    /// The effective ICS and PIXIT, sensitive values redacted.
    pub iut: serde_json::Value,
    pub cases: Vec<CaseResult>,
    /// The selection the run ran, when it did not run every applicable case.
    pub selection: Option<Selection>,
    /// Requests of the IUT that arrived while no case was running ("traffic after the case
    /// ended"): answered (a session was ended), recorded here, never judged as a later case's.
    pub late_traffic: Vec<LateRequest>,
}

/// A run of part of the applicable cases: how many, and what chose them.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Selection {
    /// Applicable cases the selection kept.
    pub selected: usize,
    /// Cases applicable to the IUT (its ICS), selected or not.
    pub applicable: usize,
    /// What chose them, as given: `--role client`, `--scr DM-PACK-01*`, a name filter...
    pub filters: Vec<String>,
}

impl Selection {
    /// "1 of 24 applicable cases selected (TC-DMC-SESS-001, --exact)".
    pub fn describe(&self) -> String {
        format!(
            "{} of {} applicable cases selected{}",
            self.selected,
            self.applicable,
            if self.filters.is_empty() { String::new() } else { format!(" ({})", self.filters.join(", ")) }
        )
    }
}

/// One request that arrived after its case ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LateRequest {
    /// The case that ran last when it arrived.
    pub after_case: Option<String>,
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// The status the suite answered.
    pub answered: Option<u16>,
    /// The body (cut; see `body_len`).
    pub body: String,
    pub body_len: usize,
    /// It was sent to a path the suite does not serve (answered 404).
    pub misdirected: bool,
}
