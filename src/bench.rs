//! `dmcts bench`: wall time of the full two-role run against the reference peers, of a run
//! against faulty reference peers that make many cases fail, of the selftest, and the
//! harness's own overhead per case (set-up and tear-down of the listener, the reference peer
//! and the upper tester, with no steps). Figures come from here, never from timed assertions
//! in tests.
use crate::catalog::Catalog;
use crate::runner::target::{self, Target};
use crate::scr::Registry;
use crate::verdict::Verdict;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs every case of the catalog against the clean reference peers, `parallel` at a time,
/// and returns the verdicts (the same work as `dmcts run --against reference`, without the
/// console and report output).
pub async fn reference_run(registry: Arc<Registry>, catalog: Arc<Catalog>, parallel: usize) -> Vec<(String, Verdict)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut jobs = tokio::task::JoinSet::new();
    for case in catalog.cases.iter().cloned() {
        let (registry, sem) = (registry.clone(), sem.clone());
        jobs.spawn(async move {
            let _p = sem.acquire_owned().await;
            let (v, _, _) = crate::selftest::run_case(&case, registry, Default::default()).await;
            (case.id.clone(), v)
        });
    }
    let mut out = Vec::new();
    while let Some(Ok(r)) = jobs.join_next().await {
        out.push(r);
    }
    out.sort();
    out
}

/// The faults of the faulty-peer run: a client that drops every session after its first
/// Package#2 (no Package#3 ever) and a server that never sends the notifications it says it
/// sent. Each makes every case of its kind wait for a message that will not come; the peers'
/// upper tester says they are idle, so no wait should last the step timeout (issue 8 §8).
pub const FAULTY_RUN_FAULTS: [&str; 2] = ["client.package-flow-stops", "server.notifications-never-sent"];

/// One faulty-peer run: every case against the reference peers switched into
/// [`FAULTY_RUN_FAULTS`], `parallel` at a time.
pub struct FaultyRun {
    pub wall: Duration,
    /// Cases whose verdict is not pass.
    pub not_pass: usize,
    /// The sum of the failing cases' durations: what they cost a run that takes one case at a
    /// time, as an `--ics` run does.
    pub not_pass_sequential: Duration,
    /// Failing cases that lasted at least the step timeout, by id.
    pub waited_step_timeout: Vec<String>,
}

pub async fn faulty_run(registry: Arc<Registry>, catalog: Arc<Catalog>, parallel: usize) -> FaultyRun {
    let step = crate::runner::target::reference_ics(crate::scr::Role::Client, "http://127.0.0.1:9/ut", None)
        .pixit
        .timeouts
        .step();
    let faults: std::collections::BTreeSet<String> = FAULTY_RUN_FAULTS.iter().map(|f| f.to_string()).collect();
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut jobs = tokio::task::JoinSet::new();
    let t = Instant::now();
    for case in catalog.cases.iter().cloned() {
        let (registry, sem, faults) = (registry.clone(), sem.clone(), faults.clone());
        jobs.spawn(async move {
            let _p = sem.acquire_owned().await;
            let r = crate::runner::run::run_against_reference(&case, registry, faults).await;
            (case.id.clone(), r.verdict, Duration::from_millis(r.duration_ms))
        });
    }
    let mut out = FaultyRun {
        wall: Duration::ZERO,
        not_pass: 0,
        not_pass_sequential: Duration::ZERO,
        waited_step_timeout: vec![],
    };
    while let Some(Ok((id, verdict, took))) = jobs.join_next().await {
        if verdict != Verdict::Pass {
            out.not_pass += 1;
            out.not_pass_sequential += took;
            if took >= step {
                out.waited_step_timeout.push(id);
            }
        }
    }
    out.wall = t.elapsed();
    out.waited_step_timeout.sort();
    out
}

fn stats(samples: &mut [Duration]) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    format!(
        "min {:>8.1} ms  median {:>8.1} ms  max {:>8.1} ms  (n={})",
        ms(samples[0]),
        ms(median),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}

