//! `dmcts plan`: which cases will run against an IUT and which will not, and why — computed
//! from the ICS before any traffic. Also the applicability inputs of the coverage report.
use crate::catalog::{Case, Catalog};
use crate::ics::Ics;
use crate::peers::endpoints::Endpoints;
use crate::report::coverage::CoverageItemInput;
use crate::scr::{Registry, ScrTable};
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
    /// PIXIT values the case needs.
    pub pixit: Vec<String>,
}

/// Whether the IUT implements one SCR table, and why; only the items of implemented tables
/// can apply.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedTable {
    pub id: String,
    pub title: String,
    /// `normative` or `derived`.
    pub provenance: String,
    /// The specification or seed, and the section, the table comes from.
    pub source: String,
    pub implemented: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedItem {
    pub id: String,
    /// `client` or `server`.
    pub role: String,
    /// The SCR table of the item.
    pub table: String,
    pub status: String,
    pub applicable: bool,
    pub reason: String,
    pub cases: Vec<String>,
}

/// One ICS capability of the IUT's role and binding: the device fact, whether it holds, and
/// whether the ICS said so or the default decided.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedCapability {
    pub id: String,
    pub question: String,
    pub holds: bool,
    /// `ics` (answered in `[support]`), `default`, or `reference` (the built-in reference ICS).
    pub source: String,
    pub reason: String,
    /// Cases whose `applies_if` names it.
    pub cases: Vec<String>,
}

/// One `[pixit.mo]` value: what it is for, the value in force and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedPixit {
    /// Dotted name, e.g. `mo.exec_uri`.
    pub name: String,
    pub value: Option<String>,
    /// `ics`, `default`, or `none` (no value and no default).
    pub source: String,
    pub about: String,
    /// Cases that will run and need it.
    pub cases: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub iut: String,
    /// The IUT's role: `client` or `server`. The text lists only its cases and items unless
    /// asked for all; the JSON always has every case and item.
    pub role: String,
    /// The IUT-facing endpoints of the suite for this ICS (port [`UNBOUND_PORT`] where the
    /// system chooses it when the run starts).
    ///
    /// [`UNBOUND_PORT`]: crate::peers::endpoints::UNBOUND_PORT
    pub endpoints: Endpoints,
    /// Every SCR table: in (implemented) or out, and why.
    pub tables: Vec<PlannedTable>,
    /// The ICS capabilities (device facts) of the IUT's role and binding.
    pub capabilities: Vec<PlannedCapability>,
    /// `[pixit.mo]` values (client IUT): what the cases address and send into the tree.
    pub pixit: Vec<PlannedPixit>,
    pub cases: Vec<PlannedCase>,
    pub items: Vec<PlannedItem>,
}

