//! `report.html`: one self-contained page of a run for people — the summary per requirement
//! table, every SCR item with its verdict, provenance and covering cases, every case with its
//! checks and its protocol trace step by step, and filters by verdict, table and role.
//!
//! It is generated from the same JSON a run writes (`run.json`, `coverage.json`,
//! `traces/<case>.json`), so `dmcts report html` regenerates it from a report directory and
//! the page never shows anything the machine-readable reports do not say. The readers are
//! tolerant: keys this version does not know (a later suite's, e.g. expected results) are
//! shown as they are, never an error.
//!
//! Everything the IUT sent, and every text of the run, is untrusted: the page is written with
//! `maud`, which escapes every interpolated value, and its Content-Security-Policy allows no
//! fetch and no script but the page's own (by hash), so even a mistake here cannot run a
//! vendor's `<script>` or reach the network.
pub mod message;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// The file name of the page in a report directory.
pub const REPORT_HTML: &str = "report.html";

/// What the page is built from: the run's JSON reports, as written to the report directory.
#[derive(Debug, Clone)]
pub struct Input {
    /// `run.json`.
    pub run: Value,
    /// `coverage.json`; `None` when it is not available (the page says so).
    pub coverage: Option<Value>,
    /// `traces/<case>.json` by the `trace` path `run.json` gives for the case. A case whose
    /// trace is absent here is shown with a note saying so.
    pub traces: BTreeMap<String, Value>,
}

/// A report input that cannot be read: which file, and what was wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct InputError {
    pub file: PathBuf,
    pub message: String,
}

impl Input {
    /// Reads `run.json` (a file, or a report directory holding one), the `coverage.json` beside
    /// it when present, and the trace of every case.
    pub fn read(path: &Path) -> Result<Input, InputError> {
        let run_path = if path.is_dir() { path.join("run.json") } else { path.to_path_buf() };
        let dir = run_path.parent().map(Path::to_path_buf).unwrap_or_default();
        let run = read_json(&run_path)?;
        let cov_path = dir.join("coverage.json");
        let coverage = if cov_path.exists() { Some(read_json(&cov_path)?) } else { None };
        let mut traces = BTreeMap::new();
        for case in run.get("cases").and_then(Value::as_array).into_iter().flatten() {
            let Some(rel) = case.get("trace").and_then(Value::as_str) else { continue };
            // Only paths inside the report directory: a run.json is data, not a file picker.
            if Path::new(rel).components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                continue;
            }
            let p = dir.join(rel);
            if p.exists() {
                traces.insert(rel.to_string(), read_json(&p)?);
            }
        }
        Ok(Input { run, coverage, traces })
    }
}

/// Rebuilds `report.html` in a report directory from its JSON reports: for a step that changes
/// them after [`crate::report::write_all`] (e.g. annotating expected results), so the page
/// shows what they now say.
pub fn rewrite_in(dir: &Path) -> Result<PathBuf, InputError> {
    let page = render(&Input::read(dir)?)?;
    let out = dir.join(REPORT_HTML);
    std::fs::write(&out, page).map_err(|e| InputError { file: out.clone(), message: format!("cannot write: {e}") })?;
    Ok(out)
}

fn read_json(path: &Path) -> Result<Value, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError { file: path.to_path_buf(), message: format!("cannot read: {e}") })?;
    serde_json::from_str(&text).map_err(|e| InputError {
        file: path.to_path_buf(),
        message: format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column()),
    })
}

// ---- The views of the JSON reports the page needs (tolerant: unknown keys kept in `extra`).

