//! Applicability: whether each SCR item and each case's `applies_if` holds for the IUT of an
//! ICS, with a reason a human can check before any traffic is sent.
use super::{Applicability, Ics, TableApplicability};
use crate::scr::{Capability, Expr, Registry, ScrItem, ScrTable, Status};
use std::collections::BTreeMap;

impl Ics {
    /// Whether the IUT implements `table`, and why, as a phrase following "table <label>":
    /// the base tables of the IUT's binding are implied, other tables of its binding are
    /// implemented when `[iut] implements` names them, tables of other bindings never are.
    pub fn implements_table(&self, table: &ScrTable) -> (bool, String) {
        let binding = &self.iut.binding;
        if !table.has_binding(binding) {
            return (
                false,
                format!(
                    "is not implemented: it is a table of binding {}; the IUT's binding is {binding}",
                    table.bindings.join(", ")
                ),
            );
        }
        if self.iut.implements.iter().any(|t| t == &table.id) {
            return (true, "is implemented: named in [iut] implements".into());
        }
        if table.base {
            return (
                true,
                format!("is implemented: a base table of binding {binding}, implied for every {binding} IUT"),
            );
        }
        (false, "is not implemented: not named in [iut] implements".into())
    }

    /// Whether the IUT implements each SCR table, in table order.
    pub fn table_applicability(&self, reg: &Registry) -> Vec<TableApplicability> {
        reg.tables()
            .iter()
            .map(|t| {
                let (implemented, why) = self.implements_table(t);
                TableApplicability { id: t.id.clone(), implemented, reason: format!("table {} {why}", t.label()) }
            })
            .collect()
    }

    /// The table of `item` when the IUT does not implement it, with the reason.
    fn unimplemented_table(&self, item: &ScrItem, reg: &Registry) -> Option<String> {
        let table = reg.table_of(item)?;
        match self.implements_table(table) {
            (true, _) => None,
            (false, why) => Some(format!("table {} {why}", table.label())),
        }
    }

    /// The declared answer for an optional item (None: not declared).
    /// Whether the ICS answers "supported" for an optional SCR item or `ICS-*` capability.
    pub fn declares_supported(&self, id: &str) -> bool {
        self.declared(id) == Some(true)
    }

    fn declared(&self, id: &str) -> Option<bool> {
        if self.all_optional_supported {
            return Some(self.support.get(id).copied().unwrap_or(true));
        }
        self.support.get(id).copied()
    }

    /// Applicability of every SCR item of both roles, in table order.
    pub fn item_applicability(&self, reg: &Registry) -> Vec<Applicability> {
        let mut memo = BTreeMap::new();
        reg.items()
            .iter()
            .map(|item| {
                let (applicable, reason) = self.item_verdict(item, reg, &mut memo, &mut Vec::new());
                Applicability { id: item.id.clone(), applicable, reason }
            })
            .collect()
    }

    /// Whether `item` applies, and why; `stack` guards against cycles (the registry rejects
    /// them, but an item table built by hand might not).
    fn item_verdict(
        &self,
        item: &ScrItem,
        reg: &Registry,
        memo: &mut BTreeMap<String, (bool, String)>,
        stack: &mut Vec<String>,
    ) -> (bool, String) {
        if let Some(v) = memo.get(&item.id) {
            return v.clone();
        }
        if stack.contains(&item.id) {
            return (false, format!("dependency cycle through {}", item.id));
        }
        let role = self.iut.role;
        let result = if let Some(why) = self.unimplemented_table(item, reg) {
            (false, why)
        } else if item.role != role {
            (false, format!("{} item; the IUT is a {role}", item.role))
        } else {
            let (base_ok, base) = match item.status {
                Status::M => (true, "mandatory".to_string()),
                Status::O => match self.declared(&item.id) {
                    Some(true) if self.all_optional_supported => {
                        (true, "optional, supported by the reference implementation".into())
                    }
                    Some(true) => (true, "optional, declared supported in the ICS".into()),
                    Some(false) => (false, "optional, declared not supported in the ICS".into()),
                    None => (false, "optional, not declared in the ICS (treated as not supported)".into()),
                },
            };
            match (&item.requires, base_ok) {
                (Some(expr), true) => {
                    stack.push(item.id.clone());
                    let mut phrases: BTreeMap<String, (bool, String)> = BTreeMap::new();
                    let (holds, deciding) = expr.eval_deciding(&mut |atom| {
                        let v = self.atom_phrase(atom, reg, memo, stack);
                        let ok = v.0;
                        phrases.insert(atom.to_string(), v);
                        ok
                    });
                    stack.pop();
                    let reason = if let Expr::Atom(a) = expr {
                        format!(
                            "{base}, conditional on {a}, which {}",
                            phrases.get(a).map(|p| p.1.as_str()).unwrap_or("?")
                        )
                    } else {
                        let why: Vec<String> = deciding
                            .iter()
                            .map(|a| format!("{a} {}", phrases.get(a).map(|p| p.1.as_str()).unwrap_or("?")))
                            .collect();
                        format!(
                            "{base}, conditional on {expr}, which {}{}{}",
                            if holds { "holds" } else { "does not hold" },
                            if why.is_empty() { "" } else { ": " },
                            why.join("; ")
                        )
                    };
                    (holds, reason)
                }
                _ => (base_ok, base),
            }
        };
        memo.insert(item.id.clone(), result.clone());
        result
    }

