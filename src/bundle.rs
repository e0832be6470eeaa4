//! Where the catalog comes from: the SCR tables (`scr/`) and the cases (`cases/`) built into the
//! binary (by `build.rs`), or a directory a catalog author names with `--scr-dir` /
//! `--cases-dir` (or `DMCTS_SCR_DIR` / `DMCTS_CASES_DIR`). Either way the loaders get the same
//! `(path, bytes)` lists, and the catalog digest depends only on the files' contents and their
//! paths inside `scr/` and `cases/`, never on where they were read from: an exported catalog
//! read back from a directory has the embedded catalog's digest.
use crate::catalog::{Catalog, CatalogError, CatalogErrors};
use crate::scr::{Registry, ScrError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));
}

/// How embedded files are named in messages: `<embedded>/cases/dm2/client/session.toml`.
pub const EMBEDDED_ROOT: &str = "<embedded>";

/// One half of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The SCR tables.
    Scr,
    /// The test cases.
    Cases,
}

impl Part {
    /// The folder name in the repository and in an export.
    pub fn folder(self) -> &'static str {
        match self {
            Part::Scr => "scr",
            Part::Cases => "cases",
        }
    }

    /// The command-line flag that points this part at a directory.
    pub fn flag(self) -> &'static str {
        match self {
            Part::Scr => "--scr-dir",
            Part::Cases => "--cases-dir",
        }
    }

    /// The environment variable that does the same.
    pub fn env_var(self) -> &'static str {
        match self {
            Part::Scr => "DMCTS_SCR_DIR",
            Part::Cases => "DMCTS_CASES_DIR",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Part::Scr => "SCR tables",
            Part::Cases => "case files",
        }
    }

    fn embedded(self) -> &'static [(&'static str, &'static [u8])] {
        match self {
            Part::Scr => embedded::SCR,
            Part::Cases => embedded::CASES,
        }
    }
}

/// Where one part of the catalog is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogSource {
    /// Built into the binary from the repository's `scr/` or `cases/`.
    Embedded,
    /// A directory, read at run time (for catalog authors).
    Directory(PathBuf),
}

impl CatalogSource {
    /// A directory if one was given, else the embedded catalog.
    pub fn from_dir(dir: Option<PathBuf>) -> CatalogSource {
        dir.map_or(CatalogSource::Embedded, CatalogSource::Directory)
    }

    /// `embedded`, or the directory as given: what `run.json` records.
    pub fn describe(&self) -> String {
        match self {
            CatalogSource::Embedded => "embedded".to_string(),
            CatalogSource::Directory(d) => d.display().to_string(),
        }
    }

    /// The `*.toml` files of `part`, sorted by their path inside the part's folder.
    pub fn files(&self, part: Part) -> Result<Vec<SourceFile>, BundleError> {
        let mut files = match self {
            CatalogSource::Embedded => part
                .embedded()
                .iter()
                .filter(|(rel, _)| rel.ends_with(".toml"))
                .map(|(rel, bytes)| SourceFile {
                    rel: rel.to_string(),
                    path: Path::new(EMBEDDED_ROOT).join(part.folder()).join(rel),
                    bytes: bytes.to_vec(),
                })
                .collect(),
            CatalogSource::Directory(dir) => read_dir_files(dir, part)?,
        };
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        if files.is_empty() {
            return Err(BundleError::Empty { part, path: self.shown_root(part) });
        }
        Ok(files)
    }

    /// [`files`](Self::files) as `(path shown in errors, bytes)` pairs, the loaders' input.
    pub fn sources(&self, part: Part) -> Result<Vec<(PathBuf, Vec<u8>)>, BundleError> {
        Ok(self.files(part)?.into_iter().map(|f| (f.path, f.bytes)).collect())
    }

    fn shown_root(&self, part: Part) -> PathBuf {
        match self {
            CatalogSource::Embedded => Path::new(EMBEDDED_ROOT).join(part.folder()),
            CatalogSource::Directory(d) => d.clone(),
        }
    }
}

