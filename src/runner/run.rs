//! Runs a selection of cases as trials (with cargo test's habits: `--list`, `--exact`,
//! `--skip`, `--test-threads`, name filters, parsed by libtest-mimic; printed by
//! [`super::console`]) and collects a [`RunResult`].
use super::console::{self, Outcome};
use super::exec::{self, CaseSettings, NotificationTransport};
use super::interrupt::Interrupt;
use super::result::{CaseResult, RunResult};
use super::target::{self, Target};
use crate::bundle::CatalogInfo;
use crate::catalog::{Case, Catalog};
use crate::ics::Ics;
use crate::scr::{Registry, Role};
use crate::verdict::{Reason, Verdict};
use libtest_mimic::{Arguments, Trial};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Concurrent cases against the reference peers (each case has its own peers and ports).
pub const REFERENCE_THREADS: usize = 8;

/// What to run and how.
pub struct RunOptions {
    pub target: Target,
    /// Only cases covering an SCR item matching one of these patterns (`*` wildcard).
    pub scr_patterns: Vec<String>,
    /// Only cases of this IUT role.
    pub role: Option<Role>,
    pub libtest: Arguments,
    /// Where the reports (and traces) will be written, named in failure messages.
    pub report_dir: Option<std::path::PathBuf>,
    /// Which catalog runs, recorded in the result (`None`: not recorded).
    pub catalog: Option<CatalogInfo>,
    /// Stops the run when set (SIGINT/SIGTERM): no further case starts, running ones end.
    pub interrupt: Interrupt,
}

/// Exit codes: 0 every applicable case passed; 1 a fail or inconc, or a case the run ended
/// before (not-tested); 2 a configuration or harness error. (An interrupted run exits with
/// 128 + the signal number instead: see [`super::interrupt`].)
pub fn exit_code(cases: &[CaseResult]) -> i32 {
    if cases.iter().any(|c| c.verdict == Verdict::Error) {
        2
    } else if cases.iter().any(|c| matches!(c.verdict, Verdict::Fail | Verdict::Inconc | Verdict::NotTested)) {
        1
    } else {
        0
    }
}

/// How many cases run at once, and a note when that is not what was asked. An `--ics` run
/// tests one IUT: two of its cases at once would mix their traffic at the IUT and at the
/// suite's listener, so it runs one case at a time whatever `--test-threads` says. The
/// reference peers are started per case, on their own ports, so their cases run side by side.
pub fn test_threads(target: &Target, requested: Option<usize>) -> (usize, Option<String>) {
    match target {
        Target::Ics(_) => {
            let note = requested.filter(|n| *n > 1).map(|n| {
                format!(
                    "note: running one case at a time, not {n}: an --ics run tests one IUT, and two cases at once \
                     would mix their traffic"
                )
            });
            (1, note)
        }
        Target::Reference { .. } => (requested.unwrap_or(REFERENCE_THREADS), None),
    }
}

/// `*` glob on SCR ids.
pub fn scr_matches(pattern: &str, id: &str) -> bool {
    let re = format!("^{}$", regex::escape(pattern).replace(r"\*", ".*"));
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(id))
}

fn selected(case: &Case, opts: &RunOptions) -> Result<(), String> {
    if let Some(r) = opts.role {
        if case.role != r {
            return Err(format!("not selected: the run is limited to {r} cases"));
        }
    }
    if !opts.scr_patterns.is_empty() && !case.covers.iter().any(|c| opts.scr_patterns.iter().any(|p| scr_matches(p, c)))
    {
        return Err(format!("not selected: covers no SCR item matching {}", opts.scr_patterns.join(", ")));
    }
    Ok(())
}