#[derive(Debug, Deserialize)]
struct RunView {
    #[serde(default)]
    suite_version: String,
    #[serde(default)]
    catalog_digest: String,
    #[serde(default)]
    interrupted: bool,
    #[serde(default)]
    iut: Value,
    #[serde(default)]
    summary: Map<String, Value>,
    #[serde(default)]
    cases: Vec<CaseView>,
    #[serde(default)]
    selection: Option<Value>,
    #[serde(default)]
    late_traffic: Vec<Value>,
    /// A run with `--expect FILE`: the file and the counts of expected and unexpected results.
    #[serde(default)]
    expectations: Option<ExpectationsView>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct ExpectationsView {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    counts: BTreeMap<String, Value>,
}

/// What `--expect` says of a case or an item: the outcome, and the entry that expected it.
#[derive(Debug, Deserialize)]
struct ExpectationView {
    #[serde(default)]
    outcome: String,
    verdict: Option<String>,
    reason: Option<String>,
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CaseView {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    role: String,
    verdict: String,
    #[serde(default)]
    reason: Option<ReasonView>,
    #[serde(default)]
    covers: Vec<String>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    trace: Option<String>,
    #[serde(default)]
    evidence: BTreeMap<String, EvidenceView>,
    #[serde(default)]
    inferred: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    informational: Vec<CheckView>,
    #[serde(default)]
    expectation: Option<ExpectationView>,
    /// Keys of a later schema (e.g. an expected verdict): shown as they are.
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct ReasonView {
    #[serde(default)]
    message: String,
    scr: Option<String>,
    requirement: Option<String>,
    expected: Option<String>,
    actual: Option<String>,
    step: Option<usize>,
    inferred: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CheckView {
    #[serde(default)]
    step: Option<usize>,
    #[serde(default)]
    scr: String,
    #[serde(default)]
    message: String,
    requirement: Option<String>,
    #[serde(default)]
    expected: String,
    #[serde(default)]
    actual: String,
    #[serde(default)]
    inferred: String,
}

#[derive(Debug, Deserialize, Clone, Copy)]
struct EvidenceView {
    #[serde(default)]
    judgements: usize,
    #[serde(default)]
    held: usize,
}

#[derive(Debug, Deserialize, Default)]
struct CoverageView {
    #[serde(default)]
    summary: CoverageSummaryView,
    #[serde(default)]
    items: Vec<ItemView>,
}

#[derive(Debug, Deserialize, Default)]
struct CoverageSummaryView {
    #[serde(default)]
    headline: String,
    #[serde(default)]
    tables: Vec<TableView>,
}

#[derive(Debug, Deserialize)]
struct TableView {
    #[serde(default)]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    provenance: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    section: String,
    #[serde(default)]
    items: usize,
    #[serde(default)]
    counts: BTreeMap<String, usize>,
    #[serde(default)]
    mandatory: Tally,
    #[serde(default)]
    optional: Tally,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
struct Tally {
    #[serde(default)]
    pass: usize,
    #[serde(default)]
    total: usize,
}

#[derive(Debug, Deserialize)]
struct ItemView {
    id: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    function: String,
    #[serde(default)]
    table: String,
    #[serde(default)]
    provenance: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    applicable: bool,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    cases: Vec<String>,
    #[serde(default)]
    failed_elsewhere: Vec<String>,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    not_run: Vec<String>,
    #[serde(default)]
    informational: Vec<String>,
    #[serde(default)]
    expectation: Option<ExpectationView>,
}

/// One trace entry: its place, its kind, and the rest of its keys.
#[derive(Debug, Deserialize)]
struct EntryView {
    #[serde(default)]
    t_ms: u64,
    #[serde(default)]
    step: usize,
    #[serde(default)]
    kind: String,
    #[serde(flatten)]
    keys: Map<String, Value>,
}

/// The verdicts a case or an item may have, in the order the page lists them; a verdict of a
/// later suite version is appended where it appears.
const VERDICTS: [&str; 8] =
    ["pass", "fail", "inconc", "error", "not-applicable", "skipped", "not-tested", "not-selected"];

/// Verdicts of cases and items that did not run to a judgement.
const NOT_RUN: [&str; 3] = ["skipped", "not-tested", "not-selected"];

/// Builds the page. Fails only when `run.json` does not have the shape of one (a case
/// without `id` or `verdict`, a key of the wrong type).
pub fn render(input: &Input) -> Result<String, InputError> {
    let run: RunView = serde_json::from_value(input.run.clone())
        .map_err(|e| InputError { file: "run.json".into(), message: e.to_string() })?;
    let coverage: Option<CoverageView> = match &input.coverage {
        Some(c) => Some(
            serde_json::from_value(c.clone())
                .map_err(|e| InputError { file: "coverage.json".into(), message: e.to_string() })?,
        ),
        None => None,
    };
    Ok(page(&run, coverage.as_ref(), &input.traces).into_string())
}

/// The page's Content-Security-Policy: nothing from anywhere, but its own style and script.
fn csp() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(JS.as_bytes()));
    format!("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{hash}'")
}

fn page(run: &RunView, coverage: Option<&CoverageView>, traces: &BTreeMap<String, Value>) -> Markup {
    let items: BTreeMap<&str, &ItemView> =
        coverage.map(|c| c.items.iter().map(|i| (i.id.as_str(), i)).collect()).unwrap_or_default();
    let tables: Vec<&str> = {
        let mut t: Vec<&str> = Vec::new();
        for name in coverage.iter().flat_map(|c| c.summary.tables.iter().map(|t| t.id.as_str())) {
            if !t.contains(&name) {
                t.push(name);
            }
        }
        t
    };
    let roles: Vec<&str> = {
        let mut r: Vec<&str> = run.cases.iter().map(|c| c.role.as_str()).collect();
        r.sort();
        r.dedup();
        r
    };
    let mut verdicts: Vec<&str> = VERDICTS.to_vec();
    for v in run.cases.iter().map(|c| c.verdict.as_str()).chain(items.values().map(|i| i.verdict.as_str())) {
        if !verdicts.contains(&v) {
            verdicts.push(v);
        }
    }
    let outcomes: Vec<&str> = {
        let mut o: Vec<&str> =
            run.cases.iter().filter_map(|c| c.expectation.as_ref()).map(|e| e.outcome.as_str()).collect();
        o.sort();
        o.dedup();
        o
    };
    let iut_name = iut_name(&run.iut);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(csp());
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "dmcts report" @if let Some(n) = &iut_name { " — " (n) } }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "dmcts conformance report" }
                    dl.meta {
                        @if let Some(n) = &iut_name { dt { "IUT" } dd #iut { (n) } }
                        dt { "suite version" } dd { (run.suite_version) }
                        dt { "catalog digest" } dd { code { (run.catalog_digest) } }
                        @if let Some(sel) = &run.selection {
                            dt { "selection" } dd { (selection_text(sel)) }
                        }
                    }
                    @if run.interrupted {
                        p.banner.interrupted { "The run was interrupted: the cases that did not run to their end are not-tested." }
                    }
                    @if let Some(c) = coverage { p #headline { (c.summary.headline) } }
                    @if let Some(e) = &run.expectations { (expectations_line(e)) }
                    (summary_counts(run, &verdicts))
                }
                nav #filters aria-label="filters" {
                    fieldset {
                        legend { "Verdict" }
                        @for v in &verdicts {
                            label { input type="checkbox" name="verdict" value=(v) checked; " " span class={"badge v-" (v)} { (v) } }
                        }
                    }
                    label { "Table " select #filter-table { option value="" { "all" } @for t in &tables { option value=(t) { (t) } } } }
                    label { "Role " select #filter-role { option value="" { "all" } @for r in &roles { option value=(r) { (r) } } } }
                    @if !outcomes.is_empty() {
                        label { "Expectation " select #filter-expectation { option value="" { "all" } @for o in &outcomes { option value=(o) { (o) } } } }
                    }
                    button type="button" #expand-all { "open all shown" }
                    button type="button" #collapse-all { "close all" }
                    span #shown-count {}
                }
                main {
                    @match coverage {
                        Some(c) => {
                            (tables_section(c))
                            (cases_section(run, &items, traces))
                            (items_section(c, &run.cases))
                        }
                        None => {
                            section #tables { h2 { "Requirement tables" } p.note { "coverage.json is not available: no per-table or per-item view." } }
                            (cases_section(run, &items, traces))
                        }
                    }
                    @if !run.late_traffic.is_empty() {
                        section #late-traffic {
                            h2 { "Traffic after the case ended" }
                            p.note { "Requests of the IUT that arrived while no case was running: answered, never judged." }
                            pre { (pretty(&Value::Array(run.late_traffic.clone()))) }
                        }
                    }
                    @if !run.extra.is_empty() {
                        section #run-extra { h2 { "Further run data" } (extra_list(&run.extra)) }
                    }
                    section #iut-config {
                        details { summary { "IUT configuration (ICS and PIXIT, secrets redacted)" } pre { (pretty(&run.iut)) } }
                    }
                }
                script { (PreEscaped(JS)) }
            }
        }
    }
}

