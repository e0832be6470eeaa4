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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl ItemVerdict {
    pub const ALL: [ItemVerdict; 7] = [
        ItemVerdict::Pass,
        ItemVerdict::Fail,
        ItemVerdict::Inconc,
        ItemVerdict::Error,
        ItemVerdict::NotApplicable,
        ItemVerdict::NotTested,
        ItemVerdict::Skipped,
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
}

/// Passing items out of the applicable ones of one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PassTally {
    pub pass: usize,
    pub total: usize,
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
    /// One line for humans and CI logs.
    pub headline: String,
}

/// The whole of `coverage.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub summary: CoverageSummary,
    pub items: Vec<CoverageItem>,
}

/// The verdict `case` contributes to SCR item `item`, if any.
fn contribution(case: &CaseResult, item: &str) -> Option<Verdict> {
    let covers = case.covers.iter().any(|s| s == item);
    let named = case.reason.as_ref().and_then(|r| r.scr.as_deref());
    match (case.verdict, named) {
        (Verdict::Fail, Some(s)) if s == item => Some(Verdict::Fail),
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
                    // roll_up only returns these when no covering case ran at all.
                    Some(Verdict::NotApplicable | Verdict::Skipped) => ItemVerdict::Skipped,
                }
            };
            CoverageItem {
                id: input.id.clone(),
                role: input.role.clone(),
                status: input.status.clone(),
                function: input.function.clone(),
                applicable: input.applicable,
                reason: input.reason.clone(),
                cases: covering.iter().map(|c| c.id.clone()).collect(),
                failed_elsewhere: evidence,
                no_case,
                verdict,
            }
        })
        .collect();
    Coverage { summary: summarise(&rows), items: rows }
}

fn summarise(rows: &[CoverageItem]) -> CoverageSummary {
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
        if !row.applicable {
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
    let headline = format!(
        "mandatory items: {}/{} pass; optional items: {}/{} pass; {} applicable {} no case",
        mandatory.pass,
        mandatory.total,
        optional.pass,
        optional.total,
        applicable_without_case,
        if applicable_without_case == 1 { "item has" } else { "items have" },
    );
    CoverageSummary { counts, mandatory, optional, applicable_without_case, items_without_case, headline }
}

/// `coverage.md`: the headline, the counts, then one table per IUT role (in first-seen order).
pub fn coverage_md(cov: &Coverage) -> String {
    let mut out = String::new();
    out.push_str("# SCR coverage\n\n");
    out.push_str(&format!("**{}**\n\n", md_cell(&cov.summary.headline)));
    let counts: Vec<String> = ItemVerdict::ALL
        .iter()
        .map(|v| format!("{}: {}", v.as_str(), cov.summary.counts.get(v.as_str()).copied().unwrap_or(0)))
        .collect();
    out.push_str(&format!("Items per verdict: {}.\n", counts.join(", ")));
    let mut roles: Vec<&str> = Vec::new();
    for item in &cov.items {
        if !roles.contains(&item.role.as_str()) {
            roles.push(&item.role);
        }
    }
    for role in roles {
        out.push_str(&format!("\n## IUT role: {}\n\n", md_cell(role)));
        out.push_str("| SCR item | Status | Function | Applicable | Verdict | Cases |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for item in cov.items.iter().filter(|i| i.role == role) {
            let applicable = if item.applicable { "yes".to_string() } else { format!("no ({})", item.reason) };
            let cases = if item.no_case { "(no case)".to_string() } else { item.cases.join(", ") };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                md_cell(&item.id),
                md_cell(&item.status),
                md_cell(&item.function),
                md_cell(&applicable),
                item.verdict,
                md_cell(&cases),
            ));
        }
    }
    out
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
        }
    }

    fn verdict_of(cov: &Coverage, id: &str) -> ItemVerdict {
        cov.items.iter().find(|i| i.id == id).map(|i| i.verdict).unwrap_or(ItemVerdict::NotTested)
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
