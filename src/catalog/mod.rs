//! The case catalog: test cases declared in TOML under `cases/`, validated at load.
//!
//! A case names the SCR items it verifies (`covers`), when it applies (`applies_if`, an
//! expression over the ICS), the PIXIT values it needs, the reference faults it must catch
//! (`detects`), static resources its endpoints serve, and its procedure as ordered steps.
pub mod check;
pub mod step;

use crate::scr::Expr;
use crate::scr::{Registry, Role};
use check::CheckKind;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
pub use step::{Answer, Resource, Step};

/// One test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Stable id, never reused (e.g. `TC-DMC-P0-001`).
    pub id: String,
    pub title: String,
    pub purpose: String,
    /// The IUT role this case tests.
    pub role: Role,
    /// SCR items this case verifies.
    pub covers: Vec<String>,
    /// Applicability over the ICS (SCR ids and ICS-* capabilities). Absent: always.
    #[serde(default)]
    pub applies_if: Option<String>,
    /// PIXIT values the case needs (dotted names, e.g. `notification.secret`).
    #[serde(default)]
    pub pixit: Vec<String>,
    /// Reference faults this case must catch (selftest).
    #[serde(default)]
    pub detects: Vec<String>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    pub steps: Vec<Step>,
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub line: usize,
    #[serde(skip)]
    pub applies_expr: Option<Expr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(rename = "case", default)]
    cases: Vec<toml::Spanned<Case>>,
}

/// A catalog error: file, line and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// All errors found while loading, so an author sees every problem at once.
#[derive(Debug, Clone)]
pub struct CatalogErrors(pub Vec<CatalogError>);

impl fmt::Display for CatalogErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogErrors {}

/// The loaded, validated catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub cases: Vec<Case>,
    /// SHA-256 over every case file (path and bytes), hex.
    pub digest: String,
}

/// 1-based line of a byte offset.
pub fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

fn toml_error(file: &Path, src: &str, e: &toml::de::Error) -> CatalogError {
    let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(1);
    CatalogError { file: file.to_path_buf(), line, message: e.message().trim().to_string() }
}

/// Every `*.toml` under `dir`, sorted, recursively.
pub fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Known upper-tester actions per IUT role (a typo in a case is a load error, not a run-time surprise).
fn known_actions(role: Role) -> &'static [&'static str] {
    use crate::upper_tester::action::*;
    match role {
        Role::Client => &[RESET, IDLE, SESSION_START, NOTIFICATION_DELIVER, ALERT_RAISE, CONFIG_REQUEST],
        Role::Server => &[RESET, IDLE, DEVICE_REGISTER, NOTIFICATION_SEND, COMMANDS_ENQUEUE, DEVICE_REPORT],
    }
}

const ENDPOINTS: &[&str] = &["dm", "cont", "repo", "browser", "async", "notify"];