/// One catalog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path inside the part's folder, `/`-separated (`dm2/client/session.toml`): what the digest hashes.
    pub rel: String,
    /// Path shown in messages: the file on disk, or `<embedded>/cases/dm2/client/session.toml`.
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// A catalog that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(
        "cannot read the {} from {} (the directory given by {} or the environment variable {}; without \
         either, the catalog built into dmcts is used): {cause}",
        part.what(), path.display(), part.flag(), part.env_var()
    )]
    Read { part: Part, path: PathBuf, cause: std::io::Error },
    #[error(
        "no {} (*.toml) under {}: expected at least one (a directory is given by {} or the environment variable \
         {})",
        part.what(), path.display(), part.flag(), part.env_var()
    )]
    Empty { part: Part, path: PathBuf },
    #[error(transparent)]
    Scr(ScrError),
    #[error("the case catalog is invalid:\n{0}")]
    Cases(CatalogErrors),
    #[error(
        "refusing to overwrite {} existing file(s) (use --force to replace them): {}",
        .0.len(), .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Exists(Vec<PathBuf>),
    #[error("cannot write {}: {cause}", path.display())]
    Write { path: PathBuf, cause: std::io::Error },
}

/// Every `*.toml` under `dir`, recursively; hidden entries are skipped as `build.rs` skips them.
fn read_dir_files(dir: &Path, part: Part) -> Result<Vec<SourceFile>, BundleError> {
    let err = |path: &Path, cause| BundleError::Read { part, path: path.to_path_buf(), cause };
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| err(&d, e))? {
            let entry = entry.map_err(|e| err(&d, e))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "toml") {
                let bytes = std::fs::read(&path).map_err(|e| err(&path, e))?;
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(SourceFile { rel, path, bytes });
            }
        }
    }
    Ok(out)
}

/// Which catalog a run used, as `run.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogInfo {
    /// `embedded` or the directory the SCR tables were read from.
    pub scr: String,
    /// `embedded` or the directory the cases were read from.
    pub cases: String,
    /// SHA-256 (hex) over every SCR table and case file: its path inside `scr/` or `cases/`
    /// and its bytes. Equal digests mean the same catalog, wherever it was read from.
    pub digest: String,
}

/// The loaded catalog: the SCR registry, the cases, and which files they came from.
pub struct Loaded {
    pub registry: Registry,
    pub catalog: Catalog,
    pub info: CatalogInfo,
}

/// Loads the SCR tables of `scr`.
pub fn load_registry(scr: &CatalogSource) -> Result<Registry, BundleError> {
    Registry::from_sources(scr.sources(Part::Scr)?).map_err(BundleError::Scr)
}

