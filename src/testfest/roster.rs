//! The roster of a test-fest: the IUTs (a name, an ICS file, the role) and the interop pairs,
//! strictly parsed (unknown keys are errors), every error naming the file and line.
//!
//! ```toml
//! [testfest]
//! title = "Spring test-fest"        # optional: the live page's title
//!
//! [[iut]]
//! name = "acme-client"              # [A-Za-z0-9._-], unique: the report folder DIR/<name>/
//! ics = "acme-client.toml"          # relative to the roster file
//! role = "client"                   # must be the ICS's [iut] role
//!
//! [[pair]]                          # optional: interop pairs, relayed by the suite
//! client = "acme-client"
//! server = "widget-server"
//! ```
use crate::ics::Ics;
use crate::scr::{Registry, Role};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// A roster as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RosterFile {
    #[serde(default)]
    testfest: Header,
    #[serde(default)]
    iut: Vec<Spanned<IutEntry>>,
    #[serde(default)]
    pair: Vec<Spanned<PairEntry>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IutEntry {
    name: Spanned<String>,
    ics: Spanned<String>,
    role: Spanned<RoleName>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RoleName {
    Client,
    Server,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PairEntry {
    client: Spanned<String>,
    server: Spanned<String>,
}

/// One IUT of the test-fest: its name (its report folder) and its ICS.
#[derive(Debug, Clone)]
pub struct RosterIut {
    pub name: String,
    pub ics: Arc<Ics>,
    /// The roster line that declares it.
    pub line: usize,
}

impl RosterIut {
    pub fn role(&self) -> Role {
        self.ics.iut.role
    }
}

/// An interop pair: a client IUT whose DM server is, through the suite's relay, a server IUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub client: String,
    pub server: String,
}

/// A parsed and checked roster.
#[derive(Debug, Clone)]
pub struct Roster {
    pub path: PathBuf,
    pub title: String,
    pub iuts: Vec<RosterIut>,
    pub pairs: Vec<Pair>,
}

/// A roster error: `file:line:col: message`.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{col}: {message}", path.display())]
pub struct RosterError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

/// A name usable as a folder name and in a URL path.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Roster {
    /// Reads and checks the roster at `path`; each ICS is loaded (relative to the roster) and
    /// validated against the SCR registry.
    pub fn load(path: &Path, registry: &Registry) -> Result<Roster, RosterError> {
        let src = std::fs::read_to_string(path).map_err(|e| RosterError {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message: format!("cannot read the roster: {e}"),
        })?;
        Roster::from_str(&src, path, registry)
    }

    pub fn from_str(src: &str, path: &Path, registry: &Registry) -> Result<Roster, RosterError> {
        let err = |offset: usize, message: String| {
            let (line, col) = line_col(src, offset);
            RosterError { path: path.to_path_buf(), line, col, message }
        };
        let file: RosterFile = toml::from_str(src)
            .map_err(|e| err(e.span().map(|s| s.start).unwrap_or(0), e.message().trim().replace('\n', " ")))?;
        if file.iut.is_empty() {
            return Err(err(0, "the roster names no IUT: add at least one [[iut]] with name, ics and role".into()));
        }
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut iuts: Vec<RosterIut> = Vec::new();
        for entry in &file.iut {
            let e = entry.get_ref();
            let name = e.name.get_ref();
            if !valid_name(name) {
                return Err(err(
                    e.name.span().start,
                    format!("IUT name {name:?}: expected letters, digits, '-', '_' or '.' (it names a report folder)"),
                ));
            }
            if let Some(first) = iuts.iter().find(|i| &i.name == name) {
                return Err(err(
                    e.name.span().start,
                    format!("IUT name {name:?} is already used at line {}: names must be unique", first.line),
                ));
            }
            let ics_path = base.join(e.ics.get_ref());
            let ics = Ics::load(&ics_path)
                .map_err(|x| err(e.ics.span().start, format!("IUT {name:?}: its ICS does not load: {x}")))?;
            ics.validate_against(registry)
                .map_err(|x| err(e.ics.span().start, format!("IUT {name:?}: its ICS is not valid: {x}")))?;
            let role = match e.role.get_ref() {
                RoleName::Client => Role::Client,
                RoleName::Server => Role::Server,
            };
            if ics.iut.role != role {
                return Err(err(
                    e.role.span().start,
                    format!(
                        "IUT {name:?}: role {role} here, but its ICS {} says [iut] role = \"{}\"",
                        ics_path.display(),
                        ics.iut.role
                    ),
                ));
            }
            if matches!(ics.pixit.upper_tester, crate::upper_tester::UpperTesterConfig::Interactive) {
                return Err(err(
                    e.ics.span().start,
                    format!(
                        "IUT {name:?}: its upper tester is interactive; a test-fest runs its IUTs at once and has no \
                         terminal to give each (use the http, exec or scripted back end)"
                    ),
                ));
            }
            iuts.push(RosterIut { name: name.clone(), ics: Arc::new(ics), line: line_col(src, entry.span().start).0 });
        }
        // Each IUT on its own listener: two on one fixed port cannot both bind it.
        let mut ports: BTreeMap<u16, &RosterIut> = BTreeMap::new();
        for (iut, entry) in iuts.iter().zip(&file.iut) {
            let port = iut.ics.pixit.suite.listen.port();
            if port == 0 {
                continue;
            }
            if let Some(other) = ports.insert(port, iut) {
                return Err(err(
                    entry.get_ref().ics.span().start,
                    format!(
                        "IUTs {:?} (line {}) and {:?} would share the suite's port {port} (PIXIT [pixit.suite] \
                         listen of their ICS): each IUT needs its own listener; give one of them another port",
                        other.name, other.line, iut.name
                    ),
                ));
            }
        }
        let mut pairs: Vec<Pair> = Vec::new();
        for entry in &file.pair {
            let p = entry.get_ref();
            let find = |n: &Spanned<String>, want: Role| -> Result<&RosterIut, RosterError> {
                let iut = iuts.iter().find(|i| &i.name == n.get_ref()).ok_or_else(|| {
                    err(n.span().start, format!("pair names IUT {:?}, which the roster does not list", n.get_ref()))
                })?;
                if iut.role() != want {
                    return Err(err(
                        n.span().start,
                        format!("pair {want} {:?} is a {} IUT (line {})", iut.name, iut.role(), iut.line),
                    ));
                }
                Ok(iut)
            };
            let client = find(&p.client, Role::Client)?;
            let server = find(&p.server, Role::Server)?;
            // The relay judges DM 2.0 packages (package1-valid...): a pair of another protocol
            // would be judged by checks it cannot pass.
            for (n, iut) in [(&p.client, client), (&p.server, server)] {
                if crate::binding::family_of(&iut.ics.iut.binding) != crate::binding::DEFAULT_BINDING {
                    return Err(err(
                        n.span().start,
                        format!(
                            "pair IUT {:?} speaks binding {}: interop pairs are relayed and judged for DM 2.0 ({}) \
                             only; run it alone (its conformance run needs no pair)",
                            iut.name,
                            iut.ics.iut.binding,
                            crate::binding::DEFAULT_BINDING
                        ),
                    ));
                }
            }
            if client.ics.pixit.suite.listen.port() == 0 {
                return Err(err(
                    p.client.span().start,
                    format!(
                        "pair client {:?}: its ICS listens on port 0; the relay takes the suite's place at the \
                         client's DM server URL, so [pixit.suite] listen needs a fixed port",
                        client.name
                    ),
                ));
            }
            let pair = Pair { client: p.client.get_ref().clone(), server: p.server.get_ref().clone() };
            if pairs.contains(&pair) {
                return Err(err(entry.span().start, format!("pair {} × {} is listed twice", pair.client, pair.server)));
            }
            pairs.push(pair);
        }
        let title = file.testfest.title.unwrap_or_else(|| "dmcts test-fest".to_string());
        Ok(Roster { path: path.to_path_buf(), title, iuts, pairs })
    }

    /// The suite's fixed listener ports (those not 0), for checks against other ports.
    pub fn listen_ports(&self) -> Vec<(u16, &str)> {
        self.iuts.iter().map(|i| (i.ics.pixit.suite.listen.port(), i.name.as_str())).filter(|(p, _)| *p != 0).collect()
    }

    pub fn iut(&self, name: &str) -> Option<&RosterIut> {
        self.iuts.iter().find(|i| i.name == name)
    }
}

/// The suite's listen address of a client IUT (where its DM server URL points).
pub fn listen_of(iut: &RosterIut) -> SocketAddr {
    iut.ics.pixit.suite.listen
}
