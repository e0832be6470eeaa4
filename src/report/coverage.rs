//! Coverage of SCR items by the cases of one run: `coverage.json` and `coverage.md`.
//!
//! Each item's verdict is rolled up from the cases that cover it (error > fail > inconc > pass),
//! so the coverage report can never disagree with `run.json` or JUnit. A failed case is
//! attributed precisely: it fails the SCR item its failing check named (even one it does not
//! list in `covers`: that is evidence too), and is inconclusive for the other items it covers,
//! whose judgement its failure prevented.
use crate::runner::result::{CaseResult, RunResult};
use crate::verdict::{roll_up, Verdict};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One SCR item as the registry and the ICS see it; filled by the runner from the SCR registry
/// and ICS applicability.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageItemInput {
    pub id: String,
    /// The IUT role the item belongs to: "client" or "server".
    pub role: String,
    /// "M" (mandatory) or "O" (optional); anything else is counted as optional.
    pub status: String,
    pub function: String,
    /// Whether the ICS makes the item applicable to this IUT.
    pub applicable: bool,
    /// Why the item is (not) applicable.
    pub reason: String,
    /// Id of the SCR table the item belongs to.
    #[serde(default)]
    pub table: String,
    /// The table's title.
    #[serde(default)]
    pub table_title: String,
    /// The table's provenance: "normative" or "derived".
    #[serde(default)]
    pub provenance: String,
    /// The specification or seed the table comes from (its header's `source`).
    #[serde(default)]
    pub table_source: String,
    /// The section(s) of it the table comes from.
    #[serde(default)]
    pub table_section: String,
    /// Where the item itself comes from: what it cites, or the table's source and its section.
    #[serde(default)]
    pub source: String,
}

/// The roll-up verdict of one SCR item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ItemVerdict {
    Pass,
    Fail,
    Inconc,
    Error,
    /// The ICS says the item does not apply.
    NotApplicable,
    /// Applicable, but no case of the run covers it, or none of its covering cases ran and
    /// at least one was cut by the end of the run (case verdict not-tested).
    NotTested,
    /// Applicable, and every covering case was skipped or not applicable.
    Skipped,
    /// Applicable, but the run's selection kept none of its covering cases: not part of the
    /// pass ratio of this (partial) run.
    NotSelected,
}

impl ItemVerdict {
    pub const ALL: [ItemVerdict; 8] = [
        ItemVerdict::Pass,
        ItemVerdict::Fail,
        ItemVerdict::Inconc,
        ItemVerdict::Error,
        ItemVerdict::NotApplicable,
        ItemVerdict::NotTested,
        ItemVerdict::Skipped,
        ItemVerdict::NotSelected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemVerdict::Pass => "pass",
            ItemVerdict::Fail => "fail",
            ItemVerdict::Inconc => "inconc",
            ItemVerdict::Error => "error",
            ItemVerdict::NotApplicable => "not-applicable",
            ItemVerdict::NotTested => "not-tested",
            ItemVerdict::Skipped => "skipped",
            ItemVerdict::NotSelected => "not-selected",
        }
    }
}

