//! The case catalog: test cases declared in TOML under `cases/`, expanded and validated at load.
//!
//! A case names the SCR items it verifies (`covers`), when it applies (`applies_if`, an
//! expression over the ICS), the PIXIT values it needs, the reference faults it must catch
//! (`detects`), static resources its endpoints serve, and its procedure as ordered steps. A case
//! file may set `[defaults]` for its cases (binding, role, PIXIT, a prologue of fixtures), and
//! `[[fixture]]` tables name reusable step sequences a case runs with `kind = "use"`
//! ([`load`]). Everything a case names — SCR items, step kinds, built-in checks and their
//! arguments, endpoints, upper-tester actions, faults — is checked at load ([`validate`]).
pub mod check;
mod load;
pub mod step;
mod validate;
pub mod when;

use crate::binding::Binding;
use crate::scr::Expr;
use crate::scr::{Registry, Role};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
pub use step::{Answer, Resource, Step};
pub use validate::check_kind_problems;

/// One test case, as the runner sees it: defaults applied, fixtures expanded.
#[derive(Debug, Clone)]
pub struct Case {
    /// Stable id, never reused (e.g. `TC-DMC-P0-001`).
    pub id: String,
    pub title: String,
    pub purpose: String,
    /// The IUT role this case tests.
    pub role: Role,
    /// The protocol binding the case speaks (`dm2`).
    pub binding: String,
    /// SCR items this case verifies.
    pub covers: Vec<String>,
    /// Applicability over the ICS (SCR ids and ICS-* capabilities). Absent: always.
    pub applies_if: Option<String>,
    /// PIXIT values the case needs (dotted names, e.g. `notification.secret`).
    pub pixit: Vec<String>,
    /// Reference faults this case must catch (selftest).
    pub detects: Vec<String>,
    /// The SCR item a message of the IUT violates when it is not in the binding's encoding
    /// (a WBXML variant: the WBXML item); judged before the checks of the step that receives it.
    pub encoding_scr: Option<String>,
    /// The items a `[[defaults.variant]]` added to `covers` (the encoding's item): they do not
    /// make the case apply to an IUT that implements none of the tables of its own items.
    pub variant_covers: Vec<String>,
    pub resources: Vec<Resource>,
    /// `[case.download]`: what the suite's download server serves during the case; absent,
    /// the case runs none.
    pub download: Option<crate::peers::download::DownloadConfig>,
    pub steps: Vec<Step>,
    /// Where each step was written (same order as `steps`).
    pub origins: Vec<StepOrigin>,
    /// The `when` conditions of each step (same order as `steps`; empty: it always runs).
    pub conditions: Vec<Vec<when::Condition>>,
    pub file: PathBuf,
    pub line: usize,
    pub applies_expr: Option<Expr>,
}

/// Where a step was written: its file and line, and the fixture uses that brought it into the
/// case (outermost first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOrigin {
    pub file: PathBuf,
    pub line: usize,
    pub via: Vec<String>,
}

impl StepOrigin {
    /// " (fixture X used at f:l)" for error messages; empty for a case's own step.
    pub fn via_text(&self) -> String {
        if self.via.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.via.join(", "))
        }
    }
}

impl Case {
    /// The judgements naming each SCR item: (1-based step, check index) for a check, (step,
    /// None) for a step's own `scr`.
    pub fn judgements(&self) -> BTreeMap<String, BTreeSet<(usize, Option<usize>)>> {
        let mut out: BTreeMap<String, BTreeSet<(usize, Option<usize>)>> = BTreeMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            for s in step.scr_refs() {
                out.entry(s.to_string()).or_default().insert((i + 1, None));
            }
            for (j, c) in step.checks().iter().enumerate() {
                out.entry(c.scr.clone()).or_default().insert((i + 1, Some(j)));
            }
        }
        out
    }
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

impl Catalog {
    /// Loads every case file under `dir` and validates it against the SCR registry, the
    /// built-in bindings and the reference fault catalog.
    pub fn load_dir(dir: &Path, registry: &Registry) -> Result<Catalog, CatalogErrors> {
        let one = |file: PathBuf, message: String| CatalogErrors(vec![CatalogError { file, line: 0, message }]);
        let files =
            toml_files(dir).map_err(|e| one(dir.to_path_buf(), format!("cannot read the case catalog folder: {e}")))?;
        let mut sources = Vec::new();
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(s) => sources.push((f, s)),
                Err(e) => return Err(one(f, format!("cannot read: {e}"))),
            }
        }
        Self::load_sources(&sources, registry)
    }

    /// Loads from (path, contents) pairs with the built-in bindings; used by tests and by
    /// `load_dir`.
    pub fn load_sources(sources: &[(PathBuf, String)], registry: &Registry) -> Result<Catalog, CatalogErrors> {
        Self::load_sources_with(sources, registry, &crate::binding::builtin_bindings())
    }

    /// Loads from (path, contents) pairs, for cases of the given bindings.
    pub fn load_sources_with(
        sources: &[(PathBuf, String)],
        registry: &Registry,
        bindings: &[Arc<dyn Binding>],
    ) -> Result<Catalog, CatalogErrors> {
        let (mut cases, digest, mut errors) = load::load(sources, bindings);
        validate::validate(&mut cases, registry, bindings, &mut errors);
        if errors.is_empty() {
            Ok(Catalog { cases, digest })
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