/// Settings of a case from an ICS.
pub fn settings_from_ics(ics: &Ics, case: &crate::catalog::Case) -> CaseSettings {
    let p = &ics.pixit;
    // DM 1.2's Package#0 digest needs only the server password (`secret`); DM 2.0's both.
    let dm12 = crate::binding::family_of(&case.binding) == crate::binding::dm12::NAME_XML;
    let credentials = match (&p.notification.secret, &p.notification.auth_data) {
        (Some(s), Some(a)) => {
            Some(crate::runner::checks::Credentials { secret: s.as_bytes().to_vec(), auth_data: a.as_bytes().to_vec() })
        }
        (Some(s), None) if dm12 => {
            Some(crate::runner::checks::Credentials { secret: s.as_bytes().to_vec(), auth_data: Vec::new() })
        }
        _ => None,
    };
    let transport = match (&p.notification.transport, &p.notification.url) {
        (crate::ics::NotificationTransport::Http, Some(url)) => NotificationTransport::Http { url: url.clone() },
        _ => NotificationTransport::UpperTester,
    };
    CaseSettings {
        step_timeout: p.timeouts.step(),
        case_timeout: p.timeouts.case(),
        quiet_period: p.timeouts.quiet_period(),
        server_id: p.account.server_id.clone(),
        credentials,
        transport,
        dev_id: p.iut.dev_id.clone().unwrap_or_default(),
        server_uri: p.iut.server_uri.clone(),
        basic: match (&p.account.username, &p.account.password) {
            (Some(u), Some(pw)) => Some((u.clone(), pw.clone())),
            _ => None,
        },
        pixit: ics.pixit_values(),
        server_notifications_via_ut: p.notification.server_delivery == crate::ics::ServerDelivery::UpperTester,
        // Only the atoms that decide applicability count (not one under a `not`).
        declared_supported: case
            .applies_expr
            .as_ref()
            .map(|e| e.eval_deciding(&mut |a| ics.declares_supported(a)).1)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| ics.declares_supported(a))
            .collect(),
        supports: case.judgements().into_keys().filter(|i| ics.declares_supported(i)).collect(),
    }
}

/// Runs the cases and returns the run result. Harness faults inside a case become an
/// `error` verdict for that case; the run goes on.
/// What a run produced: the result, and the applicability of every SCR item for the coverage report.
pub struct RunOutput {
    pub result: RunResult,
    pub applicability: Vec<crate::ics::Applicability>,
}

pub fn run(registry: Arc<Registry>, catalog: Arc<Catalog>, opts: RunOptions) -> anyhow::Result<RunOutput> {
    run_with(registry, catalog, opts, RunHooks::default())
}

/// Called with each case's result as the run records it.
pub type OnCase = Arc<dyn Fn(&CaseResult) + Send + Sync>;

/// What a caller running several runs in one process (the test-fest) adds to a run: a callback
/// for each case's result as it is recorded, and quiet (the run prints no endpoints or notes on
/// stdout; its console lines go where `libtest.logfile` says).
#[derive(Clone, Default)]
pub struct RunHooks {
    pub on_case: Option<OnCase>,
    pub quiet: bool,
}