impl fmt::Display for ItemVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `coverage.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageItem {
    pub id: String,
    pub role: String,
    pub status: String,
    pub function: String,
    /// The SCR table of the item.
    #[serde(default)]
    pub table: String,
    /// The table's provenance: "normative" or "derived".
    #[serde(default)]
    pub provenance: String,
    /// Where the item comes from: what it cites, or its table's source and its section.
    #[serde(default)]
    pub source: String,
    pub applicable: bool,
    /// Why the item is (not) applicable, from the ICS evaluation.
    pub reason: String,
    /// Ids of the run's cases that cover the item, in run order.
    pub cases: Vec<String>,
    /// Ids of cases that do not cover the item but failed on a check naming it.
    #[serde(default)]
    pub failed_elsewhere: Vec<String>,
    /// True when no case of the run covers the item, whatever its applicability: a gap in the
    /// catalog, which is not the same thing as "not applicable".
    pub no_case: bool,
    pub verdict: ItemVerdict,
    /// For an applicable item none of whose cases ran to a verdict (`skipped`, `not-tested`):
    /// why each covering case did not run (e.g. a device fact the ICS declares absent), so that
    /// nothing is skipped silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
    /// Cases that judged the item through an inference (a judgement marked `inferred`), each with
    /// why the requirement is read so: "TC-DMC-P0-004: ...".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inferred: Vec<String>,
    /// Failed inferred judgements of the item that the profile made informational (they changed
    /// no verdict): "TC-DMC-P0-004 step 2: ...".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub informational: Vec<String>,
}

/// Passing items out of the applicable ones of one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PassTally {
    pub pass: usize,
    pub total: usize,
}

/// The coverage of one SCR table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCoverage {
    /// Table id (empty for items given without one).
    pub id: String,
    pub title: String,
    /// "normative" (copied from a specification's SCR table) or "derived" (written by this
    /// project from normative flow text, each item citing what it rests on).
    pub provenance: String,
    /// The specification or seed the table comes from (its header's `source`).
    pub source: String,
    /// The section(s) of it the table comes from.
    pub section: String,
    /// Items of the table, applicable or not.
    pub items: usize,
    /// Item count per roll-up verdict; every verdict is present, zero or not.
    pub counts: std::collections::BTreeMap<String, usize>,
    pub mandatory: PassTally,
    pub optional: PassTally,
    pub applicable_without_case: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageSummary {
    /// Item count per roll-up verdict; every verdict is present, zero or not.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// Applicable mandatory items: how many pass, out of how many.
    pub mandatory: PassTally,
    /// Applicable optional items: how many pass, out of how many.
    pub optional: PassTally,
    /// Applicable items that no case covers.
    pub applicable_without_case: usize,
    /// All items (applicable or not) that no case covers.
    pub items_without_case: usize,
    /// One line for humans and CI logs, naming each table with its provenance.
    pub headline: String,
    /// The same figures per SCR table, in table order.
    #[serde(default)]
    pub tables: Vec<TableCoverage>,
    /// The selection of a partial run (how many of the applicable cases it ran, and what chose
    /// them); absent when every applicable case was selected. Items whose covering cases were
    /// all outside it are `not-selected` and not in the pass ratios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<crate::runner::result::Selection>,
}

/// The whole of `coverage.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub summary: CoverageSummary,
    pub items: Vec<CoverageItem>,
}

/// The verdict `case` contributes to SCR item `item`, if any: a failure is charged to the item
/// its reason names; a covered item all of whose judgements in the case held passes, whatever
/// failed or stayed inconclusive elsewhere in it; any other covered item of a failed case is
/// inconclusive (its judgement was prevented).
fn contribution(case: &CaseResult, item: &str) -> Option<Verdict> {
    let covers = case.covers.iter().any(|s| s == item);
    let named = case.reason.as_ref().and_then(|r| r.scr.as_deref());
    let shown = case.evidence.get(item).is_some_and(|e| e.complete());
    match (case.verdict, named) {
        (Verdict::Fail, Some(s)) if s == item => Some(Verdict::Fail),
        (Verdict::Fail | Verdict::Inconc, _) if covers && shown => Some(Verdict::Pass),
        (Verdict::Fail, Some(_)) if covers => Some(Verdict::Inconc),
        (v, _) if covers => Some(v),
        _ => None,
    }
}