impl Catalog {
    /// Loads every case file under `dir` and validates it against the SCR registry and the
    /// reference fault catalog.
    pub fn load_dir(dir: &Path, registry: &Registry) -> Result<Catalog, CatalogErrors> {
        let files = toml_files(dir).map_err(|e| {
            CatalogErrors(vec![CatalogError {
                file: dir.to_path_buf(),
                line: 0,
                message: format!("cannot read the case catalog folder: {e}"),
            }])
        })?;
        let mut sources = Vec::new();
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(s) => sources.push((f, s)),
                Err(e) => {
                    return Err(CatalogErrors(vec![CatalogError {
                        file: f,
                        line: 0,
                        message: format!("cannot read: {e}"),
                    }]))
                }
            }
        }
        Self::load_sources(&sources, registry)
    }

    /// Loads from (path, contents) pairs; used by tests and by `load_dir`.
    pub fn load_sources(sources: &[(PathBuf, String)], registry: &Registry) -> Result<Catalog, CatalogErrors> {
        let mut errors = Vec::new();
        let mut cases = Vec::new();
        let mut hasher = Sha256::new();
        for (file, src) in sources {
            hasher.update(file.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(src.as_bytes());
            match toml::from_str::<CaseFile>(src) {
                Ok(cf) => {
                    if cf.cases.is_empty() {
                        errors.push(CatalogError {
                            file: file.clone(),
                            line: 1,
                            message: "no [[case]] tables: a case file must declare at least one case".into(),
                        });
                    }
                    for sp in cf.cases {
                        let line = line_of(src, sp.span().start);
                        let mut case = sp.into_inner();
                        case.file = file.clone();
                        case.line = line;
                        cases.push(case);
                    }
                }
                Err(e) => errors.push(toml_error(file, src, &e)),
            }
        }
        let faults: Vec<String> = crate::reference::faults::catalog().iter().map(|f| f.name.to_string()).collect();
        let mut seen: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
        for case in &mut cases {
            validate_case(case, registry, &faults, &mut seen, &mut errors);
        }
        if errors.is_empty() {
            Ok(Catalog { cases, digest: hex::encode(hasher.finalize()) })
        } else {
            Err(CatalogErrors(errors))
        }
    }

    pub fn get(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// Ids of the cases covering `scr_id`.
    pub fn covering(&self, scr_id: &str) -> Vec<&str> {
        self.cases.iter().filter(|c| c.covers.iter().any(|s| s == scr_id)).map(|c| c.id.as_str()).collect()
    }
}

/// `listener`, `ut:<saved answer>` or `configured:<saved answer>`.
fn valid_notification_source(source: &str) -> bool {
    source == "listener"
        || source.strip_prefix("ut:").or(source.strip_prefix("configured:")).is_some_and(|name| !name.is_empty())
}

fn valid_case_id(id: &str) -> bool {
    let re = regex::Regex::new(r"^TC-[A-Z0-9]+(-[A-Z0-9]+)*-[0-9]{3}$").expect("static regex");
    re.is_match(id)
}

fn validate_case(
    case: &mut Case,
    registry: &Registry,
    faults: &[String],
    seen: &mut BTreeMap<String, (PathBuf, usize)>,
    errors: &mut Vec<CatalogError>,
) {
    let mut err = |msg: String| errors.push(CatalogError { file: case.file.clone(), line: case.line, message: msg });
    let id = case.id.clone();
    if !valid_case_id(&id) {
        err(format!("case id {id:?}: expected TC-<GROUP>[-<GROUP>...]-<3 digits>, e.g. TC-DMC-P0-001"));
    }
    if let Some((f, l)) = seen.get(&id) {
        err(format!("duplicate case id {id}: already declared at {}:{l}", f.display()));
    } else {
        seen.insert(id.clone(), (case.file.clone(), case.line));
    }
    if case.covers.is_empty() {
        err(format!("case {id} covers nothing: name the SCR items it verifies in `covers`"));
    }
    let check_scr = |scr: &str, what: &str, err: &mut dyn FnMut(String)| match registry.get(scr) {
        None => err(format!("case {id}: {what} names unknown SCR item {scr}")),
        Some(item) if item.role != case.role => {
            err(format!("case {id}: {what} names {scr}, a {} item, but the case tests a {} IUT", item.role, case.role))
        }
        Some(_) => {}
    };
    for c in &case.covers {
        check_scr(c, "covers", &mut err);
    }
    if case.steps.is_empty() {
        err(format!("case {id} has no steps"));
    }
    for (i, step) in case.steps.iter().enumerate() {
        let n = i + 1;
        for s in step.scr_refs() {
            check_scr(s, &format!("step {n} ({})", step.kind()), &mut err);
        }
        for c in step.checks() {
            check_scr(&c.scr, &format!("step {n} check"), &mut err);
            match &c.kind {
                CheckKind::Builtin { name, .. } if !check::is_builtin(name) => {
                    let names: Vec<&str> = check::BUILTINS.iter().map(|(n, _)| *n).collect();
                    err(format!("case {id} step {n}: unknown built-in check {name:?}; known: {}", names.join(", ")))
                }
                CheckKind::Builtin { name, args } if name == "status-codes" => {
                    let ok = args.get("codes").and_then(|v| v.as_array()).is_some_and(|codes| {
                        codes.iter().all(|c| match c {
                            toml::Value::Integer(i) => (100..600).contains(i),
                            toml::Value::String(s) => check::is_status_pattern(s),
                            _ => false,
                        })
                    });
                    if !ok {
                        err(format!(
                            "case {id} step {n}: status-codes needs args.codes, an array of status codes (100-599), \
                             \"*\" or a class such as \"2xx\""
                        ))
                    }
                }
                CheckKind::JsonMatches { regex, .. } => {
                    if let Err(e) = regex::Regex::new(regex) {
                        err(format!("case {id} step {n}: invalid regex {regex:?}: {e}"))
                    }
                }
                _ => {}
            }
        }
        match step {
            Step::Ut { action, .. } if !known_actions(case.role).contains(&action.as_str()) => err(format!(
                "case {id} step {n}: unknown upper-tester action {action:?} for a {} IUT; known: {}",
                case.role,
                known_actions(case.role).join(", ")
            )),
            Step::Await { endpoint, .. } if !ENDPOINTS.contains(&endpoint.as_str()) => {
                err(format!("case {id} step {n}: unknown endpoint {endpoint:?}; known: {}", ENDPOINTS.join(", ")))
            }
            Step::ExpectSilence { endpoint, .. } if endpoint != "any" && !ENDPOINTS.contains(&endpoint.as_str()) => {
                err(format!("case {id} step {n}: unknown endpoint {endpoint:?}; known: any, {}", ENDPOINTS.join(", ")))
            }
            Step::Send { package, .. } if *package != 1 && *package != 3 => {
                err(format!("case {id} step {n}: a DM client sends Package#1 or Package#3, not Package#{package}"))
            }
            Step::ExpectNotification { source, .. } if !valid_notification_source(source) => {
                err(format!(
                    "case {id} step {n}: source {source:?}: expected \"listener\", \"ut:<saved answer>\" or \"configured:<saved answer>\""
                ))
            }
            Step::Notify { .. } if case.role != Role::Client => {
                err(format!("case {id} step {n}: only a client IUT receives notifications from the suite"))
            }
            Step::Send { .. } | Step::ExpectNotification { .. } | Step::Report { .. } | Step::FinishSession { .. }
                if case.role != Role::Server =>
            {
                err(format!("case {id} step {n}: `{}` steps test a server IUT", step.kind()))
            }
            _ => {}
        }
    }
    for r in &case.resources {
        if !ENDPOINTS.contains(&r.endpoint.as_str()) {
            err(format!("case {id}: resource {} on unknown endpoint {:?}", r.path, r.endpoint));
        }
    }
    for f in &case.detects {
        if !faults.iter().any(|k| k == f) {
            err(format!("case {id}: detects unknown reference fault {f:?} (see `dmcts reference faults`)"));
        }
    }
    match case.applies_if.as_deref().map(Expr::parse) {
        Some(Ok(e)) => case.applies_expr = Some(e),
        Some(Err(e)) => err(format!("case {id}: applies_if: {e}")),
        None => {}
    }
}
