//! Validating cases once loaded: ids, SCR items (existing, of the case's role), steps (through
//! each step kind's own validation), checks (built-ins and their arguments through the check
//! registry of the case's binding), resources, reference faults and `applies_if`.
use super::check::CheckKind;
use super::{Case, CatalogError};
use crate::binding::{self, Binding};
use crate::runner::checks::{builtin_infos, find_builtin};
use crate::runner::steps::{Validation, ENDPOINTS};
use crate::scr::{Expr, Registry};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

fn valid_case_id(id: &str) -> bool {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^TC-[A-Z0-9]+(-[A-Z0-9]+)*-[0-9]{3}$").expect("static regex")).is_match(id)
}

pub(super) fn validate(
    cases: &mut [Case],
    registry: &Registry,
    bindings: &[Arc<dyn Binding>],
    errors: &mut Vec<CatalogError>,
) {
    let faults: Vec<String> = crate::reference::faults::catalog().iter().map(|f| f.name.to_string()).collect();
    let mut seen: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    for case in cases.iter_mut() {
        let Some(binding) = binding::find(bindings, &case.binding) else { continue };
        validate_case(case, registry, binding.as_ref(), &faults, &mut seen, errors);
    }
}

fn validate_case(
    case: &mut Case,
    registry: &Registry,
    binding: &dyn Binding,
    faults: &[String],
    seen: &mut BTreeMap<String, (PathBuf, usize)>,
    errors: &mut Vec<CatalogError>,
) {
    let id = case.id.clone();
    let (file, line) = (case.file.clone(), case.line);
    let mut err =
        |f: &PathBuf, l: usize, msg: String| errors.push(CatalogError { file: f.clone(), line: l, message: msg });
    if !valid_case_id(&id) {
        err(&file, line, format!("case id {id:?}: expected TC-<GROUP>[-<GROUP>...]-<3 digits>, e.g. TC-DMC-P0-001"));
    }
    if let Some((f, l)) = seen.get(&id) {
        err(&file, line, format!("duplicate case id {id}: already declared at {}:{l}", f.display()));
    } else {
        seen.insert(id.clone(), (file.clone(), line));
    }
    if case.covers.is_empty() {
        err(&file, line, format!("case {id} covers nothing: name the SCR items it verifies in `covers`"));
    }
    let role = case.role;
    let scr_problem = |scr: &str| match registry.get(scr) {
        None => Some(format!("names unknown SCR item {scr}")),
        Some(item) if item.role != role => {
            Some(format!("names {scr}, a {} item, but the case tests a {role} IUT", item.role))
        }
        Some(_) => None,
    };
    for c in &case.covers {
        if let Some(p) = scr_problem(c) {
            err(&file, line, format!("case {id}: covers {p}"));
        }
    }
    if let Some(p) = case.encoding_scr.as_deref().and_then(scr_problem) {
        err(&file, line, format!("case {id}: encoding_scr {p}"));
    }
    if case.steps.is_empty() {
        err(&file, line, format!("case {id} has no steps"));
    }
    for (i, step) in case.steps.iter().enumerate() {
        let n = i + 1;
        let origin = &case.origins[i];
        let at = format!("case {id} step {n} ({}){}", step.kind(), origin.via_text());
        let mut v = Validation { role, binding, problems: Vec::new() };
        step.validate(&mut v);
        for s in step.scr_refs() {
            if let Some(p) = scr_problem(s) {
                v.problem(p);
            }
        }
        if step.inferred().is_some_and(|w| w.trim().is_empty()) {
            v.problem("`inferred` says why the requirement is read so; it is empty");
        }
        for c in step.checks() {
            if let Some(p) = scr_problem(&c.scr) {
                v.problem(format!("check {}: {p}", c.kind.label()));
            }
            if c.relies_on.as_ref().is_some_and(|r| r.pixit.trim().is_empty() || r.pixit.starts_with("pixit.")) {
                v.problem(format!(
                    "check {}: relies_on.pixit names a PIXIT value as ${{pixit.X}} does, without `pixit.` (e.g. \"mo.exec_uri\")",
                    c.kind.label()
                ));
            }
            if c.inferred.as_deref().is_some_and(|w| w.trim().is_empty()) {
                v.problem(format!(
                    "check {}: `inferred` says why the requirement is read so; it is empty",
                    c.kind.label()
                ));
            }
            check_kind_problems(&c.kind, binding).into_iter().for_each(|p| v.problem(p));
        }
        for p in v.problems {
            err(&origin.file, origin.line, format!("{at}: {p}"));
        }
    }
    for r in &case.resources {
        if !ENDPOINTS.contains(&r.endpoint.as_str()) {
            err(&file, line, format!("case {id}: resource {} on unknown endpoint {:?}", r.path, r.endpoint));
        }
        let mut v = Validation { role, binding, problems: Vec::new() };
        r.answer.validate(&mut v);
        for p in v.problems {
            err(&file, line, format!("case {id}: resource {}: {p}", r.path));
        }
    }
    for f in &case.detects {
        if !faults.iter().any(|k| k == f) {
            err(
                &file,
                line,
                format!("case {id}: detects unknown reference fault {f:?} (see `dmcts reference faults`)"),
            );
        }
    }
    match case.applies_if.as_deref().map(Expr::parse) {
        Some(Ok(e)) => {
            // Every atom is an SCR item or a declared capability: an unknown id would silently
            // count as "not supported" and the case would never run.
            for atom in e.atoms() {
                let problem = match (registry.get(atom), registry.capability(atom)) {
                    (Some(_), _) => None,
                    (None, Some(c)) if c.role == role && c.has_binding(binding.family()) => None,
                    (None, Some(c)) => Some(format!(
                        "names capability {atom}, of a {} IUT of binding(s) {}; the case tests a {} {role} IUT",
                        c.role,
                        c.bindings.join(", "),
                        binding.family()
                    )),
                    (None, None) => {
                        let known: Vec<&str> =
                            registry.capabilities_of(role, binding.family()).iter().map(|c| c.id.as_str()).collect();
                        Some(format!(
                            "names {atom}, which is neither an SCR item nor a declared ICS capability (declare it \
                             as a [[capability]] next to the SCR tables); capabilities of a {} {role}: {}",
                            binding.family(),
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ))
                    }
                };
                if let Some(p) = problem {
                    err(&file, line, format!("case {id}: applies_if {p}"));
                }
            }
            case.applies_expr = Some(e)
        }
        Some(Err(e)) => err(&file, line, format!("case {id}: applies_if: {e}")),
        None => {}
    }
}

/// What is wrong with a check's kind (an unknown built-in, bad arguments, a bad regex), for the
/// catalog; step kinds use it for checks they hold outside `checks` (e.g. `contract`).
pub fn check_kind_problems(kind: &CheckKind, binding: &dyn Binding) -> Vec<String> {
    match kind {
        CheckKind::Builtin { name, args } => match find_builtin(binding, name) {
            None => {
                let names: Vec<&str> = builtin_infos(binding).iter().map(|b| b.name).collect();
                vec![format!(
                    "unknown built-in check {name:?} for binding {}; known: {}",
                    binding.family(),
                    names.join(", ")
                )]
            }
            Some(info) => info.validate(args),
        },
        CheckKind::JsonMatches { regex, .. } => match regex::Regex::new(regex) {
            Err(e) => vec![format!("invalid regex {regex:?}: {e}")],
            Ok(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}
