//! The roster-level summary: `testfest.json` (per IUT its counts, its verdict per requirement
//! table and per case, where its reports are; per pair its verdict) and the console matrix.
use super::pair::PairResult;
use super::roster::Roster;
use crate::catalog::Catalog;
use crate::runner::result::RunResult;
use crate::scr::Registry;
use crate::verdict::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub title: String,
    pub suite_version: String,
    pub wall_ms: u64,
    pub iuts: Vec<IutSummary>,
    pub pairs: Vec<PairSummary>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub inconc: usize,
    pub error: usize,
    pub not_tested: usize,
    pub not_applicable: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableCell {
    pub pass: usize,
    /// Cases of the table that ran (not-applicable ones excluded).
    pub ran: usize,
    /// The worst verdict among them (error, fail, inconc, not-tested, pass).
    pub verdict: Option<Verdict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IutSummary {
    pub name: String,
    pub role: String,
    pub product: String,
    /// The IUT's report folder, relative to the test-fest's.
    pub reports: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub interrupted: bool,
    pub counts: Counts,
    pub tables: BTreeMap<String, TableCell>,
    pub cases: BTreeMap<String, Verdict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairSummary {
    pub client: String,
    pub server: String,
    pub verdict: Verdict,
    pub reason: String,
    pub messages: usize,
    pub checks_failed: usize,
    pub trace: String,
}

const WORST: [Verdict; 5] = [Verdict::Error, Verdict::Fail, Verdict::Inconc, Verdict::NotTested, Verdict::Pass];

impl Summary {
    pub fn build(
        roster: &Roster,
        registry: &Registry,
        catalog: &Catalog,
        results: &[(String, anyhow::Result<RunResult>)],
        pairs: &[PairResult],
        wall: std::time::Duration,
    ) -> Summary {
        let case_tables: BTreeMap<&str, Vec<String>> = catalog
            .cases
            .iter()
            .map(|c| {
                let mut t: Vec<String> =
                    c.covers.iter().filter_map(|i| registry.get(i)).map(|i| i.table.clone()).collect();
                t.sort();
                t.dedup();
                (c.id.as_str(), t)
            })
            .collect();
        let iuts = roster
            .iuts
            .iter()
            .map(|iut| {
                let result = results.iter().find(|(n, _)| n == &iut.name).map(|(_, r)| r);
                let mut s = IutSummary {
                    name: iut.name.clone(),
                    role: iut.role().to_string(),
                    product: format!("{} {} {}", iut.ics.iut.vendor, iut.ics.iut.product, iut.ics.iut.version),
                    reports: iut.name.clone(),
                    error: None,
                    interrupted: false,
                    counts: Counts::default(),
                    tables: BTreeMap::new(),
                    cases: BTreeMap::new(),
                };
                match result {
                    Some(Ok(run)) => {
                        s.interrupted = run.interrupted;
                        let mut by_table: BTreeMap<String, Vec<Verdict>> = BTreeMap::new();
                        for c in &run.cases {
                            s.cases.insert(c.id.clone(), c.verdict);
                            match c.verdict {
                                Verdict::Pass => s.counts.pass += 1,
                                Verdict::Fail => s.counts.fail += 1,
                                Verdict::Inconc => s.counts.inconc += 1,
                                Verdict::Error => s.counts.error += 1,
                                Verdict::NotTested => s.counts.not_tested += 1,
                                _ => s.counts.not_applicable += 1,
                            }
                            if super::board::ran(c.verdict) {
                                for t in case_tables.get(c.id.as_str()).into_iter().flatten() {
                                    by_table.entry(t.clone()).or_default().push(c.verdict);
                                }
                            }
                        }
                        s.tables = by_table
                            .into_iter()
                            .map(|(t, vs)| {
                                let cell = TableCell {
                                    pass: vs.iter().filter(|v| **v == Verdict::Pass).count(),
                                    ran: vs.len(),
                                    verdict: WORST.iter().copied().find(|w| vs.contains(w)),
                                };
                                (t, cell)
                            })
                            .collect();
                    }
                    Some(Err(e)) => s.error = Some(format!("{e:#}")),
                    None => s.error = Some("the run did not take place".into()),
                }
                s
            })
            .collect();
        let pairs = pairs
            .iter()
            .map(|p| PairSummary {
                client: p.client.clone(),
                server: p.server.clone(),
                verdict: p.verdict,
                reason: p.reason.clone(),
                messages: p.messages.len(),
                checks_failed: p.checks_failed(),
                trace: format!("{}/{}.txt", super::PAIRS_DIR, p.file_stem()),
            })
            .collect();
        Summary {
            title: roster.title.clone(),
            suite_version: crate::SUITE_VERSION.to_string(),
            wall_ms: wall.as_millis() as u64,
            iuts,
            pairs,
        }
    }

    /// 0 every applicable case of every IUT and every pair passed; 2 a run could not be made
    /// (or a case is `error`); 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.iuts.iter().any(|i| i.error.is_some() || i.counts.error > 0)
            || self.pairs.iter().any(|p| p.verdict == Verdict::Error)
        {
            2
        } else if self.iuts.iter().any(|i| i.counts.fail + i.counts.inconc + i.counts.not_tested > 0)
            || self.pairs.iter().any(|p| p.verdict != Verdict::Pass)
        {
            1
        } else {
            0
        }
    }

    /// The console matrix: IUT × counts and requirement tables; client × server for the pairs.
    pub fn matrix(&self) -> String {
        let tables: Vec<String> = {
            let mut t: Vec<String> = self.iuts.iter().flat_map(|i| i.tables.keys().cloned()).collect();
            t.sort();
            t.dedup();
            t
        };
        let w = self.iuts.iter().map(|i| i.name.len()).max().unwrap_or(3).max(3);
        let mut out = format!(
            "\n{}\n\n{:<w$}  {:<6}  {:>4} {:>4} {:>6} {:>5} {:>4}",
            self.title, "IUT", "role", "pass", "fail", "inconc", "error", "n/a"
        );
        for t in &tables {
            out.push_str(&format!("  {t:>9}"));
        }
        out.push('\n');
        for i in &self.iuts {
            let c = &i.counts;
            out.push_str(&format!(
                "{:<w$}  {:<6}  {:>4} {:>4} {:>6} {:>5} {:>4}",
                i.name, i.role, c.pass, c.fail, c.inconc, c.error, c.not_applicable
            ));
            for t in &tables {
                let cell = i.tables.get(t).map(|c| format!("{}/{}", c.pass, c.ran)).unwrap_or_else(|| "-".into());
                out.push_str(&format!("  {cell:>9}"));
            }
            if let Some(e) = &i.error {
                out.push_str(&format!("  run error: {e}"));
            } else if i.interrupted {
                out.push_str("  (interrupted)");
            }
            out.push('\n');
        }
        if !self.pairs.is_empty() {
            // In roster order, each once.
            let mut servers: Vec<&str> = Vec::new();
            let mut clients: Vec<&str> = Vec::new();
            for p in &self.pairs {
                if !servers.contains(&p.server.as_str()) {
                    servers.push(&p.server);
                }
                if !clients.contains(&p.client.as_str()) {
                    clients.push(&p.client);
                }
            }
            let cw = clients.iter().map(|c| c.len()).max().unwrap_or(6).max(15);
            out.push_str(&format!("\n{:<cw$}", "client \\ server"));
            for s in &servers {
                out.push_str(&format!("  {s:>w2$}", w2 = s.len().max(8)));
            }
            out.push('\n');
            for c in &clients {
                out.push_str(&format!("{c:<cw$}"));
                for s in &servers {
                    let v = self
                        .pairs
                        .iter()
                        .find(|p| p.client == *c && p.server == *s)
                        .map(|p| p.verdict.as_str().to_string())
                        .unwrap_or_else(|| "-".into());
                    out.push_str(&format!("  {v:>w2$}", w2 = s.len().max(8)));
                }
                out.push('\n');
            }
            for p in self.pairs.iter().filter(|p| p.verdict != Verdict::Pass) {
                out.push_str(&format!("  {} × {}: {} — {}\n", p.client, p.server, p.verdict.as_str(), p.reason));
            }
        }
        out
    }
}
