//! `dmcts`: the command-line interface. Exit codes: 0 every applicable case passed; 1 a fail
//! or inconc, or a case left not-tested by the end of `timeouts.run_ms`; 2 a configuration or
//! harness error (also for bad command-line input); 128 + the signal number (130 SIGINT, 143
//! SIGTERM) for a run stopped by a signal. `run --expect` counts only unexpected results,
//! `run --repeat` also exits 1 for a flaky case; `diff` exits 1 when B regresses and `bundle
//! verify` on a mismatch (docs/certification.md).
use clap::{Parser, Subcommand, ValueEnum};
use dmcts::bundle::{self, CatalogSource};
use dmcts::certification::expect::{self, Expectations};
use dmcts::certification::{cert_bundle, repeat};
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
        /// Expected results (known defects, waivers): the exit code counts only unexpected ones
        /// (docs/certification.md).
        #[arg(long, value_name = "FILE")]
        expect: Option<PathBuf>,
        /// Run the selection N times and report cases whose verdict varied (flaky).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        repeat: u32,
        /// libtest arguments after `--`: `--list`, `--exact`, `--skip`, `--test-threads N`, name filters.
        #[arg(last = true)]
        libtest: Vec<String>,
    },
    /// Compare two runs (report dirs or run.json files): new failures, fixes, changed reasons,
    /// SCR items whose verdict changed. Exit 1 when B regresses (docs/certification.md).
    Diff {
        a: PathBuf,
        b: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: DiffFormat,
    },
    /// Certification bundle: `bundle REPORT_DIR -o FILE` writes one archive of a run's reports,
    /// redacted ICS and SHA-256 manifest; `bundle verify FILE` checks one.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Bundle {
        #[command(subcommand)]
        command: Option<BundleCommand>,
        /// The report dir of the run.
        #[arg(required = true)]
        report_dir: Option<PathBuf>,
        /// The archive to write (tar.gz).
        #[arg(short = 'o', long = "output", required = true)]
        output: Option<PathBuf>,
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
    /// Test-fest: many IUTs at once (a roster, or N reference peers), each with its own
    /// listener, port and report folder; a live page; interop pairs relayed by the suite.
    Testfest {
        /// The roster: the IUTs (name, ICS, role) and the interop pairs (docs/testfest.md).
        #[arg(long, conflicts_with = "against", required_unless_present = "against")]
        roster: Option<PathBuf>,
        /// `reference`: N bundled reference peers as IUTs (separate processes; odd slots clients,
        /// even slots servers).
        #[arg(long, value_parser = ["reference"], requires = "iuts")]
        against: Option<String>,
        /// How many reference peers (with --against reference).
        #[arg(long, requires = "against")]
        iuts: Option<usize>,
        /// Pair each reference client slot with the server slot after it (with --against reference).
        #[arg(long, requires = "against")]
        pairs: bool,
        /// Switch the reference peers of the fault's role into it (with --against reference), repeatable.
        #[arg(long = "fault", requires = "against")]
        faults: Vec<String>,
        /// Where the reports go: DIR/<iut>/, DIR/pairs/, DIR/testfest.json.
        #[arg(long, default_value = "reports/testfest")]
        report_dir: PathBuf,
        /// The live page's port on 127.0.0.1 (0: the system chooses; the URL is printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// After the runs, keep serving the live page until Ctrl-C.
        #[arg(long)]
        keep_serving: bool,
    },
    /// Measure the wall time of the reference run and of the selftest, and the per-case overhead.
    Bench {
        #[arg(long, default_value_t = 5)]
        iterations: u32,
        /// The test-fest sizes to measure (`testfest --against reference --iuts N`: wall time,
        /// peak memory), comma-separated; `0` measures none.
        #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
        testfest_iuts: Vec<usize>,
        /// Only the GwMO fan-out figures: TC-GW-002 against the reference gateway with 100,
        /// 1,000 and 10,000 End Devices, wall time and peak memory.
        #[arg(long)]
        gwmo_only: bool,
    },
    /// Regenerate a report from a run's JSON reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Write report.html from a run.json (or the report directory holding it, with its
    /// coverage.json and traces/).
    Html {
        /// run.json, or the report directory.
        input: PathBuf,
        /// Where to write the page [default: report.html beside run.json].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum DiffFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Check a bundle: its manifest, and that every summary agrees with the case data.
    Verify { file: PathBuf },
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
    /// Run the reference DM Gateway (GwMO): a DM client toward --server-url, a DM server toward
    /// the End Devices `gateway.attach` names.
    Gateway(dmcts::reference::gwmo::GatewayArgs),
    /// Run the reference DM server.
    Server(dmcts::reference::server::ServerArgs),
    /// Run the reference SyncML DM 1.2 server.
    #[command(name = "dm12-server")]
    Dm12Server(dmcts::reference::dm12::server::Dm12ServerArgs),
    /// Run the reference SyncML DM 1.2 client.
    #[command(name = "dm12-client")]
    Dm12Client(dmcts::reference::dm12::client::Dm12ClientArgs),
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

/// Writes a run's reports into `dir`, judges them against the expectations when there are any,
/// prints the coverage headline, and returns the run's exit code.
fn write_reports(
    dir: &std::path::Path,
    result: &dmcts::runner::result::RunResult,
    items: &[dmcts::report::CoverageItemInput],
    expectations: Option<&Expectations>,
) -> anyhow::Result<u8> {
    dmcts::report::write_all(dir, result, items)?;
    let cov = dmcts::report::coverage(result, items);
    println!("\n{}", cov.summary.headline);
    let code = match expectations {
        Some(x) => {
            let judged = x.judge(result, &cov);
            expect::annotate_reports(dir, result, &judged)?;
            // report.html shows the expectations annotate_reports added to the JSON.
            dmcts::report::html::rewrite_in(dir)?;
            print!("{}", judged.render());
            judged.exit_code()
        }
        None => run::exit_code(&result.cases) as u8,
    };
    println!("reports: {} (report.html, junit.xml, coverage.json, coverage.md, run.json, traces/)", dir.display());
    Ok(code)
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
        Command::Run { ics, against, faults, tls, scr, role, report_dir, expect, repeat, libtest } => {
            let bundle::Loaded { registry, catalog, info } = cli.catalog()?;
            let (reg, cat) = (Arc::new(registry), Arc::new(catalog));
            // Checked before any traffic: a bad expectations file is a configuration error.
            let expectations = match expect {
                Some(path) => Some(Expectations::load(path, &reg, &cat)?),
                None => None,
            };
            let ics = match (ics, against) {
                (Some(path), _) => {
                    if !faults.is_empty() {
                        anyhow::bail!("--fault applies to the reference peers only (use --against reference)");
                    }
                    let ics = Ics::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
                    ics.validate_against(&reg).map_err(|e| anyhow::anyhow!("{e}"))?;
                    Some(Arc::new(ics))
                }
                (None, Some(_)) => None,
                (None, None) => anyhow::bail!("give --ics FILE or --against reference"),
            };
            let target = || match &ics {
                Some(ics) => Ok(Target::Ics(ics.clone())),
                None => Target::reference(faults.iter().cloned().collect()).map(|t| t.with_tls(*tls)),
            };
            let target = &target;
            // Unknown fault names end the run here, before the report dir is touched.
            target()?;
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
                repeat::prepare_dir(report_dir)?;
                interrupt::install_signal_handlers(&interrupt)?;
                // On a terminal, a waiting step says what it awaits, where, and the time left.
                dmcts::runner::progress::install(dmcts::runner::progress::Progress::for_run(&libtest));
            }
            let repeat = *repeat as usize;
            let mut results = Vec::new();
            let mut codes = Vec::new();
            let mut last = None;
            for i in 1..=repeat {
                let dir = if repeat > 1 { repeat::run_dir(report_dir, i) } else { report_dir.clone() };
                if repeat > 1 && !list {
                    println!("\nrepetition {i} of {repeat} (reports: {})", dir.display());
                    dmcts::report::prepare_dir(&dir)?;
                }
                let opts = RunOptions {
                    target: target()?,
                    scr_patterns: scr.clone(),
                    role: role.map(Role::from),
                    libtest: libtest.clone(),
                    report_dir: Some(dir.clone()),
                    catalog: Some(info.clone()),
                    interrupt: interrupt.clone(),
                };
                let out = run::run(reg.clone(), cat.clone(), opts)?;
                if list {
                    return Ok(0);
                }
                let items = dmcts::runner::plan::coverage_inputs(&reg, &out.applicability);
                let code = write_reports(&dir, &out.result, &items, expectations.as_ref())?;
                if out.result.interrupted {
                    let unrun =
                        out.result.cases.iter().filter(|c| c.verdict == dmcts::verdict::Verdict::NotTested).count();
                    println!("run interrupted: {unrun} case(s) not tested; the reports cover the cases that ran");
                    if repeat > 1 {
                        // The report dir holds the repetition the signal stopped, marked interrupted.
                        write_reports(report_dir, &out.result, &items, expectations.as_ref())?;
                    }
                    return Ok(interrupt.exit_code().unwrap_or(code));
                }
                codes.push(code);
                results.push(out.result.clone());
                last = Some((out.result, items));
            }
            let Some((result, items)) = last else { return Ok(0) };
            if repeat == 1 {
                return Ok(codes[0]);
            }
            // The report dir itself holds the last repetition's reports, with the comparison.
            println!("\nreports of the last repetition, with the comparison of all {repeat} (run.json repeat):");
            write_reports(report_dir, &result, &items, expectations.as_ref())?;
            let repeated = repeat::aggregate(&results);
            repeat::annotate_run_json(report_dir, &repeated, repeat)?;
            print!("{}", repeated.render());
            Ok(repeated.exit_code(&codes))
        }
        Command::Diff { a, b, format } => {
            use dmcts::certification::diff;
            let read = |p: &PathBuf| diff::RunFile::read(p).map_err(|e| anyhow::anyhow!("{e}"));
            let d = diff::diff(&read(a)?, &read(b)?);
            match format {
                DiffFormat::Json => print_json(&serde_json::to_value(&d)?),
                DiffFormat::Text => print!("{}", d.render()),
            }
            Ok(d.exit_code())
        }
        Command::Bundle { command: Some(BundleCommand::Verify { file }), .. } => {
            let v = cert_bundle::verify(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            print!("{}", v.render(file));
            Ok(v.exit_code())
        }
        Command::Bundle { command: None, report_dir, output } => {
            let (Some(dir), Some(out)) = (report_dir, output) else {
                anyhow::bail!("give REPORT_DIR and -o FILE, or `bundle verify FILE`");
            };
            let created = cert_bundle::create(dir, out)?;
            println!(
                "wrote {} ({} files, manifest {})",
                created.path.display(),
                created.files.len(),
                cert_bundle::MANIFEST
            );
            if !created.left_out.is_empty() {
                println!("left out (not reports of the run): {}", created.left_out.join(", "));
            }
            Ok(0)
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
                ReferenceCommand::Gateway(args) => rt.block_on(dmcts::reference::gwmo::run_cli(args.clone()))?,
                ReferenceCommand::Dm12Server(args) => {
                    rt.block_on(dmcts::reference::dm12::server::run_cli(args.clone()))?
                }
                ReferenceCommand::Dm12Client(args) => {
                    rt.block_on(dmcts::reference::dm12::client::run_cli(args.clone()))?
                }
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
        Command::Testfest { roster, against: _, iuts, pairs, faults, report_dir, port, keep_serving } => {
            let bundle::Loaded { registry, catalog, info } = cli.catalog()?;
            let (reg, cat) = (Arc::new(registry), Arc::new(catalog));
            for f in faults {
                if dmcts::reference::faults::find(f).is_none() {
                    anyhow::bail!("unknown reference fault {f:?} (dmcts reference faults lists them)");
                }
            }
            std::fs::create_dir_all(report_dir)
                .map_err(|e| anyhow::anyhow!("cannot write reports to {} (--report-dir): {e}", report_dir.display()))?;
            let (roster, _peers) = match (roster, iuts) {
                (Some(path), _) => (dmcts::testfest::roster::Roster::load(path, &reg)?, None),
                (None, Some(n)) => {
                    let (r, p) = dmcts::testfest::reference::start_peers(&reg, *n, faults, *pairs, report_dir, None)?;
                    (r, Some(p))
                }
                (None, None) => anyhow::bail!("give --roster FILE or --against reference --iuts N"),
            };
            let interrupt = Interrupt::default();
            interrupt::install_signal_handlers(&interrupt)?;
            let opts = dmcts::testfest::Options {
                report_dir: report_dir.clone(),
                port: *port,
                interrupt: interrupt.clone(),
                catalog: Some(info),
                keep_serving: *keep_serving,
            };
            let out = dmcts::testfest::run(reg, cat, &roster, opts)?;
            Ok(interrupt.exit_code().filter(|_| !keep_serving).unwrap_or(out.exit_code))
        }
        Command::Bench { iterations, testfest_iuts, gwmo_only } => {
            let loaded = cli.catalog()?;
            let (reg, cat) = (Arc::new(loaded.registry), Arc::new(loaded.catalog));
            if *gwmo_only {
                print!("{}", dmcts::bench::gwmo_only(reg, cat)?);
                return Ok(0);
            }
            print!("{}", dmcts::bench::run(reg, cat, *iterations)?);
            let sizes: Vec<usize> = testfest_iuts.iter().copied().filter(|n| *n > 0).collect();
            print!("{}", dmcts::testfest::bench::report(&sizes)?);
            Ok(0)
        }
        Command::Report { command: ReportCommand::Html { input, output } } => {
            use dmcts::report::html;
            let page = html::render(&html::Input::read(input)?)?;
            let out = output.clone().unwrap_or_else(|| {
                let dir = if input.is_dir() { input.as_path() } else { input.parent().unwrap_or(input.as_path()) };
                dir.join(html::REPORT_HTML)
            });
            std::fs::write(&out, page).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            println!("wrote {}", out.display());
            Ok(0)
        }
    }
}