/// Whether a case applies to the IUT of `ics`, and why.
pub fn case_applicability(case: &Case, ics: &Ics, reg: &Registry) -> (bool, String) {
    if case.role != ics.iut.role {
        return (false, format!("tests a {} IUT; the IUT is a {}", case.role, ics.iut.role));
    }
    if crate::binding::family_of(&case.binding) != ics.iut.binding {
        return (false, format!("speaks binding {}; the IUT speaks {} ([iut] binding)", case.binding, ics.iut.binding));
    }
    // A case about tables the IUT does not implement has nothing to judge. (A case covering
    // an implemented table too runs; its items of the other table stay not applicable.)
    let mut tables: Vec<&ScrTable> = Vec::new();
    let own = case.covers.iter().filter(|id| !case.variant_covers.contains(id));
    for t in own.filter_map(|id| reg.get(id)).filter_map(|i| reg.table_of(i)) {
        if !tables.iter().any(|k| k.id == t.id) {
            tables.push(t);
        }
    }
    if !tables.is_empty() && tables.iter().all(|t| !ics.implements_table(t).0) {
        let why: Vec<String> =
            tables.iter().map(|t| format!("table {} {}", t.label(), ics.implements_table(t).1)).collect();
        return (false, format!("covers only items of tables the IUT does not implement: {}", why.join("; ")));
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
    let cases: Vec<PlannedCase> = cat
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
                pixit: c.pixit.clone(),
            }
        })
        .collect();
    let items = ics
        .item_applicability(reg)
        .into_iter()
        .map(|a| {
            let item = reg.get(&a.id);
            let status = item.map(|i| i.status.to_string()).unwrap_or_default();
            let table = item.map(|i| i.table.clone()).unwrap_or_default();
            let role = item.map(|i| i.role.to_string()).unwrap_or_default();
            // Only the cases of the IUT's protocol: a table of both bindings (FUMO, SCOMO, GWMO)
            // has cases of the other one, which never run against this IUT.
            let cases = cat
                .cases
                .iter()
                .filter(|c| crate::binding::family_of(&c.binding) == ics.iut.binding)
                .filter(|c| c.covers.contains(&a.id))
                .map(|c| c.id.clone())
                .collect();
            PlannedItem { id: a.id, role, table, status, applicable: a.applicable, reason: a.reason, cases }
        })
        .collect();
    let tables = ics
        .table_applicability(reg)
        .into_iter()
        .zip(reg.tables())
        .map(|(a, t)| PlannedTable {
            id: a.id,
            title: t.title.clone(),
            provenance: t.provenance.to_string(),
            source: format!("{}, {}", t.source, t.section),
            implemented: a.implemented,
            reason: a.reason,
        })
        .collect();
    let capabilities = reg
        .capabilities_of(ics.iut.role, &ics.iut.binding)
        .into_iter()
        .map(|c| {
            let (holds, reason) = ics.capability_answer(c);
            let source = match ics.support.get(&c.id) {
                Some(_) => "ics",
                None if reason.contains("default") => "default",
                None => "reference",
            };
            let cases = cat
                .cases
                .iter()
                .filter(|k| k.applies_expr.as_ref().is_some_and(|e| e.atoms().contains(&c.id.as_str())))
                .map(|k| k.id.clone())
                .collect();
            PlannedCapability {
                id: c.id.clone(),
                question: c.question.clone(),
                holds,
                source: source.into(),
                reason,
                cases,
            }
        })
        .collect();
    let pixit = if ics.iut.role == crate::scr::Role::Client { planned_mo(ics, &cases) } else { Vec::new() };
    Plan {
        iut: format!("{} {} {} ({})", ics.iut.vendor, ics.iut.product, ics.iut.version, ics.iut.role),
        role: ics.iut.role.to_string(),
        endpoints: Endpoints::for_ics(ics),
        tables,
        capabilities,
        pixit,
        cases,
        items,
    }
}

/// The declared `[pixit.mo]` values, then any other the ICS gives or a case needs.
fn planned_mo(ics: &Ics, cases: &[PlannedCase]) -> Vec<PlannedPixit> {
    use crate::ics::mo::MO_PIXIT;
    let needing = |name: &str| -> Vec<String> {
        cases.iter().filter(|c| c.runs && c.pixit.iter().any(|p| p == name)).map(|c| c.id.clone()).collect()
    };
    let entry = |key: &str, about: &str| {
        let name = format!("mo.{key}");
        let value = ics.pixit.mo.get(key).map(|v| v.to_text());
        let source = match (&value, ics.pixit.mo_defaults.contains(key)) {
            (None, _) => "none",
            (Some(_), true) => "default",
            (Some(_), false) => "ics",
        };
        let cases = needing(&name);
        PlannedPixit { name, value, source: source.into(), about: about.into(), cases }
    };
    let mut out: Vec<PlannedPixit> = MO_PIXIT.iter().map(|p| entry(p.key, p.about)).collect();
    let mut others: Vec<String> = ics.pixit.mo.keys().filter(|k| crate::ics::mo::param(k).is_none()).cloned().collect();
    for c in cases {
        for p in c.pixit.iter().filter_map(|p| p.strip_prefix("mo.")) {
            if crate::ics::mo::param(p).is_none() && !others.iter().any(|o| o == p) {
                others.push(p.to_string());
            }
        }
    }
    others.sort();
    out.extend(others.iter().map(|k| entry(k, "not a value the shipped cases use")));
    out
}

