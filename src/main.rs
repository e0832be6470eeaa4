//! `dmcts`: the command-line interface. Exit codes: 0 every applicable case passed; 1 a fail
//! or inconc, or a case left not-tested by the end of `timeouts.run_ms`; 2 a configuration or
//! harness error (also for bad command-line input); 128 + the signal number (130 SIGINT, 143
//! SIGTERM) for a run stopped by a signal.
use clap::{Parser, Subcommand, ValueEnum};
use dmcts::bundle::{self, CatalogSource};
use dmcts::ics::Ics;
use dmcts::runner::interrupt::{self, Interrupt};
use dmcts::runner::run::{self, RunOptions};
use dmcts::runner::target::Target;
use dmcts::scr::{Registry, Role};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "dmcts", version, about = "Open conformance test suite for OMA Device Management (DM 2.0)")]
struct Cli {
    /// Folder of SCR tables to use instead of the ones built into dmcts (for catalog authors).
    #[arg(long, global = true, env = "DMCTS_SCR_DIR", value_name = "DIR")]
    scr_dir: Option<PathBuf>,
    /// Folder of cases to use instead of the ones built into dmcts (for catalog authors).
    #[arg(long, global = true, env = "DMCTS_CASES_DIR", value_name = "DIR")]
    cases_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum RoleArg {
    Client,
    Server,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Client => Role::Client,
            RoleArg::Server => Role::Server,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// The SCR tables: list or check them.
    Scr {
        #[command(subcommand)]
        command: ScrCommand,
    },
    /// The case catalog: list or check it.
    Cases {
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// Print, before any traffic, the endpoints to configure the IUT with, and which cases will
    /// run against it and why.
    Plan {
        #[arg(long)]
        ics: PathBuf,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Also list the cases and SCR items of the other role (the JSON always has them all).
        #[arg(long)]
        all: bool,
    },
    /// Run the suite against an IUT (`--ics FILE`) or the bundled reference peers.
    Run {
        #[arg(long, conflicts_with = "against", required_unless_present = "against")]
        ics: Option<PathBuf>,
        /// `reference`: both roles against the bundled reference client and server.
        #[arg(long, value_parser = ["reference"])]
        against: Option<String>,
        /// Switch a reference peer into a fault (with --against reference), repeatable.
        #[arg(long = "fault")]
        faults: Vec<String>,
        /// With --against reference: everything over HTTPS, the certificates issued by a CA
        /// generated for the run (written to <report dir>/dmcts-ca.pem). An ICS asks for HTTPS
        /// in [pixit.tls] instead.
        #[arg(long, requires = "against")]
        tls: bool,
        /// Only cases covering an SCR item matching this pattern (`*` wildcard), repeatable.
        #[arg(long = "scr")]
        scr: Vec<String>,
        /// Only cases testing this IUT role.
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Where reports are written.
        #[arg(long, default_value = "reports/latest")]
        report_dir: PathBuf,
        /// libtest arguments after `--`: `--list`, `--exact`, `--skip`, `--test-threads N`, name filters.
        #[arg(last = true)]
        libtest: Vec<String>,
    },
    /// The Package#0 codec.
    Notification {
        #[command(subcommand)]
        command: NotificationCommand,
    },
    /// The bundled reference peers.
    Reference {
        #[command(subcommand)]
        command: ReferenceCommand,
    },
    /// Prove the suite's verdicts: every case passes on the clean reference peer and fails on
    /// each reference fault it declares; every fault is caught by some case.
    Selftest {
        #[arg(long, default_value = "reports/selftest")]
        report_dir: PathBuf,
    },
    /// Measure the wall time of the reference run and of the selftest, and the per-case overhead.
    Bench {
        #[arg(long, default_value_t = 5)]
        iterations: u32,
    },
}

#[derive(Subcommand)]
enum ScrCommand {
    List {
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Only the items of this table (its `[table] id`, e.g. DM-PACK).
        #[arg(long)]
        table: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    Check,
}

#[derive(Subcommand)]
enum CasesCommand {
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    Check,
    /// The built-in checks cases may name, and what each verifies.
    Builtins,
    /// Write the catalog built into dmcts (`scr/` and `cases/`) into DIR, to edit and then use
    /// with --scr-dir DIR/scr --cases-dir DIR/cases.
    Export {
        dir: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum NotificationCommand {
    /// Encode a notification from fields; prints hex.
    Encode {
        #[arg(long)]
        server_id: String,
        /// PREFERRED-CON-TYPE: 0 any, 1 cellular, 2 WLAN, 3 wireline.
        #[arg(long, default_value_t = 0)]
        con_type: u8,
        #[arg(long)]
        notification_id: Option<u16>,
        /// POSIX seconds.
        #[arg(long)]
        timestamp: Option<u64>,
        #[arg(long)]
        req_mos: bool,
        #[arg(long, requires = "auth_data")]
        secret: Option<String>,
        #[arg(long, requires = "secret")]
        auth_data: Option<String>,
    },
    /// Decode hex; prints the fields as JSON and whether the digest verifies.
    Decode {
        hex: String,
        #[arg(long, requires = "auth_data")]
        secret: Option<String>,
        #[arg(long, requires = "secret")]
        auth_data: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReferenceCommand {
    /// Run the reference DM client.
    Client(dmcts::reference::client::ClientArgs),
    /// Run the reference DM server.
    Server(dmcts::reference::server::ServerArgs),
    /// The fault catalog.
    Faults {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// SIGPIPE: when stdout or stderr is a pipe whose reader went away, die of it as Unix tools do;
/// otherwise (a socket) ignore it, and the write fails with EPIPE. Uses only poll, signal and
/// raise, which are async-signal-safe.
#[cfg(unix)]
extern "C" fn on_sigpipe(_: libc::c_int) {
    for fd in [1, 2] {
        let mut p = libc::pollfd { fd, events: 0, revents: 0 };
        // SAFETY: poll on one valid pollfd; signal/raise with valid arguments.
        unsafe {
            if libc::poll(&mut p, 1, 0) == 1 && (p.revents & libc::POLLERR) != 0 {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
        }
    }
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`dmcts ... | head`)
    // instead of panicking on a broken pipe.
    // Only for stdout/stderr, though: a socket write to a peer that hung up (TLS writes are
    // vectored, `writev`, which has no MSG_NOSIGNAL) must fail as EPIPE, not end the run.
    #[cfg(unix)]
    // SAFETY: installing an async-signal-safe handler before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, on_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

impl Cli {
    fn scr_source(&self) -> CatalogSource {
        CatalogSource::from_dir(self.scr_dir.clone())
    }

    fn cases_source(&self) -> CatalogSource {
        CatalogSource::from_dir(self.cases_dir.clone())
    }

    fn registry(&self) -> anyhow::Result<Registry> {
        Ok(bundle::load_registry(&self.scr_source())?)
    }

    fn catalog(&self) -> anyhow::Result<bundle::Loaded> {
        Ok(bundle::load(&self.scr_source(), &self.cases_source())?)
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Scr { command } => {
            let reg = cli.registry()?;
            match command {
                ScrCommand::List { role, table, format } => {
                    if let Some(t) = table.as_deref().filter(|t| reg.table(t).is_none()) {
                        let known: Vec<&str> = reg.tables().iter().map(|t| t.id.as_str()).collect();
                        anyhow::bail!("--table {t}: no such SCR table; known tables: {}", known.join(", "));
                    }
                    let items: Vec<_> = reg
                        .items()
                        .iter()
                        .filter(|i| role.is_none_or(|r| i.role == Role::from(r)))
                        .filter(|i| table.as_deref().is_none_or(|t| i.table == t))
                        .collect();
                    match format {
                        Format::Json => print_json(&dmcts::scr::list_json(&items)),
                        Format::Table => print!("{}", dmcts::scr::list_table(&items)),
                    }
                }
                ScrCommand::Check => println!(
                    "{}: {} SCR items in {} table(s) ({}), all valid",
                    cli.scr_source().describe(),
                    reg.items().len(),
                    reg.tables().len(),
                    reg.tables().iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }
            Ok(0)
        }
        Command::Cases { command: CasesCommand::Export { dir, force } } => {
            for path in bundle::export(dir, *force)? {
                println!("wrote {}", path.display());
            }
            println!(
                "use it with --scr-dir {} --cases-dir {} (or DMCTS_SCR_DIR / DMCTS_CASES_DIR)",
                dir.join("scr").display(),
                dir.join("cases").display()
            );
            Ok(0)
        }
        Command::Cases { command } => {
            let loaded = cli.catalog()?;
            let cat = &loaded.catalog;
            match command {
                CasesCommand::List { format } => {
                    let rows: Vec<serde_json::Value> = cat
                        .cases
                        .iter()
                        .map(|c| {
                            serde_json::json!({
                                "id": c.id, "role": c.role.to_string(), "title": c.title, "covers": c.covers,
                                "applies_if": c.applies_if, "detects": c.detects,
                                "file": format!("{}:{}", c.file.display(), c.line),
                            })
                        })
                        .collect();
                    match format {
                        Format::Json => print_json(&serde_json::Value::Array(rows)),
                        Format::Table => {
                            for c in &cat.cases {
                                println!(
                                    "{:<20} {:<7} {:<60} {}",
                                    c.id,
                                    c.role.to_string(),
                                    c.title,
                                    c.covers.join(" ")
                                );
                            }
                        }
                    }
                }
                CasesCommand::Builtins => print!("{}", dmcts::runner::checks::builtins_listing()),
                CasesCommand::Check => println!(
                    "{}: {} cases, all valid (catalog digest {})",
                    cli.cases_source().describe(),
                    cat.cases.len(),
                    loaded.info.digest
                ),
                CasesCommand::Export { .. } => unreachable!("handled above"),
            }
            Ok(0)
        }
        Command::Plan { ics, format, all } => {
            let bundle::Loaded { registry: reg, catalog: cat, .. } = cli.catalog()?;
            let ics = Ics::load(ics).map_err(|e| anyhow::anyhow!("{e}"))?;
            ics.validate_against(&reg).map_err(|e| anyhow::anyhow!("{e}"))?;
            let plan = dmcts::runner::plan::plan(&reg, &cat, &ics);
            match format {
                Format::Json => print_json(&serde_json::to_value(&plan)?),
                Format::Table => print!("{}", plan.render(*all)),
            }
            Ok(0)
        }
        Command::Run { ics, against, faults, tls, scr, role, report_dir, libtest } => {
            let bundle::Loaded { registry, catalog, info } = cli.catalog()?;
            let (reg, cat) = (Arc::new(registry), Arc::new(catalog));
            let target = match (ics, against) {
                (Some(path), _) => {
                    if !faults.is_empty() {
                        anyhow::bail!("--fault applies to the reference peers only (use --against reference)");
                    }
                    let ics = Ics::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
                    ics.validate_against(&reg).map_err(|e| anyhow::anyhow!("{e}"))?;
                    Target::Ics(Arc::new(ics))
                }
                (None, Some(_)) => Target::reference(faults.iter().cloned().collect())?.with_tls(*tls),
                (None, None) => anyhow::bail!("give --ics FILE or --against reference"),
            };
            // How many cases run at once is the runner's decision (run::test_threads).
            let libtest =
                libtest_mimic::Arguments::from_iter(std::iter::once("dmcts".to_string()).chain(libtest.clone()));
            let list = libtest.list;
            let interrupt = Interrupt::default();
            if !list {
                // Before the first case: a report dir that cannot take the reports ends the run
                // here, without traffic; the reports of an earlier run there are removed.
                dmcts::report::prepare_dir(report_dir).map_err(|e| {
                    anyhow::anyhow!("cannot write reports to {} (--report-dir): {e}", report_dir.display())
                })?;
                interrupt::install_signal_handlers(&interrupt)?;
                // On a terminal, a waiting step says what it awaits, where, and the time left.
                dmcts::runner::progress::install(dmcts::runner::progress::Progress::for_run(&libtest));
            }
            let opts = RunOptions {
                target,
                scr_patterns: scr.clone(),
                role: role.map(Role::from),
                libtest,
                report_dir: Some(report_dir.clone()),
                catalog: Some(info),
                interrupt: interrupt.clone(),
            };
            let out = run::run(reg.clone(), cat.clone(), opts)?;
            if list {
                return Ok(0);
            }
            let items = dmcts::runner::plan::coverage_inputs(&reg, &out.applicability);
            dmcts::report::write_all(report_dir, &out.result, &items)?;
            let cov = dmcts::report::coverage(&out.result, &items);
            println!("\n{}", cov.summary.headline);
            println!("reports: {} (junit.xml, coverage.json, coverage.md, run.json, traces/)", report_dir.display());
            if out.result.interrupted {
                let unrun = out.result.cases.iter().filter(|c| c.verdict == dmcts::verdict::Verdict::NotTested).count();
                println!("run interrupted: {unrun} case(s) not tested; the reports cover the cases that ran");
            }
            Ok(interrupt
                .exit_code()
                .filter(|_| out.result.interrupted)
                .unwrap_or(run::exit_code(&out.result.cases) as u8))
        }
        Command::Notification { command } => match command {
            NotificationCommand::Encode {
                server_id,
                con_type,
                notification_id,
                timestamp,
                req_mos,
                secret,
                auth_data,
            } => {
                let fields = dmcts::wire::dm2::NotificationFields {
                    server_id: server_id.clone(),
                    preferred_con_type: Some(*con_type),
                    notification_id: *notification_id,
                    timestamp: *timestamp,
                    req_mos: *req_mos,
                    digest: secret.is_some(),
                };
                let profile = dmcts::wire::dm2::Profile::default();
                println!(
                    "{}",
                    dmcts::wire::dm2::cli::encode_cli(&fields, secret.as_deref(), auth_data.as_deref(), &profile)
                );
                Ok(0)
            }
            NotificationCommand::Decode { hex, secret, auth_data } => {
                let profile = dmcts::wire::dm2::Profile::default();
                let v = dmcts::wire::dm2::cli::decode_cli(hex, secret.as_deref(), auth_data.as_deref(), &profile)
                    .map_err(|e| anyhow::anyhow!("not a DM 2.0 notification: {e}"))?;
                print_json(&v);
                let verified = v.pointer("/digest/verified").and_then(|x| x.as_bool());
                Ok(if verified == Some(false) { 1 } else { 0 })
            }
        },
        Command::Reference { command } => {
            let rt = tokio::runtime::Runtime::new()?;
            match command {
                ReferenceCommand::Client(args) => rt.block_on(dmcts::reference::client::run_cli(args.clone()))?,
                ReferenceCommand::Server(args) => rt.block_on(dmcts::reference::server::run_cli(args.clone()))?,
                ReferenceCommand::Faults { format } => {
                    let cat = dmcts::reference::faults::catalog();
                    match format {
                        Format::Json => print_json(&serde_json::to_value(&cat)?),
                        Format::Table => {
                            for f in &cat {
                                println!("{:<40} {:<28} {}", f.name, f.violates.join(","), f.description);
                            }
                        }
                    }
                }
            }
            Ok(0)
        }
        Command::Selftest { report_dir } => {
            let loaded = cli.catalog()?;
            let (reg, cat) = (Arc::new(loaded.registry), Arc::new(loaded.catalog));
            let outcome = dmcts::selftest::run(reg, cat, report_dir)?;
            print!("{}", outcome.summary);
            Ok(if outcome.ok { 0 } else { 1 })
        }
        Command::Bench { iterations } => {
            let loaded = cli.catalog()?;
            let (reg, cat) = (Arc::new(loaded.registry), Arc::new(loaded.catalog));
            print!("{}", dmcts::bench::run(reg, cat, *iterations)?);
            Ok(0)
        }
    }
}