/// "vendor product version" from the ICS(es) of the run, or `None` when the run says nothing.
fn iut_name(iut: &Value) -> Option<String> {
    let one = |v: &Value| -> Option<String> {
        let i = v.get("iut")?;
        let parts: Vec<&str> =
            ["vendor", "product", "version"].iter().filter_map(|k| i.get(*k).and_then(Value::as_str)).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    if let Some(n) = one(iut) {
        return Some(n);
    }
    let both: Vec<String> = ["client", "server"].iter().filter_map(|r| iut.get(*r).and_then(one)).collect();
    (!both.is_empty()).then(|| both.join(" + "))
}

/// The binding of the ICS under test in `role` (`[iut] binding`), DM 2.0 when not said.
fn binding_of<'a>(iut: &'a Value, role: &str) -> &'a str {
    iut.get(role).unwrap_or(iut).get("iut").and_then(|i| i.get("binding")).and_then(Value::as_str).unwrap_or("dm2")
}

fn selection_text(sel: &Value) -> String {
    let n = |k: &str| sel.get(k).and_then(Value::as_u64).unwrap_or(0);
    let filters: Vec<&str> =
        sel.get("filters").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    format!("{} of {} applicable cases selected ({})", n("selected"), n("applicable"), filters.join(", "))
}

