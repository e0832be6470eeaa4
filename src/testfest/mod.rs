//! Test-fest mode (`dmcts testfest`): many IUTs at once, each with its own run (its own
//! listener and port, one case at a time, its own report folder `DIR/<name>/`), a live page
//! served by the tool, interop pairs relayed by the suite, and a roster-level summary
//! (`DIR/testfest.json` and a console matrix).
//!
//! - [`roster`]: the roster file; [`reference`]: N reference peers as IUTs;
//! - [`board`]: the verdicts so far, shared by the runs and the page; [`live`]: the page;
//! - [`pair`]: the relay and the scenario of an interop pair; [`summary`]: testfest.json and
//!   the console matrix.
//!
//! Each IUT's run is an ordinary [`crate::runner::run`] run on its own thread (a run holds no
//! process-global state: its tokio runtime, listener, interrupt and console are its own; the
//! console lines go to `DIR/<name>/console.txt`).
pub mod bench;
pub mod board;
pub mod live;
pub mod pair;
pub mod reference;
pub mod roster;
pub mod summary;

use crate::bundle::CatalogInfo;
use crate::catalog::Catalog;
use crate::runner::interrupt::Interrupt;
use crate::runner::run::{self, RunHooks, RunOptions};
use crate::runner::target::Target;
use crate::scr::Registry;
use board::{Board, IutRow, PairRow, RunState};
use roster::Roster;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The folder of the pairs' traces under the report dir.
pub const PAIRS_DIR: &str = "pairs";
/// The roster-level summary.
pub const SUMMARY_FILE: &str = "testfest.json";

pub struct Options {
    pub report_dir: PathBuf,
    /// The live page's port on 127.0.0.1 (0: the system chooses).
    pub port: u16,
    pub interrupt: Interrupt,
    pub catalog: Option<CatalogInfo>,
    /// After the runs, keep serving the live page until interrupted.
    pub keep_serving: bool,
}

/// What the test-fest produced.
pub struct Outcome {
    pub summary: summary::Summary,
    /// 0 every IUT's applicable cases and every pair passed, 1 otherwise, 2 a harness error.
    pub exit_code: u8,
}

/// Writes one case's trace as its verdict arrives, so the live page's link resolves at once
/// (the run's reports rewrite it at the end).
fn write_trace(dir: &Path, case: &crate::runner::result::CaseResult) {
    if !board::ran(case.verdict) {
        return;
    }
    let traces = dir.join(crate::report::TRACES);
    let _ = std::fs::create_dir_all(&traces);
    let _ = std::fs::write(
        traces.join(format!("{}.txt", board::trace_stem(&case.id))),
        crate::report::text::case_text(case),
    );
}

