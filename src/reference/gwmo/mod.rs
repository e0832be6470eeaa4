//! Reference DM Gateway (GwMO, scr/gwmo/gwmo.toml, docs/gwmo.md): a DM 2.0 client toward its DM
//! server (northbound) and a DM 2.0 server toward its End Devices (southbound), in proxy mode.
//!
//! # Endpoints (one listener, `GatewayConfig::listen`)
//! - `POST /ut`: the upper tester: `reset`, `idle`, `iut.state`, `session.start` (a session
//!   with the DM server, `GatewayConfig::server_url`), and `gateway.attach` {`notify_base`,
//!   `groups`: [{`name`, `id_prefix`, `count`}]}: the End Devices the gateway manages (device
//!   discovery is out of GwMO's scope, digest §4.1), DeviceIDs `<id_prefix>00001` …, each
//!   notified at `<notify_base>/<DeviceID>`; it answers {`dm_url`: the southbound DM server URL
//!   the devices open their sessions with, `devices`: how many}.
//! - `POST /gw/dm`: the southbound DM server (Package#1 / Package#3 of the End Devices).
//! - `GET /gw/img/<name>`: the gateway-local download server: the images it holds, at their
//!   LocalImageURI.
//!
//! # Management objects (northbound; ClientURIs `<MOID>/<MIID>/<path>`)
//! - Image Inventory (`urn:oma:mo:oma-gwmo-imageinventory:1.0`): any image instance `<img>/`,
//!   with `ImageURI` (HGET writes it), `Operations/Download` (EXEC: 202, then after the session
//!   the gateway downloads ImageURI, stores the image, sets `LocalImageURI` to
//!   `<base>/gw/img/<name>` and sends the Image Ready alert) and `LocalImageURI` (HPUT reads it).
//! - Fanout (`urn:oma:mo:oma-gwmo-fanout:1.0`): any job `<fo>/` with `DMCommands` (profile
//!   `gwmo_dmcommands_form`) and `TargetGroupRef` (HGET), `Operations/Start` (EXEC: 202, then
//!   the fan-out: a Package#0 to every member of the group, the DMCommands in the Package#2 of
//!   each device's session, its Package#3 collected; a device that has not answered within
//!   `GatewayConfig::device_timeout` is reported with an `Error`), `Results` (the aggregate).
//! - Gateway Config (`urn:oma:mo:oma-gwmo-config:1.1`): `Groups/<name>/DeviceIDs` (a JSON array).
//! - Device Inventory (`urn:oma:mo:oma-gwmo-deviceinventory:1.1`): `<DeviceID>/DeviceID`.
//!
//! Commands: HGET (MO serialization: the first element's MOData, keyed by the node's name or
//! bare), HPUT (MO serialization of the targets; a node without a value 404), EXEC (above;
//! any other node 405), DELETE 200, CONT, END; others 501. Asynchronous results (Image Ready,
//! the Fanout alert) go in a new session to the EXEC's ServerURI (else the DM server):
//! Package#1 with ClientInitiatedMgmt and the alert, SourceURI the EXEC'd node.
//!
//! # Faults (`client.` + name; see [`FAULTS`])
pub(crate) mod members;
mod northbound;
mod southbound;

use super::common::{self, fault};
use super::faults::FaultInfo;
use super::ut_server;
use crate::scr::Role;
use crate::upper_tester::{action, UtAnswer, UtRequest};
use crate::wire::dm2::gwmo::DeviceResult;
use crate::wire::dm2::Profile;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The reference gateway's DevID toward its DM server.
pub const DEFAULT_DEV_ID: &str = "GW:dmcts-ref-gateway";
/// Its SERVER-ID toward its End Devices.
pub const SERVER_ID: &str = "dmcts-ref-gateway";

/// Faults of the reference gateway; each breaks one GwMO gateway item observably.
pub const FAULTS: &[FaultInfo] = &[
    fault!(
        Client,
        "gw-download-no-202",
        "EXEC of an image's Operations/Download is answered 200, not 202, though the download runs after the session",
        ["GWMO-001-C-M"]
    ),
    fault!(
        Client,
        "gw-local-uri-unset",
        "after the download LocalImageURI is left empty (the Image Ready alert still names the local URI)",
        ["GWMO-002-C-M"]
    ),
    fault!(
        Client,
        "gw-image-ready-early",
        "the Image Ready alert is sent before the image is downloaded (the download follows it)",
        ["GWMO-003-C-M"]
    ),
    fault!(
        Client,
        "gw-wrong-local-uri",
        "the Image Ready alert names a LocalImageURI other than the one the node holds",
        ["GWMO-003-C-M"]
    ),
    fault!(
        Client,
        "gw-local-uri-not-served",
        "the gateway-local download server answers 404 at the LocalImageURI",
        ["GWMO-004-C-M"]
    ),
    fault!(
        Client,
        "gw-fanout-no-202",
        "EXEC of a Fanout job's Operations/Start is answered 200, not 202, though the fan-out runs after the session",
        ["GWMO-005-C-M"]
    ),
    fault!(
        Client,
        "gw-other-group",
        "the fan-out also reaches the members of every other group, and reports their results",
        ["GWMO-006-C-M"]
    ),
    fault!(
        Client,
        "gw-commands-altered",
        "the End Devices get the DMCommands without the last command (one command: with an extra EXEC)",
        ["GWMO-007-C-M"]
    ),
    fault!(
        Client,
        "gw-missing-device",
        "the aggregated results leave the last member of the group out",
        ["GWMO-008-C-M"]
    ),
    fault!(Client, "gw-no-alert", "no Fanout alert is sent after the fan-out", ["GWMO-008-C-M"]),
    fault!(
        Client,
        "gw-failed-as-success",
        "a device that did not answer, or answered with errors, is reported with a successful result",
        ["GWMO-009-C-M"]
    ),
];

