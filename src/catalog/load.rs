//! Reading case files: `[defaults]`, `[[fixture]]` and `[[case]]` tables; applying defaults;
//! expanding prologues and `kind = "use"` steps into the fixtures' steps, with `${param.NAME}`
//! replaced by the `with` values; then typing every step. Errors name the file and line of the
//! step concerned (in the fixture's file for a fixture's step, saying where it was used).
use super::when::Condition;
use super::{line_of, Case, CatalogError, Step, StepOrigin};
use crate::binding::{self, Binding};
use crate::catalog::step::Resource;
use crate::scr::Role;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// How deep fixtures may use fixtures (a cycle is an error, not a hang).
const MAX_FIXTURE_DEPTH: usize = 8;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: Option<Defaults>,
    #[serde(rename = "case", default)]
    cases: Vec<Spanned<RawCase>>,
    #[serde(rename = "fixture", default)]
    fixtures: Vec<Spanned<RawFixture>>,
}

/// `[defaults]`: what every case of the file has unless it says otherwise.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct Defaults {
    /// The protocol binding (default "dm2").
    #[serde(default)]
    binding: Option<String>,
    #[serde(default)]
    role: Option<Role>,
    /// PIXIT values every case needs (a case's own are added).
    #[serde(default)]
    pixit: Vec<String>,
    /// Fixtures (without parameters) run before each case's own steps.
    #[serde(default)]
    prologue: Vec<String>,
    /// Every case of the file again in each of these variants (DM 1.2: the same exchange in
    /// WBXML), with its own id, binding, applicability and items.
    #[serde(default, rename = "variant")]
    variants: Vec<Variant>,
}

/// `[[defaults.variant]]`: a copy of every case of the file speaking another binding of the
/// same protocol: id `<id>-<suffix>`, `applies_if` joined with `and`, `covers` extended.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct Variant {
    binding: String,
    suffix: String,
    #[serde(default)]
    applies_if: Option<String>,
    #[serde(default)]
    covers: Vec<String>,
    /// The item a message not in the variant's encoding violates (see `Case::encoding_scr`).
    #[serde(default)]
    encoding_scr: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: String,
    title: String,
    purpose: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    binding: Option<String>,
    #[serde(default)]
    covers: Vec<String>,
    #[serde(default)]
    applies_if: Option<String>,
    #[serde(default)]
    pixit: Vec<String>,
    #[serde(default)]
    detects: Vec<String>,
    #[serde(default)]
    resources: Vec<Resource>,
    /// What the suite's download server serves during the case (DLOTA descriptors, packages).
    #[serde(default)]
    download: Option<crate::peers::download::DownloadConfig>,
    /// Faults only a variant of the case detects, by the variant's suffix (a WBXML defect is
    /// caught by the `-WBXML` variant alone).
    #[serde(default)]
    variant_detects: BTreeMap<String, Vec<String>>,
    /// See `Case::encoding_scr`; a variant sets its own.
    #[serde(default)]
    encoding_scr: Option<String>,
    /// Set by the loader for a variant (never in a file): see `Case::variant_covers`.
    #[serde(skip)]
    variant_covers: Vec<String>,
    /// Overrides the file's prologue (`[]`: none).
    #[serde(default)]
    prologue: Option<Vec<String>>,
    #[serde(default)]
    steps: Vec<Spanned<toml::Value>>,
}

/// `[[fixture]]`: a named, reusable sequence of steps, parameterised by `${param.NAME}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    name: String,
    #[serde(default)]
    about: Option<String>,
    /// The parameters a `use` step must give in `with`.
    #[serde(default)]
    params: Vec<String>,
    steps: Vec<Spanned<toml::Value>>,
}

/// A step still as TOML, with where it was written.
#[derive(Clone)]
struct RawStep {
    value: toml::Value,
    origin: StepOrigin,
}

struct Fixture {
    params: Vec<String>,
    steps: Vec<RawStep>,
    file: PathBuf,
    line: usize,
}

fn err(file: &Path, line: usize, message: impl Into<String>) -> CatalogError {
    CatalogError { file: file.to_path_buf(), line, message: message.into() }
}