/// Runs the test-fest of `roster`.
pub fn run(registry: Arc<Registry>, catalog: Arc<Catalog>, roster: &Roster, opts: Options) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    if let Some((_, name)) = roster.listen_ports().into_iter().find(|(p, _)| *p == opts.port && opts.port != 0) {
        anyhow::bail!("--port {}: IUT {name:?} has the suite listen there; give the live page another port", opts.port);
    }
    // Every IUT's folder is ready (and emptied of an earlier run's reports) before anything runs.
    for iut in &roster.iuts {
        let dir = opts.report_dir.join(&iut.name);
        crate::report::prepare_dir(&dir)
            .map_err(|e| anyhow::anyhow!("cannot write reports to {} (--report-dir): {e}", dir.display()))?;
    }
    let _ = std::fs::remove_dir_all(opts.report_dir.join(PAIRS_DIR));
    let rows = roster
        .iuts
        .iter()
        .map(|i| IutRow {
            name: i.name.clone(),
            role: i.role().to_string(),
            product: format!("{} {} {}", i.ics.iut.vendor, i.ics.iut.product, i.ics.iut.version),
            state: RunState::Waiting,
            error: None,
            cases: Default::default(),
        })
        .collect();
    let pair_rows = roster
        .pairs
        .iter()
        .map(|p| PairRow {
            client: p.client.clone(),
            server: p.server.clone(),
            verdict: None,
            reason: None,
            messages: 0,
            checks_failed: 0,
            trace: None,
        })
        .collect();
    let board = Arc::new(Board::new(&roster.title, &registry, &catalog, rows, pair_rows));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let names = roster.iuts.iter().map(|i| i.name.clone()).collect();
    let addr = rt.block_on(live::serve(board.clone(), opts.report_dir.clone(), names, opts.port))?;
    println!("live page: http://{addr}/");
    println!(
        "test-fest: {} IUT(s), {} pair(s); reports under {}",
        roster.iuts.len(),
        roster.pairs.len(),
        opts.report_dir.display()
    );
    for iut in &roster.iuts {
        let listen = iut.ics.pixit.suite.listen;
        println!("  {:<24} {:<6} suite listens on {listen}", iut.name, iut.role().to_string());
    }

    // The runs, one thread each: each runs its cases one at a time against its IUT.
    let mut handles = Vec::new();
    for iut in roster.iuts.clone() {
        let (registry, catalog, board) = (registry.clone(), catalog.clone(), board.clone());
        let dir = opts.report_dir.join(&iut.name);
        let (interrupt, info) = (opts.interrupt.clone(), opts.catalog.clone());
        let handle = std::thread::Builder::new().name(format!("testfest-{}", iut.name)).spawn(move || {
            board.run_state(&iut.name, RunState::Running, None);
            let logfile = dir.join("console.txt");
            let libtest = libtest_mimic::Arguments::from_iter([
                "dmcts".to_string(),
                "--logfile".into(),
                logfile.to_string_lossy().into_owned(),
                "--color".into(),
                "never".into(),
            ]);
            let hooks = {
                let (board, name, dir) = (board.clone(), iut.name.clone(), dir.clone());
                RunHooks {
                    on_case: Some(Arc::new(move |c: &crate::runner::result::CaseResult| {
                        write_trace(&dir, c);
                        board.verdict(&name, c);
                    })),
                    quiet: true,
                }
            };
            let opts = RunOptions {
                target: Target::Ics(iut.ics.clone()),
                scr_patterns: Vec::new(),
                role: None,
                libtest,
                report_dir: Some(dir.clone()),
                catalog: info,
                interrupt,
            };
            let out = run::run_with(registry.clone(), catalog, opts, hooks).and_then(|out| {
                let items = crate::runner::plan::coverage_inputs(&registry, &out.applicability);
                crate::report::write_all(&dir, &out.result, &items)?;
                Ok(out.result)
            });
            match &out {
                Ok(_) => board.run_state(&iut.name, RunState::Done, None),
                Err(e) => board.run_state(&iut.name, RunState::Error, Some(format!("{e:#}"))),
            }
            (iut.name.clone(), out)
        })?;
        handles.push(handle);
    }
    let mut results = Vec::new();
    for h in handles {
        match h.join() {
            Ok(r) => results.push(r),
            Err(_) => anyhow::bail!("a test-fest run panicked"),
        }
    }

    // The pairs, one at a time: each relay takes its client's suite port.
    let mut pairs = Vec::new();
    for p in &roster.pairs {
        if opts.interrupt.is_set() {
            break;
        }
        let (Some(c), Some(s)) = (roster.iut(&p.client), roster.iut(&p.server)) else { continue };
        let res = rt.block_on(pair::run_pair(c, s, &registry, &opts.report_dir));
        board.pair(res.row());
        pairs.push(res);
    }
    board.finish();
    let summary = summary::Summary::build(roster, &registry, &catalog, &results, &pairs, started.elapsed());
    let path = opts.report_dir.join(SUMMARY_FILE);
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    print!("{}", summary.matrix());
    println!("summary: {}", path.display());
    if opts.keep_serving && !opts.interrupt.is_set() {
        println!("the live page stays at http://{addr}/ until Ctrl-C");
        rt.block_on(opts.interrupt.wait());
    }
    let exit_code = summary.exit_code();
    Ok(Outcome { summary, exit_code })
}