    /// Whether an SCR atom of a `requires` expression holds, as a phrase following "which".
    fn atom_phrase(
        &self,
        atom: &str,
        reg: &Registry,
        memo: &mut BTreeMap<String, (bool, String)>,
        stack: &mut Vec<String>,
    ) -> (bool, String) {
        let Some(dep) = reg.get(atom) else {
            return (false, "is not an SCR item".into());
        };
        let (ok, why) = self.item_verdict(dep, reg, memo, stack);
        if let Some(table) = reg.table_of(dep).filter(|t| !self.implements_table(t).0) {
            return (ok, format!("is in table {}, which the IUT does not implement", table.label()));
        }
        let phrase = match (dep.role == self.iut.role, dep.status, ok, self.declared(atom)) {
            (false, ..) => format!("is a {} item, not applicable to a {} IUT", dep.role, self.iut.role),
            (true, Status::O, true, _) if self.all_optional_supported => {
                "the reference implementation supports".to_string()
            }
            (true, Status::O, true, _) => "the ICS declares supported".into(),
            (true, Status::O, false, Some(false)) => "the ICS declares not supported".into(),
            (true, Status::O, false, None) => "the ICS does not declare (treated as not supported)".into(),
            (true, _, true, _) => "is applicable".into(),
            (true, _, false, _) => format!("is not applicable ({why})"),
        };
        (ok, phrase)
    }

    /// Whether a declared capability holds for the IUT, and why, as a phrase following its id:
    /// the ICS's answer, else its default (with why the default is what it is).
    pub fn capability_answer(&self, cap: &Capability) -> (bool, String) {
        match self.support.get(&cap.id) {
            Some(true) => (true, "declared true in the ICS".into()),
            Some(false) => (false, "declared false in the ICS".into()),
            None if self.all_optional_supported => (true, "the reference implementation has it".into()),
            None => (cap.default, format!("not answered in the ICS: {} by default ({})", cap.default, cap.default_why)),
        }
    }

    /// Evaluates a case's `applies_if`: SCR ids hold iff the item is applicable, capability ids
    /// per [`Ics::capability_answer`], other ids (the catalog rejects them) iff declared true in
    /// `[support]`. The reason names the deciding atoms.
    pub fn eval_applies_if(&self, expr: &Expr, reg: &Registry) -> (bool, String) {
        let applicability: BTreeMap<String, (bool, String)> = {
            let mut memo = BTreeMap::new();
            for a in expr.atoms() {
                if let Some(item) = reg.get(a) {
                    self.item_verdict(item, reg, &mut memo, &mut Vec::new());
                }
            }
            memo
        };
        let mut phrases: BTreeMap<String, String> = BTreeMap::new();
        let (holds, deciding) = expr.eval_deciding(&mut |atom| {
            let (ok, phrase) = if let Some((ok, why)) = applicability.get(atom) {
                (*ok, format!("{} ({why})", if *ok { "applicable" } else { "not applicable" }))
            } else if let Some(cap) = reg.capability(atom) {
                self.capability_answer(cap)
            } else {
                match self.support.get(atom) {
                    Some(true) => (true, "declared true in the ICS".to_string()),
                    Some(false) => (false, "declared false in the ICS".to_string()),
                    None => (false, "not declared in the ICS (treated as false)".to_string()),
                }
            };
            phrases.insert(atom.to_string(), phrase);
            ok
        });
        let why: Vec<String> = deciding.iter().map(|a| format!("{a} {}", phrases[a])).collect();
        let reason = match (holds, why.is_empty()) {
            (true, true) => "holds (constant)".to_string(),
            (false, true) => "does not hold (constant)".to_string(),
            (true, false) => format!("holds: {}", why.join("; ")),
            (false, false) => format!("does not hold: {}", why.join("; ")),
        };
        (holds, reason)
    }
}