/// Rolls the run's case verdicts up to the given SCR items.
pub fn coverage(run: &RunResult, items: &[CoverageItemInput]) -> Coverage {
    let rows: Vec<CoverageItem> = items
        .iter()
        .map(|input| {
            let covering: Vec<_> = run.cases.iter().filter(|c| c.covers.iter().any(|s| s == &input.id)).collect();
            let no_case = covering.is_empty();
            let evidence: Vec<String> = run
                .cases
                .iter()
                .filter(|c| !c.covers.iter().any(|s| s == &input.id) && contribution(c, &input.id).is_some())
                .map(|c| c.id.clone())
                .collect();
            let verdict = if !input.applicable {
                ItemVerdict::NotApplicable
            } else {
                match roll_up(run.cases.iter().filter_map(|c| contribution(c, &input.id))) {
                    None => ItemVerdict::NotTested,
                    Some(Verdict::Pass) => ItemVerdict::Pass,
                    Some(Verdict::Inconc) => ItemVerdict::Inconc,
                    Some(Verdict::Fail) => ItemVerdict::Fail,
                    Some(Verdict::Error) => ItemVerdict::Error,
                    Some(Verdict::NotTested) => ItemVerdict::NotTested,
                    Some(Verdict::NotSelected) => ItemVerdict::NotSelected,
                    // roll_up only returns these when no covering case ran at all.
                    Some(Verdict::NotApplicable | Verdict::Skipped) => ItemVerdict::Skipped,
                }
            };
            let not_run = if matches!(verdict, ItemVerdict::Skipped | ItemVerdict::NotTested) {
                covering
                    .iter()
                    .map(|c| {
                        let why = c.reason.as_ref().map(|r| r.message.as_str()).unwrap_or("");
                        format!("{} {}: {why}", c.id, c.verdict)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let inferred = run
                .cases
                .iter()
                .filter_map(|c| c.inferred.get(&input.id).map(|whys| format!("{}: {}", c.id, whys.join("; "))))
                .collect();
            let informational = run
                .cases
                .iter()
                .flat_map(|c| c.informational.iter().filter(|i| i.scr == input.id).map(move |i| (c, i)))
                .map(|(c, i)| format!("{} {}", c.id, i.line()))
                .collect();
            CoverageItem {
                id: input.id.clone(),
                role: input.role.clone(),
                status: input.status.clone(),
                function: input.function.clone(),
                table: input.table.clone(),
                provenance: input.provenance.clone(),
                source: input.source.clone(),
                applicable: input.applicable,
                reason: input.reason.clone(),
                cases: covering.iter().map(|c| c.id.clone()).collect(),
                failed_elsewhere: evidence,
                no_case,
                verdict,
                not_run,
                inferred,
                informational,
            }
        })
        .collect();
    Coverage { summary: summarise(&rows, items, run.selection.as_ref()), items: rows }
}

/// The tables of `inputs`, in first-seen order, each with its rows.
fn by_table<'a>(
    rows: &'a [CoverageItem],
    inputs: &'a [CoverageItemInput],
) -> Vec<(&'a CoverageItemInput, Vec<&'a CoverageItem>)> {
    let mut out: Vec<(&CoverageItemInput, Vec<&CoverageItem>)> = Vec::new();
    for (row, input) in rows.iter().zip(inputs) {
        match out.iter_mut().find(|(t, _)| t.table == input.table) {
            Some((_, v)) => v.push(row),
            None => out.push((input, vec![row])),
        }
    }
    out
}

/// Counts, pass tallies and items without case over some rows.
struct Tally {
    counts: std::collections::BTreeMap<String, usize>,
    mandatory: PassTally,
    optional: PassTally,
    applicable_without_case: usize,
    items_without_case: usize,
}

fn tally<'a>(rows: impl IntoIterator<Item = &'a CoverageItem>) -> Tally {
    let mut counts: std::collections::BTreeMap<String, usize> =
        ItemVerdict::ALL.iter().map(|v| (v.as_str().to_string(), 0)).collect();
    let mut mandatory = PassTally::default();
    let mut optional = PassTally::default();
    let mut applicable_without_case = 0;
    let mut items_without_case = 0;
    for row in rows {
        *counts.entry(row.verdict.as_str().to_string()).or_default() += 1;
        if row.no_case {
            items_without_case += 1;
        }
        // Items outside a partial run's selection say nothing about the IUT in this run.
        if !row.applicable || row.verdict == ItemVerdict::NotSelected {
            continue;
        }
        if row.no_case {
            applicable_without_case += 1;
        }
        let tally = if row.status == "M" { &mut mandatory } else { &mut optional };
        tally.total += 1;
        if row.verdict == ItemVerdict::Pass {
            tally.pass += 1;
        }
    }
    Tally { counts, mandatory, optional, applicable_without_case, items_without_case }
}

fn summarise(
    rows: &[CoverageItem],
    inputs: &[CoverageItemInput],
    selection: Option<&crate::runner::result::Selection>,
) -> CoverageSummary {
    let all = tally(rows);
    let tables: Vec<TableCoverage> = by_table(rows, inputs)
        .into_iter()
        .map(|(t, rows)| {
            let n = rows.len();
            let x = tally(rows);
            TableCoverage {
                id: t.table.clone(),
                title: t.table_title.clone(),
                provenance: t.provenance.clone(),
                source: t.table_source.clone(),
                section: t.table_section.clone(),
                items: n,
                counts: x.counts,
                mandatory: x.mandatory,
                optional: x.optional,
                applicable_without_case: x.applicable_without_case,
            }
        })
        .collect();
    let mut headline = format!(
        "{}mandatory items: {}/{} pass; optional items: {}/{} pass; {} applicable {} no case",
        selection.map(|s| format!("{}; of its items: ", s.describe())).unwrap_or_default(),
        all.mandatory.pass,
        all.mandatory.total,
        all.optional.pass,
        all.optional.total,
        all.applicable_without_case,
        if all.applicable_without_case == 1 { "item has" } else { "items have" },
    );
    // Items given without a table (older inputs) are in the overall figures only.
    for t in tables.iter().filter(|t| !t.id.is_empty()) {
        headline.push_str(&format!(". {}", table_line(t)));
    }
    CoverageSummary {
        counts: all.counts,
        mandatory: all.mandatory,
        optional: all.optional,
        applicable_without_case: all.applicable_without_case,
        items_without_case: all.items_without_case,
        headline,
        tables,
        selection: selection.cloned(),
    }
}

/// "DM-PACK (normative): mandatory 45/45 pass, optional 7/7 pass".
fn table_line(t: &TableCoverage) -> String {
    let name = if t.id.is_empty() { "(no table)" } else { t.id.as_str() };
    let provenance = if t.provenance.is_empty() { String::new() } else { format!(" ({})", t.provenance) };
    if t.mandatory.total + t.optional.total == 0 {
        return format!("{name}{provenance}: no applicable item");
    }
    format!(
        "{name}{provenance}: mandatory {}/{} pass, optional {}/{} pass",
        t.mandatory.pass, t.mandatory.total, t.optional.pass, t.optional.total
    )
}

/// `coverage.md`: the headline, the counts, then one section per SCR table (its provenance and
/// source, then one table of items per IUT role, in first-seen order).
pub fn coverage_md(cov: &Coverage) -> String {
    let mut out = String::new();
    out.push_str("# SCR coverage\n\n");
    out.push_str(&format!("**{}**\n\n", md_cell(&cov.summary.headline)));
    let counts: Vec<String> = ItemVerdict::ALL
        .iter()
        .map(|v| format!("{}: {}", v.as_str(), cov.summary.counts.get(v.as_str()).copied().unwrap_or(0)))
        .collect();
    out.push_str(&format!("Items per verdict: {}.\n", counts.join(", ")));
    for t in &cov.summary.tables {
        let rows: Vec<&CoverageItem> = cov.items.iter().filter(|i| i.table == t.id).collect();
        let title = match (t.id.is_empty(), t.title.is_empty()) {
            (true, _) => "Items without a table".to_string(),
            (false, true) => format!("Table {}", t.id),
            (false, false) => format!("Table {}: {}", t.id, t.title),
        };
        out.push_str(&format!("\n## {}\n\n", md_cell(&title)));
        let provenance = match t.provenance.as_str() {
            "normative" => "normative (copied from the specification's SCR table)",
            "derived" => "derived (written by this project from normative flow text; each item cites what it rests on)",
            "" => "not stated",
            other => other,
        };
        out.push_str(&format!("Provenance: {}. ", md_cell(provenance)));
        let source: Vec<&str> = [t.source.as_str(), t.section.as_str()].into_iter().filter(|s| !s.is_empty()).collect();
        if !source.is_empty() {
            out.push_str(&format!("Source: {}.", md_cell(&source.join(", "))));
        }
        out.push_str(&format!("\n\n{}.\n", md_cell(&table_line(t))));
        let mut roles: Vec<&str> = Vec::new();
        for item in &rows {
            if !roles.contains(&item.role.as_str()) {
                roles.push(&item.role);
            }
        }
        for role in roles {
            out.push_str(&format!("\n### IUT role: {}\n\n", md_cell(role)));
            out.push_str("| SCR item | Status | Function | Source | Applicable | Verdict | Cases |\n");
            out.push_str("|---|---|---|---|---|---|---|\n");
            for item in rows.iter().filter(|i| i.role == role) {
                let applicable = if item.applicable { "yes".to_string() } else { format!("no ({})", item.reason) };
                let cases = if item.no_case { "(no case)".to_string() } else { item.cases.join(", ") };
                // The table's source is said above: a row names only its section or what it cites.
                let source = item
                    .source
                    .strip_prefix(t.source.as_str())
                    .and_then(|r| r.strip_prefix(", "))
                    .unwrap_or(&item.source);
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    md_cell(&item.id),
                    md_cell(&item.status),
                    md_cell(&item.function),
                    md_cell(if source.is_empty() { "-" } else { source }),
                    md_cell(&applicable),
                    md_cell(&verdict_cell(item)),
                    md_cell(&cases),
                ));
            }
        }
    }
    out
}