/// [`run`], with [`RunHooks`]. A run is a value: nothing in it is process-global (the progress
/// line is the installed one, or none; the interrupt is the one in `opts`), so several may run
/// at once on separate threads.
pub fn run_with(
    registry: Arc<Registry>,
    catalog: Arc<Catalog>,
    mut opts: RunOptions,
    hooks: RunHooks,
) -> anyhow::Result<RunOutput> {
    let (threads, note) = test_threads(&opts.target, opts.libtest.test_threads);
    opts.libtest.test_threads = Some(threads);
    let digest = match &opts.catalog {
        Some(info) => info.digest.clone(),
        None => catalog_digest(&registry, &catalog),
    };
    if opts.libtest.list {
        // Listing sends no traffic: the target (ports, upper tester) is not even prepared.
        let trials = catalog
            .cases
            .iter()
            .filter(|c| selected(c, &opts).is_ok())
            .map(|c| Trial::test(c.id.clone(), || Ok(())).with_kind(c.role.to_string()))
            .collect();
        let _listed = libtest_mimic::run(&opts.libtest, trials);
        let result = RunResult {
            suite_version: crate::SUITE_VERSION.to_string(),
            catalog_digest: digest,
            catalog: opts.catalog.clone(),
            interrupted: false,
            iut: serde_json::Value::Null,
            cases: Vec::new(),
            selection: None,
            late_traffic: Vec::new(),
        };
        return Ok(RunOutput { result, applicability: Vec::new() });
    }
    if let Some(note) = note.filter(|_| !hooks.quiet) {
        eprintln!("{note}");
    }
    let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().enable_all().build()?);
    let results: Arc<Mutex<BTreeMap<String, CaseResult>>> = Arc::default();
    let prepared = Arc::new(rt.block_on(target::prepare(&opts.target, &registry))?);
    // Where the IUT must send what, as bound, before the first case.
    if !hooks.quiet {
        print!("{}", prepared.start_note());
    }
    if let Some(dir) = &opts.report_dir {
        if let Some(path) = prepared.write_tls_files(dir)? {
            if !hooks.quiet {
                println!("CA certificate of this run (for the IUT to trust): {}", path.display());
            }
        }
    }
    let run_deadline = std::time::Instant::now() + prepared.run_timeout;

    let mut trials = Vec::new();
    for case in &catalog.cases {
        let case = Arc::new(case.clone());
        let record = {
            let results = results.clone();
            let on_case = hooks.on_case.clone();
            move |r: CaseResult| {
                if let Some(f) = &on_case {
                    f(&r);
                }
                results.lock().unwrap_or_else(|p| p.into_inner()).insert(r.id.clone(), r);
            }
        };
        if let Err(why) = selected(&case, &opts) {
            record(outside_selection(&case, &prepared, &registry, why));
            continue;
        }
        let (rt, registry, prepared, interrupt) =
            (rt.clone(), registry.clone(), prepared.clone(), opts.interrupt.clone());
        let traces = opts.report_dir.as_ref().map(|d| d.join("traces")).unwrap_or_else(|| "traces".into());
        let c2 = case.clone();
        let run = move || {
            let case = c2;
            if let Some((applicable, reason)) = prepared.applicability(&case, &registry) {
                if !applicable {
                    record(skeleton(&case, Verdict::NotApplicable, Some(Reason::new(reason.clone())), 0));
                    return Outcome::Ignored(format!("not applicable: {reason}"));
                }
            }
            // The end of the run leaves the cases it did not reach untested: no verdict on the IUT.
            let cut = if let Some(signal) = interrupt.signal() {
                Some(format!("run interrupted ({}) before this case started", super::interrupt::name(signal)))
            } else if std::time::Instant::now() > run_deadline {
                Some("run timeout (PIXIT timeouts.run_ms) reached before this case started".to_string())
            } else {
                None
            };
            if let Some(why) = cut {
                record(skeleton(&case, Verdict::NotTested, Some(Reason::new(why.clone())), 0));
                return Outcome::Ignored(format!("not tested: {why}"));
            }
            let res = rt.block_on(async {
                // A panic inside the case (a harness bug) must end this case, not the run.
                let (case2, registry2, prepared2) = (case.clone(), registry.clone(), prepared.clone());
                tokio::spawn(async move { run_one(&case2, registry2, &prepared2, &interrupt).await }).await
            });
            let result = match res {
                Ok(r) => r,
                Err(e) => skeleton(&case, Verdict::Error, Some(Reason::new(format!("harness panic: {e}"))), 0),
            };
            let text = || {
                let reason = result.reason.as_ref().map(|r| r.render()).unwrap_or_default();
                let trace = traces.join(format!("{}.txt", case.id));
                format!("verdict {}: {reason}\n  trace: {}", result.verdict, trace.display())
            };
            let outcome = match result.verdict {
                Verdict::Pass => Outcome::Pass,
                Verdict::NotApplicable | Verdict::Skipped | Verdict::NotTested | Verdict::NotSelected => {
                    Outcome::Ignored(result.reason.as_ref().map(|r| r.message.clone()).unwrap_or_default())
                }
                Verdict::Fail => Outcome::Fail(text()),
                Verdict::Inconc => Outcome::Inconc(text()),
                Verdict::Error => Outcome::Error(text()),
            };
            record(result);
            outcome
        };
        trials.push(console::Trial { name: case.id.clone(), kind: case.role.to_string(), run: Box::new(run) });
    }
    console::run(&opts.libtest, trials);
    let interrupted = opts.interrupt.is_set();
    let mut map = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    let cases: Vec<CaseResult> = catalog
        .cases
        .iter()
        .map(|c| {
            map.remove(&c.id).unwrap_or_else(|| {
                outside_selection(c, &prepared, &registry, "not selected (name filter or --skip)".into())
            })
        })
        .collect();
    let selection = selection_of(&catalog, &cases, &prepared, &registry, &opts);
    if !interrupted {
        rt.block_on(prepared.settle());
    }
    rt.block_on(prepared.shutdown());
    let late_traffic = prepared.late_traffic();
    if !late_traffic.is_empty() && !hooks.quiet {
        println!(
            "note: {} request(s) of the IUT arrived after their case had ended: answered, never judged as a later \
             case's (run.json late_traffic)",
            late_traffic.len()
        );
    }
    let informational: Vec<String> =
        cases.iter().flat_map(|c| c.informational.iter().map(move |i| format!("  {} {}", c.id, i.line()))).collect();
    if !informational.is_empty() && !hooks.quiet {
        println!(
            "note: {} failed judgement(s) rest on an inference the profile makes informational: recorded, no verdict \
             changed (run.json cases[].informational):\n{}",
            informational.len(),
            informational.join("\n")
        );
    }
    let applicability = prepared.item_applicability(&registry);
    let result = RunResult {
        suite_version: crate::SUITE_VERSION.to_string(),
        catalog_digest: digest,
        catalog: opts.catalog.clone(),
        interrupted,
        iut: prepared.iut_json.clone(),
        cases,
        selection,
        late_traffic,
    };
    Ok(RunOutput { result, applicability })
}