fn summary_counts(run: &RunView, verdicts: &[&str]) -> Markup {
    let count = |v: &str| run.summary.get(v).and_then(Value::as_u64).unwrap_or(0);
    html! {
        p #case-summary {
            "Cases: " span.count data-verdict="total" { (count("total")) } " in all"
            @for v in verdicts {
                @if count(v) > 0 { " · " span class={"count badge v-" (v)} data-verdict=(v) { (count(v)) " " (v) } }
            }
        }
    }
}

fn tables_section(c: &CoverageView) -> Markup {
    let n = |t: &TableView, v: &str| t.counts.get(v).copied().unwrap_or(0);
    html! {
        section #tables {
            h2 { "Requirement tables" }
            table.grid {
                thead { tr {
                    th { "Table" } th { "Provenance" } th { "Items" } th { "pass" } th { "fail" } th { "inconc" }
                    th { "error" } th { "not run" } th { "not applicable" } th { "Mandatory pass" } th { "Optional pass" }
                } }
                tbody {
                    @for t in &c.summary.tables {
                        tr.table-row data-table=(t.id) {
                            td { strong { (t.id) } " " (t.title) div.source { (t.source) @if !t.section.is_empty() { ", " (t.section) } } }
                            td { span class={"prov prov-" (t.provenance)} { (t.provenance) } }
                            td.num { (t.items) }
                            td.num.v-pass data-count="pass" { (n(t, "pass")) }
                            td.num.v-fail data-count="fail" { (n(t, "fail")) }
                            td.num.v-inconc data-count="inconc" { (n(t, "inconc")) }
                            td.num.v-error data-count="error" { (n(t, "error")) }
                            td.num data-count="not-run" { (NOT_RUN.iter().map(|v| n(t, v)).sum::<usize>()) }
                            td.num data-count="not-applicable" { (n(t, "not-applicable")) }
                            td.num { (t.mandatory.pass) "/" (t.mandatory.total) }
                            td.num { (t.optional.pass) "/" (t.optional.total) }
                        }
                    }
                }
            }
        }
    }
}