impl Plan {
    /// The text of `dmcts plan`: the cases and SCR items of the IUT's role, or with `all` those
    /// of the other role too (else one line says how many are not shown).
    pub fn render(&self, all: bool) -> String {
        let mut s = format!("Plan for {}\n\n", self.iut);
        s.push_str(&self.endpoints.render("Endpoints to configure the IUT with before the first case"));
        s.push_str("\nSCR tables:\n");
        for t in &self.tables {
            s.push_str(&format!(
                "  {} {:<12} {} ({})\n      {}\n",
                if t.implemented { "IN " } else { "OUT" },
                t.id,
                t.title,
                t.provenance,
                t.reason
            ));
        }
        let implemented = self.tables.iter().filter(|t| t.implemented).count();
        s.push_str(&format!(
            "\n{implemented} of {} tables are implemented; only their items can apply.\n",
            self.tables.len()
        ));
        if !self.capabilities.is_empty() {
            s.push_str("\nICS capabilities (device facts; cases that need one are not applicable without it):\n");
            for c in &self.capabilities {
                let marker = if c.source == "default" { " (default)" } else { "" };
                s.push_str(&format!("  {:<5} {}{marker}\n      {}\n", c.holds, c.id, c.question));
                s.push_str(&format!("      {}\n", c.reason));
                if !c.cases.is_empty() {
                    s.push_str(&format!("      cases: {}\n", c.cases.join(", ")));
                }
            }
        }
        if !self.pixit.is_empty() {
            s.push_str("\nPIXIT [pixit.mo] (what client cases address and send into the tree):\n");
            for p in &self.pixit {
                let value = match (&p.value, p.source.as_str()) {
                    (Some(v), "default") => format!("{v} (default)"),
                    (Some(v), _) => v.clone(),
                    (None, _) => "(no value; no default)".to_string(),
                };
                s.push_str(&format!("  {:<20} {value}\n      {}\n", p.name, p.about));
                if !p.cases.is_empty() {
                    s.push_str(&format!("      needed by: {}\n", p.cases.join(", ")));
                }
            }
        }
        s.push_str("\nCases:\n");
        let runs = self.cases.iter().filter(|c| c.runs).count();
        let shown = |role: &str| all || role == self.role;
        for c in self.cases.iter().filter(|c| shown(&c.role)) {
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
        s.push_str(&self.hidden("cases", self.cases.iter().map(|c| c.role.as_str()), all));
        s.push_str(&format!("\n{runs} of {} cases will run.\n\nSCR items:\n", self.cases.len()));
        for i in self.items.iter().filter(|i| shown(&i.role)) {
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
        s.push_str(&self.hidden("SCR items", self.items.iter().map(|i| i.role.as_str()), all));
        s
    }

    /// "24 cases of the client role not shown: --all", for what the text leaves out.
    fn hidden<'a>(&self, what: &str, roles: impl Iterator<Item = &'a str>, all: bool) -> String {
        let mut others: Vec<&str> = roles.filter(|r| !all && *r != self.role).collect();
        let n = others.len();
        others.sort_unstable();
        others.dedup();
        if n == 0 {
            return String::new();
        }
        format!("  {n} {what} of the {} role not shown: --all\n", others.join("/"))
    }
}

/// Coverage inputs from applicability results.
pub fn coverage_inputs(reg: &Registry, applicability: &[crate::ics::Applicability]) -> Vec<CoverageItemInput> {
    reg.items()
        .iter()
        .map(|item| {
            let a = applicability.iter().find(|a| a.id == item.id);
            let table = reg.table_of(item);
            CoverageItemInput {
                id: item.id.clone(),
                role: item.role.to_string(),
                status: item.status.to_string(),
                function: item.function.clone(),
                applicable: a.is_some_and(|a| a.applicable),
                reason: a.map(|a| a.reason.clone()).unwrap_or_else(|| "no applicability computed".into()),
                table: item.table.clone(),
                table_title: table.map(|t| t.title.clone()).unwrap_or_default(),
                provenance: item.provenance.to_string(),
                table_source: table.map(|t| t.source.clone()).unwrap_or_default(),
                table_section: table.map(|t| t.section.clone()).unwrap_or_default(),
                source: item.source(),
            }
        })
        .collect()
}