/// The faults this peer is switched into.
pub type Faults = super::faults::ActiveFaults;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    /// The northbound DM server's URL (Package#1 of `session.start`).
    pub server_url: String,
    pub dev_id: String,
    pub profile: Profile,
    pub faults: BTreeSet<String>,
    /// How long the gateway waits for an End Device's session after notifying it.
    pub device_timeout: Duration,
    /// At most this many End Device sessions at once.
    pub fanout_window: usize,
    pub http_timeout: Duration,
    pub echo_log: bool,
    /// Lawful variations (a gateway other than the reference's usual self, for tests).
    pub variant: Variant,
    /// HTTPS trust toward the DM server (its sessions, the repositories its HGETs name).
    pub tls: Option<crate::peers::tls::ClientTls>,
}

/// Lawful ways a gateway may differ from the reference's default behaviour (none is a fault):
/// the suite's cases must pass with any of them.
#[derive(Debug, Clone, Default)]
pub struct Variant {
    /// The aggregate lists the devices in reverse order of the group.
    pub reverse_results: bool,
    /// The alerts' SourceURI is the instance (`<image>`, `<fanout>`), not the EXEC'd node.
    pub instance_source: bool,
}

impl GatewayConfig {
    pub fn new(server_url: impl Into<String>) -> GatewayConfig {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            server_url: server_url.into(),
            dev_id: DEFAULT_DEV_ID.into(),
            profile: Profile::default(),
            faults: BTreeSet::new(),
            device_timeout: Duration::from_millis(3000),
            fanout_window: 64,
            http_timeout: Duration::from_secs(10),
            echo_log: false,
            variant: Variant::default(),
            tls: None,
        }
    }
}

pub(crate) use members::Group;

/// Work the northbound session leaves for after it ends.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    Download { img: String, exec: String, server_uri: Option<String> },
    Fanout { fo: String, exec: String, server_uri: Option<String> },
}

#[derive(Default)]
pub(crate) struct State {
    /// Node values by ClientURI (as the server addressed them).
    pub tree: BTreeMap<String, Value>,
    /// Images held for the End Devices: name → bytes (served at /gw/img/<name>).
    pub images: BTreeMap<String, Arc<Vec<u8>>>,
    pub groups: Vec<Group>,
    pub notify_base: Option<String>,
    /// End Devices a fan-out waits for: DeviceID → (commands to send, where its result goes).
    pub waiting: HashMap<String, Pending>,
    /// Sessions and fan-outs in progress.
    pub busy: usize,
    pub notification_id: u16,
    pub errors: Vec<String>,
}

pub(crate) struct Pending {
    pub commands: Arc<Vec<Vec<String>>>,
    pub result: Option<tokio::sync::oneshot::Sender<DeviceResult>>,
}

impl State {
    fn reset(&mut self) {
        let busy = self.busy;
        *self = State::default();
        self.busy = busy;
    }
}

pub(crate) struct Shared {
    pub cfg: GatewayConfig,
    pub faults: Faults,
    pub http: reqwest::Client,
    /// `http://<addr>`.
    pub base: String,
    pub log: common::ExchangeLog,
    state: Mutex<State>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        common::lock(&self.state)
    }
    pub fn log(&self, line: String) {
        self.log.push(line);
    }
    fn is_idle(&self) -> bool {
        self.lock().busy == 0
    }
}

/// Counts a piece of work in `busy` while it runs (so `idle` and `iut.state` see it).
pub(crate) struct Busy(Arc<Shared>);