fn raw_steps(steps: Vec<Spanned<toml::Value>>, file: &Path, src: &str) -> Vec<RawStep> {
    steps
        .into_iter()
        .map(|s| {
            let line = line_of(src, s.span().start);
            RawStep { value: s.into_inner(), origin: StepOrigin { file: file.to_path_buf(), line, via: Vec::new() } }
        })
        .collect()
}

struct ParsedCase {
    raw: RawCase,
    steps: Vec<RawStep>,
    defaults: Defaults,
    file: PathBuf,
    line: usize,
}

/// Parses every source; returns the cases (typed, not yet validated against the registry),
/// the catalog digest and the errors found.
pub(super) fn load(
    sources: &[(PathBuf, String)],
    bindings: &[Arc<dyn Binding>],
) -> (Vec<Case>, String, Vec<CatalogError>) {
    let mut errors = Vec::new();
    let mut hasher = Sha256::new();
    let mut parsed: Vec<ParsedCase> = Vec::new();
    let mut fixtures: BTreeMap<String, Fixture> = BTreeMap::new();
    for (file, src) in sources {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(src.as_bytes());
        let raw: RawFile = match toml::from_str(src) {
            Ok(r) => r,
            Err(e) => {
                let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(1);
                errors.push(err(file, line, e.message().trim()));
                continue;
            }
        };
        if raw.cases.is_empty() && raw.fixtures.is_empty() {
            errors.push(err(file, 1, "no [[case]] or [[fixture]] tables: a case file must declare at least one"));
        }
        for f in raw.fixtures {
            let line = line_of(src, f.span().start);
            let f = f.into_inner();
            if let Some(prev) = fixtures.get(&f.name) {
                errors.push(err(
                    file,
                    line,
                    format!(
                        "duplicate fixture {:?}: already declared at {}:{}",
                        f.name,
                        prev.file.display(),
                        prev.line
                    ),
                ));
                continue;
            }
            let steps = raw_steps(f.steps, file, src);
            let _ = f.about;
            fixtures.insert(f.name, Fixture { params: f.params, steps, file: file.clone(), line });
        }
        let defaults = raw.defaults.unwrap_or_default();
        for c in raw.cases {
            let line = line_of(src, c.span().start);
            let mut c = c.into_inner();
            let steps = raw_steps(std::mem::take(&mut c.steps), file, src);
            let original = c.clone();
            let variant_steps = steps.clone();
            parsed.push(ParsedCase { raw: c, steps, defaults: defaults.clone(), file: file.clone(), line });
            for v in &defaults.variants {
                let mut vc = original.clone();
                // The suffix is one more group before the number: TC-DM12C-SES-001 → TC-DM12C-SES-WBXML-001.
                vc.id = match original.id.rsplit_once('-') {
                    Some((head, n)) => format!("{head}-{}-{n}", v.suffix),
                    None => format!("{}-{}", original.id, v.suffix),
                };
                vc.binding = Some(v.binding.clone());
                vc.encoding_scr = v.encoding_scr.clone().or(vc.encoding_scr);
                vc.applies_if = match (&original.applies_if, &v.applies_if) {
                    (Some(a), Some(b)) => Some(format!("({a}) and {b}")),
                    (a, b) => a.clone().or(b.clone()),
                };
                vc.variant_covers = v.covers.iter().filter(|x| !original.covers.contains(x)).cloned().collect();
                vc.covers.extend(vc.variant_covers.clone());
                vc.title = format!("{} ({})", original.title, v.suffix);
                vc.detects.extend(original.variant_detects.get(&v.suffix).cloned().unwrap_or_default());
                parsed.push(ParsedCase {
                    raw: vc,
                    steps: variant_steps.clone(),
                    defaults: defaults.clone(),
                    file: file.clone(),
                    line,
                });
            }
        }
    }
    let mut cases = Vec::new();
    for p in parsed {
        if let Some(c) = build_case(p, &fixtures, bindings, &mut errors) {
            cases.push(c);
        }
    }
    (cases, hex::encode(hasher.finalize()), errors)
}

