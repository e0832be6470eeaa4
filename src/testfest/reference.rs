//! `dmcts testfest --against reference --iuts N`: N bundled reference peers as the test-fest's
//! IUTs, each a separate `dmcts reference client|server` process described by a generated
//! ICS file, exactly as a vendor's IUT would be. Slot i (1-based) is a client when i is odd
//! and a server when i is even, so both roles run side by side from N = 2 on; `--pairs` pairs
//! each client slot with the server slot after it.
use super::roster::{Pair, Roster, RosterIut};
use crate::ics::Ics;
use crate::reference::{client, ics as ref_ics, server};
use crate::scr::{Registry, Role, Status};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The role of slot `i` (1-based).
pub fn slot_role(i: usize) -> Role {
    if i % 2 == 1 {
        Role::Client
    } else {
        Role::Server
    }
}

/// The IUT name of slot `i` of `n`.
pub fn slot_name(i: usize, n: usize) -> String {
    let width = n.to_string().len();
    format!("ref-{i:0width$}-{}", slot_role(i))
}

/// The started peer processes; dropping this stops them.
pub struct Peers {
    children: Vec<Child>,
}

impl Drop for Peers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How long a peer process may take to print its URLs.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Starts `dmcts reference ARGS`, its stderr to `log`; returns it and the `http://` URLs it
/// printed (upper tester, DM endpoint / notifications), keyed by what the line says.
fn start(args: &[String], log: &Path, want: usize) -> anyhow::Result<(Child, Vec<(String, String)>)> {
    let exe = std::env::current_exe()?;
    let log_file = std::fs::File::create(log).map_err(|e| anyhow::anyhow!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("reference").args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(log_file));
    // A test-fest killed outright (SIGKILL: no chance to stop its peers) takes its peers along.
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Read to the end: a closed pipe would end the peer on its next line (SIGPIPE).
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((label, url)) = line.rsplit_once(": ").filter(|(_, u)| u.starts_with("http://")) {
                let _ = tx.send((label.to_string(), url.trim().to_string()));
            }
        }
    });
    let mut urls = Vec::new();
    while urls.len() < want {
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(u) => urls.push(u),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!(
                    "reference peer `dmcts reference {}` did not print its URLs (log: {})",
                    args.join(" "),
                    log.display()
                );
            }
        }
    }
    Ok((child, urls))
}

fn url_of<'a>(urls: &'a [(String, String)], label_has: &str) -> anyhow::Result<&'a str> {
    urls.iter()
        .find(|(l, _)| l.contains(label_has))
        .map(|(_, u)| u.as_str())
        .ok_or_else(|| anyhow::anyhow!("the reference peer printed no {label_has} URL"))
}

/// `[support]` of a reference peer's ICS as the built-in reference ICS has it: every optional
/// item and capability of its role supported, except the transport ones: plain HTTP (TLS
/// false), and HTTP authentication left to the PIXIT account (answered from it).
fn support_lines(registry: &Registry, role: Role) -> String {
    let (tls, http_auth) = match role {
        Role::Client => (crate::ics::CAP_CLIENT_TLS, "ICS-DMC-HTTP-AUTH"),
        Role::Server => (crate::ics::CAP_SERVER_TLS, "ICS-DMS-HTTP-AUTH"),
    };
    // The test-fest's reference peers speak DM 2.0: the tables and capabilities of that binding.
    let dm2 =
        |bindings: &[String]| bindings.is_empty() || bindings.iter().any(|b| b == crate::binding::DEFAULT_BINDING);
    let mut out = String::new();
    for item in registry.items_of(role).into_iter().filter(|i| i.status == Status::O) {
        if registry.table_of(item).is_some_and(|t| dm2(&t.bindings)) {
            out.push_str(&format!("\"{}\" = true\n", item.id));
        }
    }
    for cap in registry.capabilities().iter().filter(|c| c.role == role && c.id != http_auth && dm2(&c.bindings)) {
        out.push_str(&format!("\"{}\" = {}\n", cap.id, cap.id != tls));
    }
    out
}

/// `implements = [...]` of a reference peer's ICS: the tables the built-in reference ICS
/// implements.
fn implements_line() -> String {
    let tables: Vec<String> = ref_ics::REFERENCE_IMPLEMENTS.iter().map(|t| format!("{t:?}")).collect();
    format!("implements = [{}]", tables.join(", "))
}

