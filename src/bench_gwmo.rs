//! A GwMO image fan-out at scale, for `dmcts bench` (`--gwmo-only`): the case TC-GW-002
//! (image distribution, then a fan-out of the LocalImageURI to a group of N End Devices, every
//! device reached and the aggregate checked item by item) against the reference gateway, with
//! PIXIT `mo.gw_end_devices` = N, and its SyncML DM 1.2 form TC-GW12-002 against the reference
//! DM 1.2 gateway (DM 1.2 End Devices; the aggregate one Generic Alert of 2N Items). The suite,
//! the gateway and the N simulated End Devices share this process; the peak RSS is VmHWM after
//! the peak was reset, i.e. this run's alone.
use crate::catalog::Catalog;
use crate::runner::target::{self, Target};
use crate::scr::Registry;
use crate::verdict::Verdict;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The cases the bench runs: the DM 2.0 form and the SyncML DM 1.2 one.
pub const CASES: [(&str, &str); 2] = [("TC-GW-002", "DM 2.0"), ("TC-GW12-002", "SyncML DM 1.2")];
/// The sizes `dmcts bench` reports.
pub const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// What one fan-out measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub devices: usize,
    pub wall: Duration,
    pub peak_rss_kib: Option<u64>,
    pub verdict: Verdict,
    pub reason: Option<String>,
}

/// Runs `case_id` (one of [`CASES`]) against its reference gateway with `devices` End Devices in
/// the group.
pub async fn fan_out(
    registry: Arc<Registry>,
    catalog: &Catalog,
    case_id: &str,
    devices: usize,
) -> anyhow::Result<Measured> {
    let case = catalog
        .cases
        .iter()
        .find(|c| c.id == case_id)
        .ok_or_else(|| anyhow::anyhow!("{case_id} is not in the catalog"))?;
    let prepared = target::prepare(&Target::reference(Default::default())?, &registry).await?;
    let mut setup = prepared.case_env(case, registry.clone()).await?;
    setup.env.settings.pixit.insert("mo.gw_end_devices".into(), serde_json::json!(devices.to_string()));
    // Room for the largest size on a slow machine; the figure is the wall time, not the bound.
    setup.env.settings.step_timeout = setup.env.settings.step_timeout.max(Duration::from_secs(60));
    setup.env.settings.case_timeout = setup.env.settings.case_timeout.max(Duration::from_secs(120));
    crate::bench_fumo::reset_peak();
    let t = Instant::now();
    let ex = crate::runner::exec::execute(case, &setup.env).await;
    let wall = t.elapsed();
    let peak_rss_kib = crate::bench_fumo::vm_hwm_kib();
    setup.teardown().await;
    Ok(Measured { devices, wall, peak_rss_kib, verdict: ex.verdict, reason: ex.reason.map(|r| r.render()) })
}

/// The bench's lines: one per binding and size.
pub fn bench_lines(rt: &tokio::runtime::Runtime, registry: Arc<Registry>, catalog: &Catalog) -> String {
    let mut out = String::new();
    for (case, protocol) in CASES {
        out.push_str(&format!(
            "GwMO image fan-out, {protocol} ({case} against the reference gateway; every device reached, the aggregate checked):\n"
        ));
        out.push_str(&size_lines(rt, registry.clone(), catalog, case));
    }
    out
}

fn size_lines(rt: &tokio::runtime::Runtime, registry: Arc<Registry>, catalog: &Catalog, case: &str) -> String {
    let mut out = String::new();
    for n in SIZES {
        match rt.block_on(fan_out(registry.clone(), catalog, case, n)) {
            Ok(m) => out.push_str(&format!(
                "  {:>6} end devices: {:.2} s, peak RSS {}, verdict {}{}\n",
                m.devices,
                m.wall.as_secs_f64(),
                m.peak_rss_kib.map(|k| format!("{} MiB", k / 1024)).unwrap_or_else(|| "n/a".into()),
                m.verdict,
                m.reason.map(|r| format!(" ({})", r.lines().next().unwrap_or_default())).unwrap_or_default()
            )),
            Err(e) => out.push_str(&format!("  {n:>6} end devices: could not run: {e:#}\n")),
        }
    }
    out
}