/// SHA-256 over the SCR items and the catalog's digest: the run's catalog digest when the
/// caller gives no [`CatalogInfo`] (library use; the CLI records the bundle's digest).
pub fn catalog_digest(registry: &Registry, catalog: &Catalog) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for item in registry.items() {
        h.update(format!("{}|{}|{}|{:?}\n", item.id, item.status, item.function, item.requires_text).as_bytes());
    }
    h.update(catalog.digest.as_bytes());
    hex::encode(h.finalize())
}

/// A case the run's selection left out: `not-selected`, unless it does not apply to the IUT
/// anyway (then `not-applicable`, the more telling reason).
fn outside_selection(case: &Case, prepared: &target::Prepared, registry: &Registry, why: String) -> CaseResult {
    match prepared.applicability(case, registry) {
        Some((false, reason)) => skeleton(case, Verdict::NotApplicable, Some(Reason::new(reason)), 0),
        _ => skeleton(case, Verdict::NotSelected, Some(Reason::new(why)), 0),
    }
}

/// The selection of a partial run: how many of the cases applicable to the IUT it kept, and
/// what chose them (None when it kept every applicable case).
fn selection_of(
    catalog: &Catalog,
    cases: &[CaseResult],
    prepared: &target::Prepared,
    registry: &Registry,
    opts: &RunOptions,
) -> Option<super::result::Selection> {
    let applicable =
        catalog.cases.iter().filter(|c| prepared.applicability(c, registry).is_none_or(|(ok, _)| ok)).count();
    let left_out = cases.iter().filter(|c| c.verdict == Verdict::NotSelected).count();
    if left_out == 0 {
        return None;
    }
    let mut filters = Vec::new();
    if let Some(r) = opts.role {
        filters.push(format!("--role {r}"));
    }
    filters.extend(opts.scr_patterns.iter().map(|p| format!("--scr {p}")));
    if let Some(f) = &opts.libtest.filter {
        filters.push(if opts.libtest.exact { format!("{f} --exact") } else { f.clone() });
    }
    filters.extend(opts.libtest.skip.iter().map(|s| format!("--skip {s}")));
    Some(super::result::Selection { selected: applicable.saturating_sub(left_out), applicable, filters })
}

