//! The console output of a run, cargo-test style, with the suite's own verdicts: `ok`, `FAILED`,
//! `INCONC`, `ERROR`, `ignored (reason)`. libtest-mimic parses the arguments and decides which
//! cases a filter selects (so `--exact`, `--skip`, `--list`, name filters behave as in `cargo
//! test`); its printer knows only pass/fail/ignored, so an inconclusive case would print as
//! FAILED — hence this printer.
use libtest_mimic::{Arguments, FormatSetting};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How one case ended, for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Inconc(String),
    Error(String),
    /// Not run, or not applicable: the reason is printed.
    Ignored(String),
}

/// One case to run: its name, its kind (the IUT role, printed as `[client]`) and the work.
pub struct Trial {
    pub name: String,
    pub kind: String,
    pub run: Box<dyn FnOnce() -> Outcome + Send>,
}

/// Counts of a finished run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub inconc: usize,
    pub error: usize,
    pub ignored: usize,
    pub filtered_out: usize,
}

struct Printer {
    out: Box<dyn Write + Send>,
    terse: bool,
    color: bool,
    /// Terse mode: characters on the current line.
    column: usize,
}

impl Printer {
    fn new(args: &Arguments) -> Printer {
        let (out, tty): (Box<dyn Write + Send>, bool) = match args.logfile.as_deref().map(std::fs::File::create) {
            Some(Ok(f)) => (Box::new(f), false),
            _ => (Box::new(std::io::stdout()), std::io::stdout().is_terminal()),
        };
        let color = match args.color {
            Some(libtest_mimic::ColorSetting::Always) => true,
            Some(libtest_mimic::ColorSetting::Never) => false,
            _ => tty && std::env::var_os("NO_COLOR").is_none(),
        };
        let terse = args.quiet || matches!(args.format, Some(FormatSetting::Terse));
        Printer { out, terse, color, column: 0 }
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn outcome(&mut self, name: &str, kind: &str, o: &Outcome) {
        if self.terse {
            let c = match o {
                Outcome::Pass => ".".to_string(),
                Outcome::Fail(_) => self.paint("F", "31"),
                Outcome::Inconc(_) => self.paint("I", "33"),
                Outcome::Error(_) => self.paint("E", "35"),
                Outcome::Ignored(_) => self.paint("i", "33"),
            };
            let _ = write!(self.out, "{c}");
            self.column += 1;
            if self.column == 88 {
                let _ = writeln!(self.out);
                self.column = 0;
            }
            let _ = self.out.flush();
            return;
        }
        let word = match o {
            Outcome::Pass => self.paint("ok", "32"),
            Outcome::Fail(_) => self.paint("FAILED", "31"),
            Outcome::Inconc(_) => self.paint("INCONC", "33"),
            Outcome::Error(_) => self.paint("ERROR", "35"),
            Outcome::Ignored(why) => format!("{} ({why})", self.paint("ignored", "33")),
        };
        let label = if kind.is_empty() { name.to_string() } else { format!("[{kind}] {name}") };
        let _ = writeln!(self.out, "test {label} ... {word}");
        let _ = self.out.flush();
    }
}

/// Runs the trials the arguments select, `--test-threads` at a time, printing each outcome as
/// it comes and, at the end, the reasons of every case that did not pass and a summary line.
pub fn run(args: &Arguments, trials: Vec<Trial>) -> Tally {
    let start = Instant::now();
    let mut tally = Tally::default();
    let selected: Vec<Trial> = trials
        .into_iter()
        .filter(|t| {
            let probe = libtest_mimic::Trial::test(t.name.clone(), || Ok(())).with_kind(t.kind.clone());
            let keep = !args.is_filtered_out(&probe);
            if !keep {
                tally.filtered_out += 1;
            }
            keep
        })
        .collect();
    let printer = Arc::new(Mutex::new(Printer::new(args)));
    {
        let mut p = printer.lock().unwrap_or_else(|e| e.into_inner());
        let n = selected.len();
        let _ = writeln!(p.out, "\nrunning {n} {}", if n == 1 { "test" } else { "tests" });
    }
    let progress = super::progress::installed();
    progress.run_begins(selected.len());
    let threads = args.test_threads.unwrap_or(1).max(1);
    let queue = Arc::new(Mutex::new(selected.into_iter().collect::<std::collections::VecDeque<_>>()));
    let results: Arc<Mutex<Vec<(String, Outcome)>>> = Arc::default();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (queue, results, printer) = (queue.clone(), results.clone(), printer.clone());
            scope.spawn(move || loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some(t) = next else { break };
                let shown = super::progress::installed().case_begins(&t.name);
                let outcome = (t.run)();
                drop(shown);
                // Other cases may be waiting: their progress line is erased and drawn again below.
                super::progress::installed()
                    .suspend(|| printer.lock().unwrap_or_else(|e| e.into_inner()).outcome(&t.name, &t.kind, &outcome));
                results.lock().unwrap_or_else(|e| e.into_inner()).push((t.name, outcome));
            });
        }
    });
    progress.run_ends();
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    let mut p = printer.lock().unwrap_or_else(|e| e.into_inner());
    if p.terse && p.column > 0 {
        let _ = writeln!(p.out);
    }
    let mut not_passed = Vec::new();
    for (name, o) in &results {
        match o {
            Outcome::Pass => tally.passed += 1,
            Outcome::Fail(r) => {
                tally.failed += 1;
                not_passed.push((name, "FAILED", r));
            }
            Outcome::Inconc(r) => {
                tally.inconc += 1;
                not_passed.push((name, "INCONC", r));
            }
            Outcome::Error(r) => {
                tally.error += 1;
                not_passed.push((name, "ERROR", r));
            }
            Outcome::Ignored(_) => tally.ignored += 1,
        }
    }
    if !not_passed.is_empty() {
        let _ = writeln!(p.out, "\nnot passed:\n");
        for (name, word, reason) in &not_passed {
            let _ = writeln!(p.out, "---- {name} ({word}) ----\n{reason}\n");
        }
        let _ = writeln!(p.out, "not passed:");
        for (name, word, _) in &not_passed {
            let _ = writeln!(p.out, "    {name} ({word})");
        }
    }
    let ok = not_passed.is_empty();
    let head = if ok { p.paint("ok", "32") } else { p.paint("FAILED", "31") };
    let _ = writeln!(
        p.out,
        "\ntest result: {head}. {} passed; {} failed; {} inconc; {} error; {} ignored; 0 measured; {} filtered out; \
         finished in {:.2}s\n",
        tally.passed,
        tally.failed,
        tally.inconc,
        tally.error,
        tally.ignored,
        tally.filtered_out,
        start.elapsed().as_secs_f64()
    );
    let _ = p.out.flush();
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(name: &str, o: Outcome) -> Trial {
        Trial { name: name.into(), kind: "client".into(), run: Box::new(move || o) }
    }

    #[test]
    fn inconclusive_cases_print_as_inconc_not_failed() {
        let dir = std::env::temp_dir().join(format!("dmcts-console-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("out.txt");
        let args = Arguments::from_iter(["dmcts", "--test-threads=1", "--logfile", log.to_str().unwrap()]);
        let tally = run(
            &args,
            vec![
                trial("TC-A-001", Outcome::Pass),
                trial("TC-A-002", Outcome::Inconc("upper tester: no answer".into())),
                trial("TC-A-003", Outcome::Fail("check failed".into())),
                trial("TC-A-004", Outcome::Error("case defect".into())),
                trial("TC-A-005", Outcome::Ignored("not applicable: ICS".into())),
            ],
        );
        let out = std::fs::read_to_string(&log).unwrap();
        assert!(out.contains("test [client] TC-A-002 ... INCONC"), "{out}");
        assert!(out.contains("test [client] TC-A-003 ... FAILED"), "{out}");
        assert!(out.contains("test [client] TC-A-004 ... ERROR"), "{out}");
        assert!(out.contains("test [client] TC-A-005 ... ignored (not applicable: ICS)"), "{out}");
        assert!(out.contains("---- TC-A-002 (INCONC) ----\nupper tester: no answer"), "{out}");
        assert!(out.contains("1 passed; 1 failed; 1 inconc; 1 error; 1 ignored"), "{out}");
        assert_eq!(tally, Tally { passed: 1, failed: 1, inconc: 1, error: 1, ignored: 1, filtered_out: 0 });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn filters_select_as_cargo_test_does() {
        let args = Arguments::from_iter(["dmcts", "--exact", "TC-A-002", "--logfile", "/dev/null"]);
        let tally = run(&args, vec![trial("TC-A-001", Outcome::Pass), trial("TC-A-002", Outcome::Pass)]);
        assert_eq!((tally.passed, tally.filtered_out), (1, 1));
    }
}