/// An item's verdict with what qualifies it: why its cases did not run, the inferences it was
/// judged through, its informational failures.
fn verdict_cell(item: &CoverageItem) -> String {
    let mut notes: Vec<String> = item.not_run.clone();
    notes.extend(item.inferred.iter().map(|i| format!("inferred in {i}")));
    notes.extend(item.informational.iter().map(|i| format!("informational failure in {i}")));
    if notes.is_empty() {
        item.verdict.to_string()
    } else {
        format!("{} ({})", item.verdict, notes.join("; "))
    }
}

/// Keeps a value inside its Markdown table cell: pipes escaped, line breaks flattened.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::result::CaseResult;

    fn case(id: &str, covers: &[&str], verdict: Verdict) -> CaseResult {
        CaseResult {
            id: id.into(),
            title: id.into(),
            role: "client".into(),
            covers: covers.iter().map(|s| s.to_string()).collect(),
            verdict,
            reason: None,
            duration_ms: 1,
            evidence: Default::default(),
            inferred: Default::default(),
            informational: Vec::new(),
            trace: vec![],
        }
    }

    fn item(id: &str, status: &str, applicable: bool) -> CoverageItemInput {
        CoverageItemInput {
            id: id.into(),
            role: "client".into(),
            status: status.into(),
            function: format!("function of {id}"),
            applicable,
            reason: if applicable { "mandatory".into() } else { "ICS-X = false".into() },
            ..Default::default()
        }
    }

    fn run(cases: Vec<CaseResult>) -> RunResult {
        RunResult {
            suite_version: "0".into(),
            catalog_digest: "d".into(),
            catalog: None,
            interrupted: false,
            iut: serde_json::json!({}),
            cases,
            selection: None,
            late_traffic: Vec::new(),
        }
    }

    fn verdict_of(cov: &Coverage, id: &str) -> ItemVerdict {
        cov.items.iter().find(|i| i.id == id).map(|i| i.verdict).unwrap_or(ItemVerdict::NotTested)
    }

    #[test]
    fn inferred_and_informational_judgements_are_shown_and_change_no_item_verdict() {
        let mut c = case("TC-I", &["A"], Verdict::Pass);
        c.inferred.insert("A".into(), vec!["read from the item".into()]);
        c.informational.push(crate::runner::result::Informational {
            step: 2,
            scr: "A".into(),
            message: "a request arrived".into(),
            requirement: None,
            expected: "silence".into(),
            actual: "POST /dm".into(),
            inferred: "read from the item".into(),
        });
        let cov =
            coverage(&run(vec![c, case("TC-J", &["B"], Verdict::Pass)]), &[item("A", "M", true), item("B", "M", true)]);
        let a = &cov.items[0];
        assert_eq!(a.verdict, ItemVerdict::Pass);
        assert_eq!(a.inferred, vec!["TC-I: read from the item".to_string()]);
        assert!(a.informational[0].starts_with("TC-I step 2: A: a request arrived"), "{:?}", a.informational);
        assert!(cov.items[1].inferred.is_empty() && cov.items[1].informational.is_empty());
        let md = coverage_md(&cov);
        assert!(
            md.contains("pass (inferred in TC-I: read from the item; informational failure in TC-I step 2"),
            "{md}"
        );
        // Absent keys for items without either (additive to coverage.json).
        let json = serde_json::to_value(&cov.items[1]).unwrap();
        assert!(json.get("inferred").is_none() && json.get("informational").is_none(), "{json}");
    }

    #[test]
    fn a_failure_is_attributed_to_the_item_its_check_named() {
        let mut failed = case("TC-1", &["A", "B"], Verdict::Fail);
        failed.reason = Some(crate::verdict::Reason { scr: Some("B".into()), ..crate::verdict::Reason::new("x") });
        let mut elsewhere = case("TC-2", &["D"], Verdict::Fail);
        elsewhere.reason = Some(crate::verdict::Reason { scr: Some("C".into()), ..crate::verdict::Reason::new("y") });
        let run = RunResult {
            suite_version: "t".into(),
            catalog_digest: "d".into(),
            catalog: None,
            interrupted: false,
            iut: serde_json::Value::Null,
            cases: vec![failed, elsewhere, case("TC-3", &["C"], Verdict::Pass)],
            selection: None,
            late_traffic: Vec::new(),
        };
        let items: Vec<CoverageItemInput> = ["A", "B", "C", "D"]
            .iter()
            .map(|id| CoverageItemInput {
                id: id.to_string(),
                role: "client".into(),
                status: "M".into(),
                function: "f".into(),
                applicable: true,
                reason: "mandatory".into(),
                ..Default::default()
            })
            .collect();
        let cov = coverage(&run, &items);
        assert_eq!(verdict_of(&cov, "A"), ItemVerdict::Inconc, "A's judgement was prevented");
        assert_eq!(verdict_of(&cov, "B"), ItemVerdict::Fail);
        assert_eq!(verdict_of(&cov, "C"), ItemVerdict::Fail, "evidence from a case not covering C");
        assert_eq!(cov.items[2].failed_elsewhere, vec!["TC-2".to_string()]);
        assert_eq!(verdict_of(&cov, "D"), ItemVerdict::Inconc);
    }

    #[test]
    fn roll_up_rules() {
        let r = run(vec![
            case("c1", &["A", "B"], Verdict::Pass),
            case("c2", &["B"], Verdict::Inconc),
            case("c3", &["C"], Verdict::Error),
            case("c4", &["C"], Verdict::Fail),
            case("c5", &["D"], Verdict::Skipped),
            case("c6", &["D"], Verdict::NotApplicable),
            case("c7", &["F"], Verdict::Fail),
            case("c8", &["G"], Verdict::NotTested),
            case("c9", &["G"], Verdict::Skipped),
            case("c10", &["H"], Verdict::NotTested),
            case("c11", &["H"], Verdict::Pass),
        ]);
        let items = [
            item("A", "M", true),
            item("B", "M", true),
            item("C", "O", true),
            item("D", "O", true),
            item("E", "M", true),
            item("F", "O", false),
            item("G", "O", true),
            item("H", "O", true),
        ];
        let cov = coverage(&r, &items);
        assert_eq!(verdict_of(&cov, "A"), ItemVerdict::Pass);
        assert_eq!(verdict_of(&cov, "B"), ItemVerdict::Inconc);
        assert_eq!(verdict_of(&cov, "C"), ItemVerdict::Error);
        assert_eq!(verdict_of(&cov, "D"), ItemVerdict::Skipped);
        assert_eq!(verdict_of(&cov, "E"), ItemVerdict::NotTested);
        // Not applicable wins even over a failing case: the ICS decides what is judged.
        assert_eq!(verdict_of(&cov, "F"), ItemVerdict::NotApplicable);
        // No covering case ran and one was cut by the end of the run: not tested.
        assert_eq!(verdict_of(&cov, "G"), ItemVerdict::NotTested);
        assert!(!cov.items[6].no_case);
        // A covering case that ran decides, as with skipped cases.
        assert_eq!(verdict_of(&cov, "H"), ItemVerdict::Pass);
        assert_eq!(cov.items[1].cases, vec!["c1", "c2"]);
        assert!(cov.items[4].no_case && !cov.items[0].no_case);
        assert_eq!(cov.summary.mandatory, PassTally { pass: 1, total: 3 });
        assert_eq!(cov.summary.optional, PassTally { pass: 1, total: 4 });
        assert_eq!(cov.summary.applicable_without_case, 1);
        assert_eq!(
            cov.summary.headline,
            "mandatory items: 1/3 pass; optional items: 1/4 pass; 1 applicable item has no case"
        );
        assert_eq!(cov.summary.counts["not-tested"], 2);
        assert_eq!(cov.summary.counts["pass"], 2);
    }

    #[test]
    fn an_item_whose_judgements_all_held_is_not_degraded_by_a_failure_elsewhere() {
        use crate::runner::result::ItemEvidence;
        let mut failed = case("TC-1", &["A", "B", "C"], Verdict::Fail);
        failed.reason = Some(crate::verdict::Reason { scr: Some("B".into()), ..crate::verdict::Reason::new("x") });
        // A: every judgement held; C: one of two never ran (the case stopped at B's failure).
        failed.evidence.insert("A".into(), ItemEvidence { judgements: 2, held: 2 });
        failed.evidence.insert("B".into(), ItemEvidence { judgements: 1, held: 0 });
        failed.evidence.insert("C".into(), ItemEvidence { judgements: 2, held: 1 });
        let mut inconc = case("TC-2", &["D", "E"], Verdict::Inconc);
        inconc.evidence.insert("D".into(), ItemEvidence { judgements: 1, held: 1 });
        let cov = coverage(
            &run(vec![failed, inconc]),
            &[
                item("A", "M", true),
                item("B", "M", true),
                item("C", "M", true),
                item("D", "M", true),
                item("E", "M", true),
            ],
        );
        let v: Vec<ItemVerdict> = cov.items.iter().map(|i| i.verdict).collect();
        assert_eq!(
            v,
            [ItemVerdict::Pass, ItemVerdict::Fail, ItemVerdict::Inconc, ItemVerdict::Pass, ItemVerdict::Inconc]
        );
    }

    #[test]
    fn each_table_is_tallied_and_named_with_its_provenance() {
        let of = |id: &str, status: &str, applicable: bool, table: &str, provenance: &str| CoverageItemInput {
            table: table.into(),
            table_title: format!("{table} title"),
            provenance: provenance.into(),
            table_source: format!("{table} source"),
            table_section: "B".into(),
            source: format!("{table} source, section 1"),
            ..item(id, status, applicable)
        };
        let items = [
            of("A", "M", true, "DM-PACK", "normative"),
            of("B", "O", true, "DM-PACK", "normative"),
            of("T1", "M", true, "TOY", "derived"),
            of("T2", "O", false, "TOY", "derived"),
        ];
        let r = run(vec![case("c1", &["A", "B", "T1"], Verdict::Pass)]);
        let cov = coverage(&r, &items);
        let t: Vec<(&str, usize, PassTally, PassTally)> =
            cov.summary.tables.iter().map(|t| (t.id.as_str(), t.items, t.mandatory, t.optional)).collect();
        assert_eq!(
            t,
            [
                ("DM-PACK", 2, PassTally { pass: 1, total: 1 }, PassTally { pass: 1, total: 1 }),
                ("TOY", 2, PassTally { pass: 1, total: 1 }, PassTally { pass: 0, total: 0 }),
            ]
        );
        assert_eq!(cov.summary.tables[1].counts["not-applicable"], 1);
        assert_eq!(cov.summary.tables[1].provenance, "derived");
        assert!(
            cov.summary.headline.ends_with(
                ". DM-PACK (normative): mandatory 1/1 pass, optional 1/1 pass. TOY (derived): mandatory 1/1 pass, \
                 optional 0/0 pass"
            ),
            "{}",
            cov.summary.headline
        );
        assert_eq!((cov.items[2].table.as_str(), cov.items[2].provenance.as_str()), ("TOY", "derived"));
        let md = coverage_md(&cov);
        assert!(md.contains("## Table DM-PACK: DM-PACK title\n\nProvenance: normative"), "{md}");
        assert!(md.contains("## Table TOY: TOY title\n\nProvenance: derived"), "{md}");
        assert!(md.contains("| T1 | M | function of T1 | section 1 |"), "the table's source is not repeated: {md}");
    }

    #[test]
    fn not_applicable_without_case_is_still_flagged_as_no_case() {
        let cov = coverage(&run(vec![]), &[item("X", "O", false)]);
        assert_eq!(cov.items[0].verdict, ItemVerdict::NotApplicable);
        assert!(cov.items[0].no_case);
        assert_eq!(cov.summary.applicable_without_case, 0);
        assert_eq!(cov.summary.items_without_case, 1);
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(md_cell("a|b\nc"), "a\\|b c");
    }
}