/// Loads the SCR tables and the cases, validating the cases against the tables.
pub fn load(scr: &CatalogSource, cases: &CatalogSource) -> Result<Loaded, BundleError> {
    let scr_files = scr.files(Part::Scr)?;
    let case_files = cases.files(Part::Cases)?;
    let registry = Registry::from_sources(scr_files.iter().map(|f| (f.path.clone(), f.bytes.clone())).collect())
        .map_err(BundleError::Scr)?;
    let mut texts = Vec::new();
    let mut errors = Vec::new();
    for f in &case_files {
        match std::str::from_utf8(&f.bytes) {
            Ok(s) => texts.push((f.path.clone(), s.to_string())),
            Err(e) => errors.push(CatalogError {
                file: f.path.clone(),
                line: crate::catalog::line_of(&String::from_utf8_lossy(&f.bytes), e.valid_up_to()),
                message: "invalid UTF-8, expected a UTF-8 TOML file".into(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(BundleError::Cases(CatalogErrors(errors)));
    }
    let catalog = Catalog::load_sources(&texts, &registry).map_err(BundleError::Cases)?;
    let info = CatalogInfo { scr: scr.describe(), cases: cases.describe(), digest: digest(&scr_files, &case_files) };
    Ok(Loaded { registry, catalog, info })
}

/// The catalog digest of [`CatalogInfo::digest`].
pub fn digest(scr: &[SourceFile], cases: &[SourceFile]) -> String {
    let mut h = Sha256::new();
    for (part, files) in [(Part::Scr, scr), (Part::Cases, cases)] {
        h.update(part.folder().as_bytes());
        h.update([0]);
        for f in files {
            // Length-prefixed, so no two different file sets hash the same byte stream.
            h.update((f.rel.len() as u64).to_le_bytes());
            h.update(f.rel.as_bytes());
            h.update((f.bytes.len() as u64).to_le_bytes());
            h.update(&f.bytes);
        }
    }
    hex::encode(h.finalize())
}

/// Writes the embedded catalog into `dir` as `dir/scr/...` and `dir/cases/...` (every embedded
/// file, not only the TOML ones). Existing files are left alone, and nothing is written, unless
/// `force`. Returns the files written, in order.
pub fn export(dir: &Path, force: bool) -> Result<Vec<PathBuf>, BundleError> {
    let targets: Vec<(PathBuf, &[u8])> = [Part::Scr, Part::Cases]
        .into_iter()
        .flat_map(|part| {
            part.embedded().iter().map(move |(rel, bytes)| {
                let mut p = dir.join(part.folder());
                p.extend(rel.split('/'));
                (p, *bytes)
            })
        })
        .collect();
    if !force {
        let existing: Vec<PathBuf> = targets.iter().filter(|(p, _)| p.exists()).map(|(p, _)| p.clone()).collect();
        if !existing.is_empty() {
            return Err(BundleError::Exists(existing));
        }
    }
    let mut written = Vec::new();
    for (path, bytes) in targets {
        let write = |cause| BundleError::Write { path: path.clone(), cause };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write)?;
        }
        std::fs::write(&path, bytes).map_err(write)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_loads_and_names_its_files_as_embedded() {
        let loaded = load(&CatalogSource::Embedded, &CatalogSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
        assert!(!loaded.catalog.cases.is_empty());
        assert!(!loaded.registry.items().is_empty());
        let file = loaded.catalog.cases[0].file.to_string_lossy().into_owned();
        assert!(file.starts_with("<embedded>/cases/"), "{file}");
        assert_eq!(loaded.info.scr, "embedded");
        assert_eq!(loaded.info.digest.len(), 64);
    }

    #[test]
    fn the_embedded_catalog_is_the_repository_catalog() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for part in [Part::Scr, Part::Cases] {
            let dir = CatalogSource::Directory(root.join(part.folder())).files(part).unwrap();
            let emb = CatalogSource::Embedded.files(part).unwrap();
            let strip = |v: Vec<SourceFile>| v.into_iter().map(|f| (f.rel, f.bytes)).collect::<Vec<_>>();
            assert_eq!(strip(dir), strip(emb), "{} differs from the build's copy: rebuild", part.folder());
        }
    }

    #[test]
    fn a_missing_directory_names_the_flag_and_the_variable() {
        let e = CatalogSource::Directory("/nonexistent/dmcts-cases".into()).files(Part::Cases).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("/nonexistent/dmcts-cases"), "{text}");
        assert!(text.contains("--cases-dir") && text.contains("DMCTS_CASES_DIR"), "{text}");
    }

    #[test]
    fn the_digest_depends_on_paths_and_bytes() {
        let f = |rel: &str, b: &[u8]| SourceFile { rel: rel.into(), path: rel.into(), bytes: b.to_vec() };
        let a = digest(&[f("a.toml", b"x")], &[f("c.toml", b"y")]);
        assert_eq!(a, digest(&[f("a.toml", b"x")], &[f("c.toml", b"y")]));
        assert_ne!(a, digest(&[f("b.toml", b"x")], &[f("c.toml", b"y")]));
        assert_ne!(a, digest(&[f("a.toml", b"xy")], &[f("c.toml", b"")]));
        assert_ne!(a, digest(&[], &[f("a.toml", b"x"), f("c.toml", b"y")]));
    }
}