fn items_section(c: &CoverageView, cases: &[CaseView]) -> Markup {
    let known: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    html! {
        section #items {
            h2 { "SCR items" }
            table.grid {
                thead { tr { th { "Item" } th { "Function" } th { "Verdict" } th { "Provenance" } th { "Covering cases" } th { "Applicability" } } }
                tbody {
                    @for i in &c.items {
                        tr.item id={"item-" (i.id)} data-verdict=(i.verdict) data-role=(i.role) data-tables=(i.table) {
                            td { code { (i.id) } " " span.status { (i.status) } }
                            td { (i.function) div.source { (i.source) } }
                            td {
                                span class={"badge v-" (i.verdict)} { (i.verdict) }
                                @if let Some(e) = &i.expectation { " " (expectation(e)) }
                            }
                            td { span class={"prov prov-" (i.provenance)} { (i.provenance) } }
                            td {
                                @if i.cases.is_empty() { span.note { "no case" } }
                                (case_links(&i.cases, &known))
                                @if !i.failed_elsewhere.is_empty() { div { "failed in: " (case_links(&i.failed_elsewhere, &known)) } }
                                @for n in &i.not_run { div.note { (n) } }
                                @for n in &i.informational { div.note { "informational: " (n) } }
                            }
                            td { @if !i.applicable { "not applicable: " } (i.reason) }
                        }
                    }
                }
            }
        }
    }
}

fn case_links(ids: &[String], known: &[&str]) -> Markup {
    html! {
        @for (n, id) in ids.iter().enumerate() {
            @if n > 0 { ", " }
            @if known.contains(&id.as_str()) { a href={"#case-" (id)} { (id) } } @else { (id) }
        }
    }
}

fn cases_section(run: &RunView, items: &BTreeMap<&str, &ItemView>, traces: &BTreeMap<String, Value>) -> Markup {
    html! {
        section #cases {
            h2 { "Cases" }
            @for c in &run.cases { (case(c, run, items, traces)) }
        }
    }
}

fn case(c: &CaseView, run: &RunView, items: &BTreeMap<&str, &ItemView>, traces: &BTreeMap<String, Value>) -> Markup {
    // The tables of the case: those of the items it covers or judged.
    let mut tables: Vec<&str> = c
        .covers
        .iter()
        .chain(c.evidence.keys())
        .filter_map(|i| items.get(i.as_str()).map(|i| i.table.as_str()))
        .collect();
    tables.sort();
    tables.dedup();
    let requirement = |id: &str| items.get(id).map(|i| i.function.clone());
    let trace = c.trace.as_ref().and_then(|t| traces.get(t));
    html! {
        details.case id={"case-" (c.id)} data-verdict=(c.verdict) data-role=(c.role) data-tables=(tables.join(" "))
            data-expectation=(c.expectation.as_ref().map(|e| e.outcome.as_str()).unwrap_or("")) {
            summary {
                span class={"badge v-" (c.verdict)} { (c.verdict) } " "
                @if let Some(e) = &c.expectation { span class={"exp exp-" (e.outcome)} { (e.outcome) } " " }
                code.case-id { (c.id) } " " span.title { (c.title) }
                span.role { (c.role) }
                @if let Some(ms) = c.duration_ms { span.duration { (ms) " ms" } }
            }
            div.case-body {
                p { "Covers: " (item_links(&c.covers, items)) }
                @if let Some(e) = &c.expectation { (expectation(e)) }
                @if let Some(r) = &c.reason { (reason(r, &c.verdict)) }
                @if !c.extra.is_empty() { (extra_list(&c.extra)) }
                (checks(c, &requirement))
                @match trace {
                    Some(t) => (trace_view(t, c.reason.as_ref().and_then(|r| r.step), binding_of(&run.iut, &c.role))),
                    None => @if let Some(path) = &c.trace { p.note { "trace " code { (path) } " is not available" } },
                }
            }
        }
    }
}

fn item_links(ids: &[String], items: &BTreeMap<&str, &ItemView>) -> Markup {
    html! {
        @for (n, id) in ids.iter().enumerate() {
            @if n > 0 { ", " }
            @if items.contains_key(id.as_str()) { a href={"#item-" (id)} { code { (id) } } } @else { code { (id) } }
        }
    }
}

