//! The test-fest's figures for `dmcts bench`: wall time and peak memory of
//! `dmcts testfest --against reference --iuts N`, run as a child process so that its memory
//! and its reference peers' (grandchildren) can be read from /proc while it runs.
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One measured test-fest.
#[derive(Debug, Clone)]
pub struct Figure {
    pub iuts: usize,
    pub wall: Duration,
    /// Peak resident set of the dmcts testfest process itself (kB; VmHWM), if /proc has it.
    pub peak_rss_kb: Option<u64>,
    /// Peak of the sum of the resident sets of that process and all its descendants (the
    /// reference peer processes), sampled every [`SAMPLE`] (kB).
    pub peak_tree_rss_kb: Option<u64>,
    pub exit_code: Option<i32>,
}

const SAMPLE: Duration = Duration::from_millis(100);

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every process whose parent chain reaches `root`, `root` included.
fn tree(root: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return vec![root] };
    let parents: Vec<(u32, u32)> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name is in parentheses and may hold spaces: read after the last ')'.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// Runs one test-fest of `n` reference IUTs with the dmcts binary `exe`, reports under `dir`.
pub fn measure(exe: &Path, n: usize, dir: &Path) -> anyhow::Result<Figure> {
    let t = Instant::now();
    let mut child = Command::new(exe)
        .args(["testfest", "--against", "reference", "--iuts", &n.to_string(), "--report-dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let (mut peak, mut peak_tree) = (None::<u64>, None::<u64>);
    let code = loop {
        if let Some(status) = child.try_wait()? {
            break status.code();
        }
        if let Some(hwm) = status_kb(pid, "VmHWM:") {
            peak = Some(peak.unwrap_or(0).max(hwm));
        }
        let sum: u64 = tree(pid).into_iter().filter_map(|p| status_kb(p, "VmRSS:")).sum();
        if sum > 0 {
            peak_tree = Some(peak_tree.unwrap_or(0).max(sum));
        }
        std::thread::sleep(SAMPLE);
    };
    Ok(Figure { iuts: n, wall: t.elapsed(), peak_rss_kb: peak, peak_tree_rss_kb: peak_tree, exit_code: code })
}

/// The bench's test-fest lines for each N of `ns`.
pub fn report(ns: &[usize]) -> anyhow::Result<String> {
    let exe = std::env::current_exe()?;
    let mut out = String::new();
    for &n in ns {
        let dir = std::env::temp_dir().join(format!("dmcts-bench-testfest-{n}-{}", std::process::id()));
        let f = measure(&exe, n, &dir)?;
        let _ = std::fs::remove_dir_all(&dir);
        let mb = |kb: Option<u64>| kb.map(|k| format!("{:.0} MB", k as f64 / 1024.0)).unwrap_or_else(|| "n/a".into());
        out.push_str(&format!(
            "testfest --against reference --iuts {n:<3} wall {:>8.1} ms  peak RSS dmcts {:>7}  dmcts + peers {:>7}{}\n",
            f.wall.as_secs_f64() * 1000.0,
            mb(f.peak_rss_kb),
            mb(f.peak_tree_rss_kb),
            match f.exit_code {
                Some(0) => String::new(),
                c => format!("  WARNING: exit code {c:?} (not every case passed)"),
            }
        ));
    }
    Ok(out)
}