fn build_case(
    p: ParsedCase,
    fixtures: &BTreeMap<String, Fixture>,
    bindings: &[Arc<dyn Binding>],
    errors: &mut Vec<CatalogError>,
) -> Option<Case> {
    let ParsedCase { raw, steps, defaults, file, line } = p;
    let id = raw.id.clone();
    let mut ok = true;
    let role = raw.role.or(defaults.role);
    if role.is_none() {
        errors.push(err(&file, line, format!("case {id}: no role: set `role` in the case or in [defaults]")));
        ok = false;
    }
    let binding_name =
        raw.binding.clone().or(defaults.binding.clone()).unwrap_or_else(|| binding::DEFAULT_BINDING.to_string());
    if binding::find(bindings, &binding_name).is_none() {
        let known: Vec<&str> = bindings.iter().map(|b| b.name()).collect();
        errors.push(err(
            &file,
            line,
            format!("case {id}: unknown binding {binding_name:?}; known: {}", known.join(", ")),
        ));
        ok = false;
    }
    let mut pixit = defaults.pixit.clone();
    for x in raw.pixit {
        if !pixit.contains(&x) {
            pixit.push(x);
        }
    }
    for p in raw.download.as_ref().map(|d| d.problems()).unwrap_or_default() {
        errors.push(err(&file, line, format!("case {id}: [case.download]: {p}")));
        ok = false;
    }
    // The prologue, then the case's own steps, fixtures expanded.
    let prologue = raw.prologue.unwrap_or(defaults.prologue);
    let mut expanded = Vec::new();
    for name in &prologue {
        let mut t = toml::Table::new();
        t.insert("kind".into(), "use".into());
        t.insert("fixture".into(), name.clone().into());
        let use_step =
            RawStep { value: toml::Value::Table(t), origin: StepOrigin { file: file.clone(), line, via: Vec::new() } };
        match expand(use_step, fixtures, 0) {
            Ok(s) => expanded.extend(s),
            Err(e) => {
                errors.push(CatalogError { message: format!("case {id}: prologue: {}", e.message), ..e });
                ok = false;
            }
        }
    }
    for s in steps {
        match expand(s, fixtures, 0) {
            Ok(s) => expanded.extend(s),
            Err(e) => {
                errors.push(CatalogError { message: format!("case {id}: {}", e.message), ..e });
                ok = false;
            }
        }
    }
    let mut typed = Vec::new();
    let mut origins = Vec::new();
    let mut conditions = Vec::new();
    for (i, mut s) in expanded.into_iter().enumerate() {
        // `when` belongs to every step kind: taken out before the step is typed.
        let when = s.value.as_table_mut().and_then(|t| t.remove("when"));
        let when = match when.map(Condition::parse_all).transpose() {
            Ok(w) => w.unwrap_or_default(),
            Err(e) => {
                errors.push(err(
                    &s.origin.file,
                    s.origin.line,
                    format!("case {id} step {}{}: {e}", i + 1, s.origin.via_text()),
                ));
                ok = false;
                continue;
            }
        };
        match s.value.clone().try_into::<Step>() {
            Ok(step) => {
                typed.push(step);
                origins.push(s.origin);
                conditions.push(when);
            }
            Err(e) => {
                errors.push(err(
                    &s.origin.file,
                    s.origin.line,
                    format!("case {id} step {}{}: {}", i + 1, s.origin.via_text(), e.message().trim()),
                ));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    Some(Case {
        id,
        title: raw.title,
        purpose: raw.purpose,
        role: role?,
        binding: binding_name,
        covers: raw.covers,
        applies_if: raw.applies_if,
        pixit,
        detects: raw.detects,
        encoding_scr: raw.encoding_scr,
        variant_covers: raw.variant_covers,
        resources: raw.resources,
        download: raw.download,
        steps: typed,
        origins,
        conditions,
        file,
        line,
        applies_expr: None,
    })
}

/// Expands a `use` step into its fixture's steps (recursively); other steps stay as they are.
fn expand(step: RawStep, fixtures: &BTreeMap<String, Fixture>, depth: usize) -> Result<Vec<RawStep>, CatalogError> {
    let here = |msg: String| err(&step.origin.file, step.origin.line, msg);
    let Some(table) = step.value.as_table() else {
        return Err(here("a step is a table with a `kind`".into()));
    };
    if table.get("kind").and_then(toml::Value::as_str) != Some("use") {
        return Ok(vec![step]);
    }
    for k in table.keys() {
        if !matches!(k.as_str(), "kind" | "fixture" | "with" | "when") {
            return Err(here(format!("a `use` step has `fixture`, `with` and `when`, not `{k}`")));
        }
    }
    let Some(name) = table.get("fixture").and_then(toml::Value::as_str) else {
        return Err(here("a `use` step names its `fixture`".into()));
    };
    let Some(fixture) = fixtures.get(name) else {
        let known: Vec<&str> = fixtures.keys().map(String::as_str).collect();
        return Err(here(format!("unknown fixture {name:?}; known: {}", known.join(", "))));
    };
    if depth >= MAX_FIXTURE_DEPTH {
        return Err(here(format!("fixtures nest deeper than {MAX_FIXTURE_DEPTH} (a fixture that uses itself?)")));
    }
    let empty = toml::Table::new();
    let with = match table.get("with") {
        None => &empty,
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err(here("`with` is a table of parameter values".into())),
    };
    let missing: Vec<&str> = fixture.params.iter().filter(|p| !with.contains_key(*p)).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(here(format!("fixture {name} needs `with` values for {}", missing.join(", "))));
    }
    if let Some(extra) = with.keys().find(|k| !fixture.params.contains(k)) {
        return Err(here(format!(
            "fixture {name} has no parameter {extra:?}; its parameters: {}",
            if fixture.params.is_empty() { "none".to_string() } else { fixture.params.join(", ") }
        )));
    }
    let used_at = format!("fixture {name} used at {}:{}", step.origin.file.display(), step.origin.line);
    let mut out = Vec::new();
    for s in &fixture.steps {
        let value =
            substitute(&s.value, with).map_err(|m| err(&s.origin.file, s.origin.line, format!("{m} ({used_at})")))?;
        let mut origin = s.origin.clone();
        origin.via = step.origin.via.clone();
        origin.via.push(used_at.clone());
        out.extend(expand(RawStep { value, origin }, fixtures, depth + 1)?);
    }
    // The `use` step's conditions hold for every step it brings in, with their own.
    if let Some(when) = table.get("when") {
        for s in out.iter_mut() {
            add_when(&mut s.value, when);
        }
    }
    Ok(out)
}

/// Adds `when` (a condition table or an array of them) to a step's own conditions.
fn add_when(step: &mut toml::Value, when: &toml::Value) {
    let Some(t) = step.as_table_mut() else { return };
    let mut all = match t.remove("when") {
        Some(toml::Value::Array(a)) => a,
        Some(one) => vec![one],
        None => Vec::new(),
    };
    match when {
        toml::Value::Array(a) => all.extend(a.iter().cloned()),
        one => all.push(one.clone()),
    }
    t.insert("when".into(), toml::Value::Array(all));
}

/// Replaces `${param.NAME}`: a string that is exactly one such template takes the value itself
/// (arrays stay arrays); inside a longer string the value is spliced in as text.
fn substitute(v: &toml::Value, with: &toml::Table) -> Result<toml::Value, String> {
    const OPEN: &str = "${param.";
    Ok(match v {
        toml::Value::String(s) => {
            let t = s.trim();
            if t.starts_with(OPEN) && t.ends_with('}') && t.matches("${").count() == 1 {
                let name = &t[OPEN.len()..t.len() - 1];
                return with.get(name).cloned().ok_or_else(|| format!("unknown fixture parameter {name:?}"));
            }
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find(OPEN) {
                out.push_str(&rest[..i]);
                let after = &rest[i + OPEN.len()..];
                let end = after.find('}').ok_or_else(|| format!("unterminated ${{param.…}} in {s:?}"))?;
                let name = &after[..end];
                let value = with.get(name).ok_or_else(|| format!("unknown fixture parameter {name:?}"))?;
                match value {
                    toml::Value::String(x) => out.push_str(x),
                    other => out.push_str(&other.to_string()),
                }
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            toml::Value::String(out)
        }
        toml::Value::Array(a) => toml::Value::Array(a.iter().map(|x| substitute(x, with)).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => toml::Value::Table(
            t.iter().map(|(k, x)| Ok((k.clone(), substitute(x, with)?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}