fn expectations_line(e: &ExpectationsView) -> Markup {
    let n = |k: &str| e.counts.get(k).and_then(Value::as_u64).unwrap_or(0);
    html! {
        p #expectations {
            "Expected results" @if let Some(f) = &e.file { " (" code { (f) } ")" } ": "
            span.exp.exp-unexpected data-outcome="unexpected" { (n("unexpected")) " unexpected" } " · "
            span.exp.exp-expected data-outcome="expected" { (n("expected")) " expected" } " · "
            span.exp.exp-now-passes data-outcome="now_passing" { (n("now_passing")) " expected to fail, now passing" } " · "
            span.exp data-outcome="not_run" { (n("not_run")) " expected, not run" }
        }
    }
}

fn expectation(e: &ExpectationView) -> Markup {
    html! {
        p class={"expectation exp-" (e.outcome)} {
            "expectation (--expect): " strong { (e.outcome) }
            @if let Some(v) = &e.verdict { "; expected " (v) }
            @if let Some(r) = &e.reason { ": " (r) }
            @if let Some(s) = &e.source { " (" (s) ")" }
        }
    }
}

fn reason(r: &ReasonView, verdict: &str) -> Markup {
    html! {
        div class={"reason v-" (verdict)} {
            p.reason-message { @if let Some(s) = r.step { "step " (s) ": " } (r.message) }
            dl {
                @if let Some(x) = &r.scr { dt { "SCR item" } dd { code { (x) } } }
                @if let Some(x) = &r.requirement { dt { "requirement" } dd { (x) } }
                @if let Some(x) = &r.expected { dt { "expected" } dd.expected { (x) } }
                @if let Some(x) = &r.actual { dt { "actual" } dd.actual { (x) } }
                @if let Some(x) = &r.inferred { dt { "inferred" } dd { (x) } }
            }
        }
    }
}

/// The case's judgements: per SCR item how many there were and how many held; the failed
/// judgement (from the reason) and the informational failures with expected and actual.
fn checks(c: &CaseView, requirement: &dyn Fn(&str) -> Option<String>) -> Markup {
    let failed = c.reason.as_ref().and_then(|r| r.scr.as_deref().map(|s| (s, r)));
    html! {
        @if !c.evidence.is_empty() || !c.informational.is_empty() {
            h3 { "Checks" }
            table.grid.checks {
                thead { tr { th { "Item" } th { "Requirement" } th { "Judgements held" } th { "Result" } th { "Expected" } th { "Actual" } } }
                tbody {
                    @for (id, e) in &c.evidence {
                        @let fail = failed.filter(|(s, _)| *s == id.as_str()).map(|(_, r)| r);
                        // A case stops at its first failing judgement: the others of its items
                        // that did not hold were not reached.
                        @let result = if fail.is_some() { "failed" } else if e.held >= e.judgements && e.judgements > 0 { "held" } else { "not reached" };
                        tr class=(result.replace(' ', "-")) {
                            td { code { (id) } }
                            td { (fail.and_then(|r| r.requirement.clone()).or_else(|| requirement(id)).unwrap_or_default()) }
                            td.num { (e.held) "/" (e.judgements) }
                            td { (result) }
                            td { @if let Some(r) = fail { (r.expected.as_deref().unwrap_or("")) } }
                            td { @if let Some(r) = fail { (r.actual.as_deref().unwrap_or("")) } }
                        }
                        @if let Some(why) = c.inferred.get(id) {
                            tr.inferred { td {} td colspan="5" { "inferred: " (why.join("; ")) } }
                        }
                    }
                    @for i in &c.informational {
                        tr.informational {
                            td { code { (i.scr) } }
                            td { "informational (step " (i.step.unwrap_or(0)) "): " (i.message) @if let Some(r) = &i.requirement { div.source { (r) } } div.source { "inferred: " (i.inferred) } }
                            td.num {}
                            td { "failed, informational" }
                            td { (i.expected) }
                            td { (i.actual) }
                        }
                    }
                }
            }
        }
    }
}

/// Step headers the runner records as notes: "step 3 (await)".
fn step_kind(text: &str, step: usize) -> Option<&str> {
    text.strip_prefix(&format!("step {step} ("))?.strip_suffix(')')
}

