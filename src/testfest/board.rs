//! What the test-fest knows while it runs: per IUT the verdict of each case as it arrives, the
//! pairs' results, and the numbered events the live page follows. One board per test-fest,
//! shared by the runs (which post to it) and the web server (which reads it).
use crate::catalog::Catalog;
use crate::runner::result::CaseResult;
use crate::scr::Registry;
use crate::verdict::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// A case column of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct CaseColumn {
    pub id: String,
    pub role: String,
    pub title: String,
    /// The requirement tables of the SCR items the case covers.
    pub tables: Vec<String>,
}

/// One cell: the verdict of a case for an IUT.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cell {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The case's trace, relative to the live page (`None`: the case did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// The state of an IUT's run.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Waiting,
    Running,
    Done,
    /// The run could not start or ended in a harness error (see `error`).
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct IutRow {
    pub name: String,
    pub role: String,
    pub product: String,
    pub state: RunState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Case id → cell, for the cases with a verdict so far.
    pub cases: BTreeMap<String, Cell>,
}

/// A pair's result (see [`super::pair`]).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairRow {
    pub client: String,
    pub server: String,
    /// None while it has not run.
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub messages: usize,
    pub checks_failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// What changed, numbered: the live page's feed.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: u64,
    /// `verdict`, `run` (an IUT's run state) or `pair`.
    pub kind: &'static str,
    pub iut: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<RunState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub title: String,
    pub seq: u64,
    pub finished: bool,
    pub tables: Vec<String>,
    pub cases: Vec<CaseColumn>,
    pub iuts: Vec<IutRow>,
    pub pairs: Vec<PairRow>,
}

struct State {
    snap: Snapshot,
    events: Vec<Event>,
}

pub struct Board {
    state: Mutex<State>,
    tx: broadcast::Sender<Event>,
}

/// Whether a verdict comes from running the case (it has a trace worth linking).
pub fn ran(v: Verdict) -> bool {
    matches!(v, Verdict::Pass | Verdict::Fail | Verdict::Inconc | Verdict::Error | Verdict::NotTested)
}

impl Board {
    pub fn new(title: &str, registry: &Registry, catalog: &Catalog, iuts: Vec<IutRow>, pairs: Vec<PairRow>) -> Board {
        let cases: Vec<CaseColumn> = catalog
            .cases
            .iter()
            .map(|c| {
                let mut tables: Vec<String> =
                    c.covers.iter().filter_map(|id| registry.get(id)).map(|i| i.table.clone()).collect();
                tables.sort();
                tables.dedup();
                CaseColumn { id: c.id.clone(), role: c.role.to_string(), title: c.title.clone(), tables }
            })
            .collect();
        let tables = registry.tables().iter().map(|t| t.id.clone()).collect();
        let snap = Snapshot { title: title.to_string(), seq: 0, finished: false, tables, cases, iuts, pairs };
        Board { state: Mutex::new(State { snap, events: Vec::new() }), tx: broadcast::channel(1024).0 }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, st: &mut State, mut ev: Event) {
        st.snap.seq += 1;
        ev.seq = st.snap.seq;
        st.events.push(ev.clone());
        // Nobody listening is fine: the page may not be open.
        let _ = self.tx.send(ev);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.lock().snap.clone()
    }

    /// The events after `since`.
    pub fn events_since(&self, since: u64) -> Vec<Event> {
        self.lock().events.iter().filter(|e| e.seq > since).cloned().collect()
    }

    /// A case's verdict for an IUT arrived.
    pub fn verdict(&self, iut: &str, case: &CaseResult) {
        let mut st = self.lock();
        let Some(row) = st.snap.iuts.iter_mut().find(|r| r.name == iut) else { return };
        let cell = Cell {
            verdict: case.verdict,
            reason: case.reason.as_ref().map(|r| r.message.clone()),
            trace: ran(case.verdict).then(|| format!("iut/{iut}/traces/{}.txt", trace_stem(&case.id))),
        };
        row.cases.insert(case.id.clone(), cell);
        let ev = Event {
            seq: 0,
            kind: "verdict",
            iut: iut.to_string(),
            case: Some(case.id.clone()),
            verdict: Some(case.verdict),
            state: None,
        };
        self.push(&mut st, ev);
    }

    pub fn run_state(&self, iut: &str, state: RunState, error: Option<String>) {
        let mut st = self.lock();
        let Some(row) = st.snap.iuts.iter_mut().find(|r| r.name == iut) else { return };
        row.state = state;
        row.error = error;
        let ev = Event { seq: 0, kind: "run", iut: iut.to_string(), case: None, verdict: None, state: Some(state) };
        self.push(&mut st, ev);
    }

    pub fn pair(&self, row: PairRow) {
        let mut st = self.lock();
        let name = format!("{}×{}", row.client, row.server);
        let verdict = row.verdict;
        if let Some(p) = st.snap.pairs.iter_mut().find(|p| p.client == row.client && p.server == row.server) {
            *p = row;
        }
        let ev = Event { seq: 0, kind: "pair", iut: name, case: None, verdict, state: None };
        self.push(&mut st, ev);
    }

    pub fn finish(&self) {
        let mut st = self.lock();
        st.snap.finished = true;
        let ev = Event { seq: 0, kind: "finished", iut: String::new(), case: None, verdict: None, state: None };
        self.push(&mut st, ev);
    }
}

/// The trace file stem of a case id (as `report::trace_stems` names it for catalog ids).
pub fn trace_stem(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect()
}