/// The ICS of the reference client at `ut_url` whose DM server URL is the suite's `port`.
pub fn client_ics(registry: &Registry, port: u16, ut_url: &str, name: &str) -> String {
    format!(
        r#"# Generated by dmcts testfest --against reference: the reference client as IUT {name}.
[iut]
role = "client"
vendor = "dmcts"
product = "reference DM client ({name})"
version = "{version}"
{implements}

[support]
{support}
[pixit.suite]
listen = "127.0.0.1:{port}"
server_url = "http://127.0.0.1:{port}/dm"

[pixit.iut]
dev_id = "{dev_id}"

[pixit.account]
server_id = "{server_id}"
username = "{user}"
password = "{password}"
auth = "digest"

[pixit.notification]
transport = "upper-tester"
secret = "{secret}"
auth_data = "{auth}"

[pixit.upper_tester]
backend = "http"
url = "{ut_url}"

[pixit.timeouts]
step_ms = 5000
case_ms = 30000
run_ms = 1800000
quiet_period_ms = 150

[pixit.mo]
exec_effect_uri = "urn:oma:mo:oma-fumo:1.0//State"
exec_effect_value = "20"
default_moid = "{moid}"
default_data = {{ Config = {{ Server = "dmcts" }} }}
"#,
        version = crate::SUITE_VERSION,
        support = support_lines(registry, Role::Client),
        implements = implements_line(),
        user = ref_ics::REFERENCE_USER,
        password = ref_ics::REFERENCE_PASSWORD,
        dev_id = ref_ics::REFERENCE_DEV_ID,
        secret = ref_ics::REFERENCE_SECRET,
        auth = ref_ics::REFERENCE_AUTH_DATA,
        moid = client::store::MOID_CONFIG,
        server_id = server::DEFAULT_SERVER_ID,
    )
}

/// The ICS of the reference server at `dm_url` / `ut_url`.
pub fn server_ics(registry: &Registry, dm_url: &str, ut_url: &str, name: &str) -> String {
    format!(
        r#"# Generated by dmcts testfest --against reference: the reference server as IUT {name}.
[iut]
role = "server"
vendor = "dmcts"
product = "reference DM server ({name})"
version = "{version}"
{implements}

[support]
{support}
[pixit.suite]
listen = "127.0.0.1:0"

[pixit.iut]
server_uri = "{dm_url}"
dev_id = "{dev_id}"

[pixit.account]
server_id = "{server_id}"
username = "{user}"
password = "{password}"
auth = "digest"

[pixit.notification]
secret = "{secret}"
auth_data = "{auth}"
server_delivery = "listener"

[pixit.upper_tester]
backend = "http"
url = "{ut_url}"

[pixit.timeouts]
step_ms = 5000
case_ms = 30000
run_ms = 1800000
quiet_period_ms = 150

[pixit.mo]
exec_result_alert_type = "urn:oma:at:dmcts-test:1.0:OperationComplete"
"#,
        version = crate::SUITE_VERSION,
        support = support_lines(registry, Role::Server),
        implements = implements_line(),
        user = ref_ics::REFERENCE_USER,
        password = ref_ics::REFERENCE_PASSWORD,
        dev_id = ref_ics::REFERENCE_DEV_ID,
        server_id = server::DEFAULT_SERVER_ID,
        secret = ref_ics::REFERENCE_SECRET,
        auth = ref_ics::REFERENCE_AUTH_DATA,
    )
}

/// Free loopback ports for the client slots' suite listeners, distinct, chosen below the
/// system's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`): a port the system hands
/// out for `bind(0)` or an outgoing connection (the peers', the server runs' listeners) could be
/// taken between choosing it here and the run binding it. Each is checked free when chosen; the
/// start is spread by process id so that test-fests started side by side do not pick the same.
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let (lo, hi) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    // A band of 10000 ports outside the ephemeral range: below it, or above it if it starts low.
    let (start, end) = if lo > 11024 { (lo - 10000, lo) } else { (hi + 1, 65536.min(hi + 10001)) };
    let span = end.saturating_sub(start).max(1);
    let offset = (std::process::id() * 7919) % span;
    let mut out = Vec::new();
    for k in 0..span {
        if out.len() == n {
            break;
        }
        let port = (start + (offset + k) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            out.push(port);
        }
    }
    if out.len() < n {
        anyhow::bail!("found only {} free loopback ports of the {n} the client slots need", out.len());
    }
    Ok(out)
}