impl Busy {
    pub fn new(sh: &Arc<Shared>) -> Busy {
        sh.lock().busy += 1;
        Busy(sh.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.busy = st.busy.saturating_sub(1);
    }
}

async fn handle_ut(sh: Arc<Shared>, req: UtRequest) -> UtAnswer {
    sh.log(format!("upper tester: {}", req.action));
    match req.action.as_str() {
        action::RESET => {
            common::wait_until(Duration::from_secs(5), || sh.is_idle()).await;
            sh.lock().reset();
            UtAnswer::done(Value::Null)
        }
        action::IUT_STATE => ut_server::iut_state_answer(sh.is_idle()),
        action::IDLE => match common::wait_until(Duration::from_secs(5), || sh.is_idle()).await {
            true => UtAnswer::done(Value::Null),
            false => UtAnswer::failed("a session or a fan-out is still in progress after 5 s"),
        },
        action::SESSION_START => {
            let busy = Busy::new(&sh);
            let url = sh.cfg.server_url.clone();
            tokio::spawn(async move {
                let _busy = busy;
                northbound::session(&_busy.0, &url, Vec::new()).await;
            });
            UtAnswer::done(Value::Null)
        }
        action::GATEWAY_ATTACH => attach(&sh, &req.args),
        other => UtAnswer::unsupported(format!("the reference gateway does not implement {other:?}")),
    }
}

fn attach(sh: &Shared, args: &Value) -> UtAnswer {
    let attached = match members::Attached::parse(args) {
        Ok(a) => a,
        Err(e) => return UtAnswer::failed(e),
    };
    let total = attached.total();
    let mut st = sh.lock();
    st.notify_base = Some(attached.notify_base);
    st.groups = attached.groups;
    UtAnswer::done(json!({ "dm_url": format!("{}{}", sh.base, southbound::DM_PATH), "devices": total }))
}

/// The addresses of a running reference gateway.
pub struct GatewayUrls {
    pub addr: SocketAddr,
    pub ut_url: String,
    /// The southbound DM server URL (End Devices).
    pub dm_url: String,
}

/// A running reference gateway.
pub type RunningGateway = common::RunningPeer<GatewayUrls>;

/// Starts the gateway on the current tokio runtime.
pub async fn spawn(config: GatewayConfig) -> anyhow::Result<RunningGateway> {
    let faults = Faults::parse(Role::Client, &config.faults)?;
    let builder = match &config.tls {
        Some(t) => t.apply(reqwest::Client::builder()).map_err(|e| anyhow::anyhow!("configuring HTTPS: {e}"))?,
        None => reqwest::Client::builder(),
    };
    let http = builder
        .no_proxy()
        .timeout(config.http_timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(512)
        .build()?;
    let listener = common::Listening::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let log = common::ExchangeLog::new(config.echo_log.then_some("ref-gateway"));
    let shared = Arc::new(Shared { cfg: config, faults, http, base: base.clone(), log, state: Default::default() });
    let sh = shared.clone();
    let ut: ut_server::UtHandler = Arc::new(move |req| Box::pin(handle_ut(sh.clone(), req)));
    let app = ut_server::router(ut.clone()).merge(southbound::router(shared.clone()));
    let listening = common::Listening::serve(listener, app)?;
    let urls = GatewayUrls {
        addr,
        ut_url: format!("{base}{}", ut_server::UT_PATH),
        dm_url: format!("{base}{}", southbound::DM_PATH),
    };
    let log = shared.clone();
    Ok(common::RunningPeer::new(urls, ut, move || log.log.lines(), vec![listening]))
}

/// `dmcts reference gateway` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// Address serving /ut, /gw/dm and /gw/img/….
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The DM server the gateway opens its sessions with.
    #[arg(long)]
    pub server_url: Option<String>,
    /// Milliseconds the gateway waits for an End Device's session after notifying it.
    #[arg(long, default_value_t = 3000)]
    pub device_timeout_ms: u64,
    /// At most this many End Device sessions at once.
    #[arg(long, default_value_t = 64)]
    pub fanout_window: usize,
    /// Lawful variation: the aggregate lists the devices in reverse order.
    #[arg(long)]
    pub reverse_results: bool,
    /// Lawful variation: the alerts' SourceURI is the instance, not the EXEC'd node.
    #[arg(long)]
    pub instance_source: bool,
    /// Inject a fault (repeatable), e.g. `--fault client.gw-missing-device`.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// List the faults and exit.
    #[arg(long)]
    pub list_faults: bool,
    /// HTTPS toward the DM server: the CA (PEM) its certificate chains to.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
}

/// CLI entry: spawn, print the URLs, run until Ctrl-C.
pub async fn run_cli(args: GatewayArgs) -> anyhow::Result<()> {
    if args.list_faults {
        common::print_faults(FAULTS, 32);
        return Ok(());
    }
    let Some(server_url) = args.server_url else { anyhow::bail!("--server-url (the DM server's URL) is required") };
    let mut cfg = GatewayConfig::new(server_url);
    cfg.listen = args.listen;
    cfg.device_timeout = Duration::from_millis(args.device_timeout_ms.max(1));
    cfg.faults = args.faults.iter().cloned().collect();
    cfg.fanout_window = args.fanout_window.max(1);
    cfg.variant = Variant { reverse_results: args.reverse_results, instance_source: args.instance_source };
    cfg.echo_log = true;
    if let Some(f) = &args.ca {
        let (ca_pem, _) = crate::peers::tls::read_roots(f).map_err(|e| anyhow::anyhow!("--ca: {e}"))?;
        cfg.tls = Some(crate::peers::tls::ClientTls {
            ca_pem,
            ca_source: f.display().to_string(),
            identity: None,
            accept_any: false,
        });
    }
    let running = spawn(cfg).await?;
    println!("reference gateway upper tester: {}", running.ut_url);
    println!("reference gateway southbound DM server (End Devices): {}", running.dm_url);
    common::until_ctrl_c(running.shutdown()).await
}
