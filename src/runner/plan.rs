//! `dmcts plan`: which cases will run against an IUT and which will not, and why — computed
//! from the ICS before any traffic. Also the applicability inputs of the coverage report.
use crate::catalog::{Case, Catalog};
use crate::ics::Ics;
use crate::report::coverage::CoverageItemInput;
use crate::scr::Registry;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct PlannedCase {
    pub id: String,
    pub title: String,
    pub role: String,
    pub covers: Vec<String>,
    pub runs: bool,
    pub reason: String,
    /// Upper-tester actions the case needs (an interactive run prompts for them).
    pub operator_actions: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedItem {
    pub id: String,
    pub status: String,
    pub applicable: bool,
    pub reason: String,
    pub cases: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub iut: String,
    pub cases: Vec<PlannedCase>,
    pub items: Vec<PlannedItem>,
}

/// Whether a case applies to the IUT of `ics`, and why.
pub fn case_applicability(case: &Case, ics: &Ics, reg: &Registry) -> (bool, String) {
    if case.role != ics.iut.role {
        return (false, format!("tests a {} IUT; the IUT is a {}", case.role, ics.iut.role));
    }
    match &case.applies_expr {
        None => (true, "always applies to this role".to_string()),
        Some(e) => {
            let (ok, why) = ics.eval_applies_if(e, reg);
            (ok, format!("applies_if {e}: {why}"))
        }
    }
}

pub fn plan(reg: &Registry, cat: &Catalog, ics: &Ics) -> Plan {
    let cases = cat
        .cases
        .iter()
        .map(|c| {
            let (runs, mut reason) = case_applicability(c, ics, reg);
            let flat = ics.pixit_flat();
            let missing: Vec<&str> = c.pixit.iter().filter(|p| !flat.contains_key(*p)).map(String::as_str).collect();
            if runs && !missing.is_empty() {
                reason = format!("{reason}; WILL END IN ERROR: the PIXIT lacks {}", missing.join(", "));
            }
            let mut actions: Vec<String> = c.steps.iter().filter_map(|s| s.ut_action().map(str::to_string)).collect();
            actions.dedup();
            PlannedCase {
                id: c.id.clone(),
                title: c.title.clone(),
                role: c.role.to_string(),
                covers: c.covers.clone(),
                runs,
                reason,
                operator_actions: actions,
            }
        })
        .collect();
    let items = ics
        .item_applicability(reg)
        .into_iter()
        .map(|a| {
            let status = reg.get(&a.id).map(|i| i.status.to_string()).unwrap_or_default();
            let cases = cat.covering(&a.id).into_iter().map(str::to_string).collect();
            PlannedItem { id: a.id, status, applicable: a.applicable, reason: a.reason, cases }
        })
        .collect();
    Plan { iut: format!("{} {} {} ({})", ics.iut.vendor, ics.iut.product, ics.iut.version, ics.iut.role), cases, items }
}

impl Plan {
    pub fn render(&self) -> String {
        let mut s = format!("Plan for {}\n\nCases:\n", self.iut);
        let runs = self.cases.iter().filter(|c| c.runs).count();
        for c in &self.cases {
            s.push_str(&format!(
                "  {} {:<20} {}\n      {}\n",
                if c.runs { "RUN " } else { "SKIP" },
                c.id,
                c.title,
                c.reason
            ));
            if c.runs && !c.operator_actions.is_empty() {
                s.push_str(&format!("      upper tester: {}\n", c.operator_actions.join(", ")));
            }
        }
        s.push_str(&format!("\n{runs} of {} cases will run.\n\nSCR items:\n", self.cases.len()));
        for i in &self.items {
            let cov = if !i.applicable {
                "-".to_string()
            } else if i.cases.is_empty() {
                "NO CASE EXISTS".to_string()
            } else {
                i.cases.join(", ")
            };
            s.push_str(&format!(
                "  {:<18} {} {:<14} {:<40} {}\n",
                i.id,
                i.status,
                if i.applicable { "applicable" } else { "not applicable" },
                cov,
                i.reason
            ));
        }
        s
    }
}

/// Coverage inputs from applicability results.
pub fn coverage_inputs(reg: &Registry, applicability: &[crate::ics::Applicability]) -> Vec<CoverageItemInput> {
    reg.items()
        .iter()
        .map(|item| {
            let a = applicability.iter().find(|a| a.id == item.id);
            CoverageItemInput {
                id: item.id.clone(),
                role: item.role.to_string(),
                status: item.status.to_string(),
                function: item.function.clone(),
                applicable: a.is_some_and(|a| a.applicable),
                reason: a.map(|a| a.reason.clone()).unwrap_or_else(|| "no applicability computed".into()),
            }
        })
        .collect()
}