fn trace_view(trace: &Value, verdict_step: Option<usize>, binding: &str) -> Markup {
    let entries: Vec<EntryView> = trace
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| serde_json::from_value(e.clone()).ok())
        .collect();
    // Consecutive entries of one step form one block.
    let mut steps: Vec<(usize, Option<String>, Vec<&EntryView>)> = Vec::new();
    for e in &entries {
        if steps.last().is_none_or(|s| s.0 != e.step) {
            steps.push((e.step, None, Vec::new()));
        }
        let last = steps.last_mut().expect("pushed above");
        let text = e.keys.get("text").and_then(Value::as_str);
        match text.filter(|_| e.kind == "note").and_then(|t| step_kind(t, e.step)) {
            Some(kind) if last.1.is_none() && last.2.is_empty() => last.1 = Some(kind.to_string()),
            _ => last.2.push(e),
        }
    }
    let view = message::for_binding(binding);
    html! {
        div.trace {
            h3 { "Protocol trace" }
            @if entries.is_empty() { p.note { "no traffic recorded" } }
            @for (step, kind, es) in &steps {
                div class=(if Some(*step) == verdict_step { "step verdict-step" } else { "step" }) data-step=(step) {
                    h4 {
                        @if *step == 0 { "before the first step" } @else { "step " (step) }
                        @if let Some(k) = kind { " (" (k) ")" }
                        @if Some(*step) == verdict_step { " — the verdict was set here" }
                    }
                    @for e in es { (entry(e, view)) }
                }
            }
        }
    }
}

fn str_key<'a>(e: &'a EntryView, key: &str) -> &'a str {
    e.keys.get(key).and_then(Value::as_str).unwrap_or("")
}

fn headers_of(e: &EntryView) -> Vec<(String, String)> {
    e.keys
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h.get(0)?.as_str()?.to_string(), h.get(1)?.as_str()?.to_string())))
        .collect()
}