pub fn run(registry: Arc<Registry>, catalog: Arc<Catalog>, iterations: u32) -> anyhow::Result<String> {
    let iterations = iterations.max(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut out = format!(
        "dmcts bench: {} cases, {} iterations, {} CPUs\n",
        catalog.cases.len(),
        iterations,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );

    let mut full = Vec::new();
    let mut not_pass = 0;
    for _ in 0..iterations {
        let t = Instant::now();
        let verdicts =
            rt.block_on(reference_run(registry.clone(), catalog.clone(), crate::runner::run::REFERENCE_THREADS));
        full.push(t.elapsed());
        not_pass += verdicts.iter().filter(|(_, v)| *v != Verdict::Pass).count();
    }
    out.push_str(&format!("run --against reference (both roles): {}\n", stats(&mut full)));
    if not_pass > 0 {
        out.push_str(&format!("  WARNING: {not_pass} case runs did not pass on the clean reference\n"));
    }
    // Each protocol binding on its own (issue 11: the DM 1.2 run next to the DM 2.0 run).
    for (family, label) in [("dm2", "DM 2.0 (JSON)"), (crate::binding::dm12::NAME_XML, "DM 1.2 (XML + WBXML)")] {
        let part = Arc::new(Catalog {
            cases: catalog.cases.iter().filter(|c| crate::binding::family_of(&c.binding) == family).cloned().collect(),
            digest: catalog.digest.clone(),
        });
        if part.cases.is_empty() {
            continue;
        }
        let mut times = Vec::new();
        for _ in 0..iterations {
            let t = Instant::now();
            rt.block_on(reference_run(registry.clone(), part.clone(), crate::runner::run::REFERENCE_THREADS));
            times.push(t.elapsed());
        }
        let n = part.cases.len();
        let per_case = times.iter().map(|t| t.as_secs_f64() * 1000.0 / n as f64).fold(f64::MAX, f64::min);
        out.push_str(&format!("  {label:<22} {n:>3} cases: {} (best {per_case:.1} ms per case)\n", stats(&mut times)));
    }

    // A faulty-peer run: how long failing cases take (issue 8 §8: a failing IUT must not cost
    // a step timeout per case where its upper tester can say it is idle).
    let mut wall = Vec::new();
    let mut sequential = Vec::new();
    let mut last = None;
    for _ in 0..iterations {
        let r = rt.block_on(faulty_run(registry.clone(), catalog.clone(), crate::runner::run::REFERENCE_THREADS));
        wall.push(r.wall);
        sequential.push(r.not_pass_sequential);
        last = Some(r);
    }
    out.push_str(&format!("run --against reference, faulty peers:  {}\n", stats(&mut wall)));
    if let Some(r) = last {
        out.push_str(&format!(
            "  faults {}: {} of {} cases fail\n",
            FAULTY_RUN_FAULTS.join(" + "),
            r.not_pass,
            catalog.cases.len()
        ));
        out.push_str(&format!(
            "  the failing cases one at a time (sum of their durations): {}\n",
            stats(&mut sequential)
        ));
        out.push_str(&format!(
            "  failing cases that lasted a step timeout: {}{}\n",
            r.waited_step_timeout.len(),
            if r.waited_step_timeout.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.waited_step_timeout.join(", "))
            }
        ));
    }

    let mut st = Vec::new();
    for _ in 0..iterations.min(3) {
        let t = Instant::now();
        let r = rt.block_on(crate::selftest::selftest(registry.clone(), catalog.clone()));
        st.push(t.elapsed());
        if !r.ok {
            out.push_str("  WARNING: the selftest did not pass\n");
        }
    }
    out.push_str(&format!("selftest:                              {}\n", stats(&mut st)));

    // Harness overhead: prepare the target and set up/tear down each case's environment.
    let mut per_case = Vec::new();
    for _ in 0..iterations {
        for case in &catalog.cases {
            let t = Instant::now();
            rt.block_on(async {
                let target = Target::reference(Default::default())?;
                let prepared = target::prepare(&target, &registry).await?;
                let setup = prepared.case_env(case, registry.clone()).await?;
                setup.teardown().await;
                Ok::<_, anyhow::Error>(())
            })?;
            per_case.push(t.elapsed());
        }
    }
    out.push_str(&format!("harness overhead per case (set-up + tear-down): {}\n", stats(&mut per_case)));
    // Issue 10: a 64 MiB FUMO DownloadAndUpdate, wall time and peak memory (bench_fumo).
    out.push_str(&crate::bench_fumo::bench_line(&rt));
    // Issue 12: a GwMO fan-out to 100, 1,000 and 10,000 End Devices, time and peak memory.
    out.push_str(&crate::bench_gwmo::bench_lines(&rt, registry.clone(), &catalog));
    Ok(out)
}

/// `dmcts bench --gwmo-only`: the GwMO fan-out figures alone.
pub fn gwmo_only(registry: Arc<Registry>, catalog: Arc<Catalog>) -> anyhow::Result<String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    Ok(crate::bench_gwmo::bench_lines(&rt, registry, &catalog))
}