fn skeleton(case: &Case, verdict: Verdict, reason: Option<Reason>, duration_ms: u64) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        role: case.role.to_string(),
        covers: case.covers.clone(),
        verdict,
        reason,
        duration_ms,
        evidence: Default::default(),
        inferred: Default::default(),
        informational: Vec::new(),
        trace: Vec::new(),
    }
}

/// Runs one case against the bundled reference peers switched into `faults`, returning its
/// full result (verdict, reason, trace).
pub async fn run_against_reference(
    case: &Case,
    registry: Arc<Registry>,
    faults: std::collections::BTreeSet<String>,
) -> CaseResult {
    // A case that needs HTTPS runs over it (certificates of a CA generated for the run).
    let tls = case
        .applies_if
        .as_deref()
        .is_some_and(|a| a.contains(crate::ics::CAP_CLIENT_TLS) || a.contains(crate::ics::CAP_SERVER_TLS));
    let prepared = match Target::reference(faults).map(|t| t.with_tls(tls)) {
        Ok(t) => target::prepare(&t, &registry).await,
        Err(e) => Err(e),
    };
    match prepared {
        Ok(p) => run_one(case, registry, &p, &Interrupt::default()).await,
        Err(e) => skeleton(case, Verdict::Error, Some(Reason::new(format!("{e:#}"))), 0),
    }
}

/// How long the peers of an interrupted case may take to stop before the run goes on without them.
const INTERRUPTED_TEARDOWN: std::time::Duration = std::time::Duration::from_secs(2);

async fn run_one(
    case: &Case,
    registry: Arc<Registry>,
    prepared: &target::Prepared,
    interrupt: &Interrupt,
) -> CaseResult {
    let setup = match prepared.case_env(case, registry).await {
        Ok(s) => s,
        Err(e) => {
            return skeleton(case, Verdict::Error, Some(Reason::new(format!("cannot set up the case: {e:#}"))), 0);
        }
    };
    let missing: Vec<&String> = case.pixit.iter().filter(|p| !setup.env.settings.pixit.contains_key(*p)).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        setup.teardown().await;
        return skeleton(
            case,
            Verdict::Error,
            Some(Reason::new(format!("the PIXIT lacks values this case needs: {}", names.join(", ")))),
            0,
        );
    }
    let started = std::time::Instant::now();
    // An interrupt ends the case here, at its next await point: whatever it awaits (an upper
    // tester answer, a message from the IUT) is dropped, and its peers are stopped.
    let ex = tokio::select! {
        ex = exec::execute(case, &setup.env) => ex,
        () = interrupt.wait() => {
            let _ = tokio::time::timeout(INTERRUPTED_TEARDOWN, setup.teardown()).await;
            let signal = interrupt.signal().map(super::interrupt::name).unwrap_or("signal");
            let why = format!("run interrupted ({signal}) while this case was running; the case was stopped");
            return skeleton(case, Verdict::NotTested, Some(Reason::new(why)), started.elapsed().as_millis() as u64);
        }
    };
    setup.teardown().await;
    let sensitive = prepared.sensitive.clone();
    let mut trace = ex.trace.entries();
    crate::trace::scrub(&mut trace, &sensitive);
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        role: case.role.to_string(),
        covers: case.covers.clone(),
        verdict: ex.verdict,
        reason: ex.reason,
        duration_ms: ex.duration.as_millis() as u64,
        evidence: ex.evidence,
        inferred: ex.inferred,
        informational: ex.informational,
        trace,
    }
}