fn entry(e: &EntryView, view: &dyn message::MessageView) -> Markup {
    let at = html! { span.t { "t=" (e.t_ms) " ms" } };
    match e.kind.as_str() {
        "http-request" | "http-response" => {
            let headers = headers_of(e);
            let ct = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str());
            let body = str_key(e, "body");
            let shown = view.body(ct, body);
            let line = if e.kind == "http-request" {
                format!("{} {}", str_key(e, "method"), str_key(e, "url"))
            } else {
                e.keys.get("status").map(|s| s.to_string()).unwrap_or_default()
            };
            html! {
                div class={"entry " (e.kind)} {
                    div.entry-head {
                        (at) " " span.dir { (str_key(e, "from")) " → " (str_key(e, "to")) } " "
                        @if let Some(n) = &shown.name { span.msg-name { (n) } " " }
                        code.line { (line) }
                    }
                    @if !headers.is_empty() {
                        table.headers { @for (k, v) in &headers { tr { th { (k) } td { (v) } } } }
                    }
                    @if body.is_empty() { p.note { "(empty body)" } } @else { pre.body { (shown.text) } }
                    @if let Some(d) = &shown.decoded { pre.decoded { (d) } }
                }
            }
        }
        "notification" => html! {
            div.entry.notification {
                div.entry-head { (at) " " span.dir { (str_key(e, "from")) " → " (str_key(e, "to")) } " " span.msg-name { "notification (Package#0)" } }
                @if !str_key(e, "note").is_empty() { p.note { (str_key(e, "note")) } }
                pre.hex { (str_key(e, "hex")) }
                @if let Some(d) = view.notification(str_key(e, "hex")) { pre.decoded { (d) } }
            }
        },
        "upper-tester" => html! {
            div.entry.upper-tester {
                div.entry-head { (at) " " span.msg-name { "upper tester" } " " code.line { (str_key(e, "action")) } }
                div.ut { div { "request" pre { (pretty(e.keys.get("request").unwrap_or(&Value::Null))) } } div { "answer" pre { (pretty(e.keys.get("answer").unwrap_or(&Value::Null))) } } }
            }
        },
        "note" => html! { div.entry.note-entry { (at) " " span.text { (str_key(e, "text")) } } },
        other => html! {
            div.entry.other { div.entry-head { (at) " " span.msg-name { (other) } } pre { (pretty(&Value::Object(e.keys.clone()))) } }
        },
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Keys this version of the page does not know, shown as they are.
fn extra_list(extra: &Map<String, Value>) -> Markup {
    html! {
        dl.extra {
            @for (k, v) in extra {
                dt { (k) }
                dd { @match v { Value::String(s) => (s), other => code { (other.to_string()) } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(title: &str, body: &str) -> Input {
        Input {
            run: json!({
                "schema_version": 1, "suite_version": "0.1.0", "catalog_digest": "d",
                "summary": {"total": 1, "fail": 1},
                "cases": [{"id": "TC-1", "title": title, "role": "client", "verdict": "fail",
                           "reason": {"message": title, "expected": "a", "actual": body},
                           "covers": [], "trace": "traces/TC-1.json", "a-later-key": {"x": 1}}]
            }),
            coverage: None,
            traces: [(
                "traces/TC-1.json".to_string(),
                json!({"entries": [{"t_ms": 0, "step": 1, "kind": "http-request", "from": "iut", "to": "suite",
                                    "method": "POST", "url": "/dm", "headers": [["content-type", "text/html"]], "body": body}]}),
            )]
            .into(),
        }
    }

    #[test]
    fn iut_text_is_escaped_everywhere() {
        let evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>";
        let html = render(&input(evil, evil)).expect("renders");
        assert!(!html.contains("<script>alert"), "unescaped script");
        assert!(!html.contains("<img src=x"), "unescaped tag");
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
        // The only scripts are the page's own.
        assert_eq!(html.matches("<script").count(), 1);
    }

    #[test]
    fn expected_results_are_shown_and_filterable() {
        let mut i = input("t", "b");
        i.run["cases"][0]["expectation"] =
            json!({"outcome": "expected", "verdict": "fail", "reason": "known defect #12", "source": "expect.toml:3"});
        i.run["expectations"] =
            json!({"file": "expect.toml", "counts": {"expected": 1, "unexpected": 0, "now_passing": 0, "not_run": 0}});
        let html = render(&i).expect("renders");
        assert!(html.contains(r#"data-expectation="expected""#), "{html}");
        assert!(html.contains("expected fail: known defect #12 (expect.toml:3)"), "{html}");
        assert!(html.contains(r#"<select id="filter-expectation">"#), "{html}");
        assert!(html.contains(r#"data-outcome="unexpected">0 unexpected"#), "{html}");
        // A run without --expect has no such filter.
        assert!(!render(&input("t", "b")).expect("renders").contains(r#"<select id="filter-expectation">"#));
    }

    #[test]
    fn traces_are_read_only_from_inside_the_report_directory() {
        let dir = std::env::temp_dir().join(format!("dmcts-html-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("r/traces")).unwrap();
        std::fs::write(dir.join("outside.json"), r#"{"entries": []}"#).unwrap();
        std::fs::write(dir.join("r/traces/TC-1.json"), r#"{"entries": []}"#).unwrap();
        let run = json!({"cases": [
            {"id": "TC-1", "verdict": "pass", "trace": "traces/TC-1.json"},
            {"id": "TC-2", "verdict": "pass", "trace": "../outside.json"},
            {"id": "TC-3", "verdict": "pass", "trace": "traces/missing.json"}]});
        std::fs::write(dir.join("r/run.json"), run.to_string()).unwrap();
        let input = Input::read(&dir.join("r/run.json")).expect("read");
        assert_eq!(input.traces.keys().collect::<Vec<_>>(), vec!["traces/TC-1.json"]);
        assert!(input.coverage.is_none());
        let html = render(&input).expect("renders");
        assert!(html.contains("trace <code>../outside.json</code> is not available"), "{html}");
        let e = Input::read(&dir.join("nothing")).unwrap_err();
        assert!(e.to_string().contains("nothing: cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_keys_are_shown_not_refused() {
        let html = render(&input("t", "b")).expect("renders");
        assert!(html.contains("a-later-key"));
    }

    #[test]
    fn the_script_is_allowed_by_hash_and_nothing_is_fetched() {
        let html = render(&input("t", "b")).expect("renders");
        assert!(html.contains("default-src 'none'"));
        assert!(!html.contains("src=\"http"));
        assert!(!html.contains("href=\"http"));
    }
}