/// Starts the N reference peers (switched into the `faults` of their role), writes their ICS
/// files and a roster under `dir/reference/`, and returns the roster and the processes.
pub fn start_peers(
    registry: &Registry,
    n: usize,
    faults: &[String],
    pairs: bool,
    dir: &Path,
    title: Option<String>,
) -> anyhow::Result<(Roster, Peers)> {
    if n == 0 {
        anyhow::bail!("--iuts must be at least 1");
    }
    let ref_dir = dir.join("reference");
    std::fs::create_dir_all(&ref_dir).map_err(|e| anyhow::anyhow!("{}: {e}", ref_dir.display()))?;
    let clients = (1..=n).filter(|i| slot_role(*i) == Role::Client).count();
    let mut ports = free_ports(clients)?.into_iter();
    let mut peers = Peers { children: Vec::new() };
    let mut iuts = Vec::new();
    let mut roster_text = format!(
        "# Generated by dmcts testfest --against reference --iuts {n}\n[testfest]\ntitle = \"{}\"\n",
        title.clone().unwrap_or_else(|| format!("reference test-fest, {n} IUT(s)"))
    );
    for i in 1..=n {
        let role = slot_role(i);
        let name = slot_name(i, n);
        let prefix = format!("{role}.");
        let mut args: Vec<String> = vec![role.to_string(), "--listen".into(), "127.0.0.1:0".into()];
        for f in faults.iter().filter(|f| f.starts_with(&prefix)) {
            args.push("--fault".into());
            args.push(f.clone());
        }
        let log = ref_dir.join(format!("{name}.log"));
        let text = match role {
            Role::Client => {
                let port = ports.next().ok_or_else(|| anyhow::anyhow!("no port left"))?;
                args.push("--server-uri".into());
                args.push(format!("http://127.0.0.1:{port}/dm"));
                // Its account is the reference server's (SrvID), so that it can pair with one.
                args.push("--server-id".into());
                args.push(server::DEFAULT_SERVER_ID.into());
                // Its HTTP credentials, given only when a 401 asks (as in `run --against reference`).
                args.push("--basic".into());
                args.push(format!("{}:{}", ref_ics::REFERENCE_USER, ref_ics::REFERENCE_PASSWORD));
                args.push("--basic-when-asked".into());
                let (child, urls) = start(&args, &log, 2)?;
                peers.children.push(child);
                client_ics(registry, port, url_of(&urls, "upper tester")?, &name)
            }
            Role::Server => {
                let (child, urls) = start(&args, &log, 2)?;
                peers.children.push(child);
                server_ics(registry, url_of(&urls, "DM endpoint")?, url_of(&urls, "upper tester")?, &name)
            }
        };
        let ics_path = ref_dir.join(format!("{name}.toml"));
        std::fs::write(&ics_path, &text).map_err(|e| anyhow::anyhow!("{}: {e}", ics_path.display()))?;
        let ics = Ics::from_str(&text, &ics_path).map_err(|e| anyhow::anyhow!("generated ICS: {e}"))?;
        roster_text.push_str(&format!("\n[[iut]]\nname = \"{name}\"\nics = \"{name}.toml\"\nrole = \"{role}\"\n"));
        iuts.push(RosterIut { name, ics: Arc::new(ics), line: 0 });
    }
    let mut pair_list = Vec::new();
    if pairs {
        for i in (1..n).step_by(2) {
            let p = Pair { client: slot_name(i, n), server: slot_name(i + 1, n) };
            roster_text.push_str(&format!("\n[[pair]]\nclient = \"{}\"\nserver = \"{}\"\n", p.client, p.server));
            pair_list.push(p);
        }
    }
    let roster_path: PathBuf = ref_dir.join("roster.toml");
    std::fs::write(&roster_path, roster_text).map_err(|e| anyhow::anyhow!("{}: {e}", roster_path.display()))?;
    let title = title.unwrap_or_else(|| format!("reference test-fest, {n} IUT(s)"));
    Ok((Roster { path: roster_path, title, iuts, pairs: pair_list }, peers))
}
