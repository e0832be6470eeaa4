//! The terminal's progress line: while a step waits, one line under the console's output
//! says what it awaits, where, and the time left ("TC-DMC-SESS-001 step 3: waiting for
//! Package#1 at http://127.0.0.1:9988/path — 14 s left"), updated as the time runs and erased
//! when the wait ends.
//!
//! One mechanism for everything the run shows on that line: a [`Board`] of what is going on
//! (today the waits of the running cases), rendered into one line by [`Board::render`], drawn by
//! one [`Progress`] per process. The run's own progress goes onto the same board and the same
//! line, in front: cases done of total and the time elapsed ("[12/53 · 41 s] "), then the wait,
//! or, while no step waits, the case and step running now.
//!
//! - Nothing is drawn unless the line is asked for ([`install`], by the CLI's `run`) and stdout
//!   and stderr are both terminals, `CI` is not set, and the console prints a line per case
//!   (not `-q`): a piped or CI run's output never holds a progress line or its escape codes.
//! - The line is on stderr, and exists only while something is to be shown: a wait shorter
//!   than [`SHOW_AFTER`] never shows (the reference peers answer in milliseconds), and once no
//!   wait is left the line is erased and the terminal left alone (the interactive upper tester
//!   writes its prompts to stderr and reads the operator's answer on that line: upper-tester
//!   calls of the interactive back end show no wait, the prompt says it all).
//! - Whatever else writes to the terminal while the line may be drawn goes through
//!   [`Progress::suspend`] (the console's result lines, the interrupt notice): the line is
//!   erased, the text written, and the line drawn again below it, so they never mix.
//! - Several cases waiting at once (runs against the reference peers) show as one line: how
//!   many cases wait, and the wait whose deadline comes first.
//!
//! indicatif draws the line (terminal detection, width, erasing, suspending); this module keeps
//! what it says and redraws it as the time left changes.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// A wait shorter than this is never shown.
pub const SHOW_AFTER: Duration = Duration::from_millis(400);
/// How often the line is redrawn while something is shown (the seconds left change).
const TICK: Duration = Duration::from_millis(200);

/// The process's progress line, or nothing (cheap to clone; every clone draws the same line).
/// [`Progress::default`] draws nothing.
#[derive(Clone, Default)]
pub struct Progress {
    line: Option<Arc<Line>>,
}

/// The drawn line; when the last [`Progress`] of it goes, its redrawing thread ends.
struct Line {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the redrawing thread: a wait began, or the line is closed.
    wake: Condvar,
}

struct State {
    board: Board,
    /// The line on the terminal, while something is shown.
    bar: Option<ProgressBar>,
    /// Makes the bar that draws the line.
    draw: fn() -> ProgressDrawTarget,
    closed: bool,
}

/// What the line shows: the run's progress, the waits going on now.
#[derive(Debug, Clone, Default)]
pub struct Board {
    waits: Vec<Shown>,
    next_id: u64,
    run: Option<RunShown>,
    /// While above zero nothing is drawn (an operator's prompt has the line).
    held: usize,
}

/// The run on the board: how far it is, and what runs now.
#[derive(Debug, Clone)]
struct RunShown {
    total: usize,
    done: usize,
    since: Instant,
    /// The cases running now, in the order they began, with their current step (0: none yet).
    running: Vec<(String, usize)>,
}

/// One wait on the board.
#[derive(Debug, Clone)]
struct Shown {
    id: u64,
    case: String,
    step: usize,
    what: String,
    since: Instant,
    deadline: Instant,
}

static INSTALLED: OnceLock<Progress> = OnceLock::new();

/// Makes `progress` the process's progress line, the one [`installed`] returns (the cases'
/// environments and the console take it from there). Only the first call counts: a process
/// has one terminal. False when a line was installed before.
pub fn install(progress: Progress) -> bool {
    INSTALLED.set(progress).is_ok()
}

/// The process's progress line: the one [`install`]ed, or one that draws nothing (library use,
/// tests).
pub fn installed() -> Progress {
    INSTALLED.get().cloned().unwrap_or_default()
}

/// `CI` is set (to anything but the empty string): a CI job's log is no terminal to redraw.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

impl Progress {
    /// A line that draws nothing.
    pub fn disabled() -> Progress {
        Progress::default()
    }

    /// The line for a `run` with these console arguments: drawn on stderr when stdout and
    /// stderr are both terminals, `CI` is not set, `TERM` is set and not `dumb`, and the
    /// console prints a line per case (not `-q` / `--format terse`, whose dots share one line,
    /// nor `--list`). Otherwise a line that draws nothing.
    pub fn for_run(args: &libtest_mimic::Arguments) -> Progress {
        let terse = args.quiet || matches!(args.format, Some(libtest_mimic::FormatSetting::Terse));
        let term_ok = std::env::var_os("TERM").is_some_and(|t| !t.is_empty() && t != "dumb");
        if terse
            || args.list
            || in_ci()
            || !term_ok
            || !std::io::stdout().is_terminal()
            || !std::io::stderr().is_terminal()
        {
            return Progress::disabled();
        }
        Progress::drawn_by(ProgressDrawTarget::stderr)
    }

    /// A line drawn on the targets `draw` makes (one per stretch of time the line is shown).
    pub fn drawn_by(draw: fn() -> ProgressDrawTarget) -> Progress {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { board: Board::default(), bar: None, draw, closed: false }),
            wake: Condvar::new(),
        });
        let redraw = shared.clone();
        // Should the thread not start, no wait shows (only its end would redraw): the run goes
        // on without the line.
        let _ = std::thread::Builder::new().name("dmcts-progress".into()).spawn(move || redraw.run());
        Progress { line: Some(Arc::new(Line { shared })) }
    }

    /// Shows the waits of one step of `case` (see [`Waiter::wait`]).
    pub fn waiter(&self, case: &str, step: usize) -> Waiter {
        Waiter { progress: self.clone(), case: case.to_string(), step }
    }

    /// The run begins: `total` cases are to run. From now on the line shows how far it is
    /// (once it has lasted [`SHOW_AFTER`]) until [`Progress::run_ends`].
    pub fn run_begins(&self, total: usize) {
        self.change(|b| b.run = Some(RunShown { total, done: 0, since: Instant::now(), running: Vec::new() }));
    }

    /// The run is over: its progress leaves the line (and the line the terminal, unless a wait
    /// is still shown).
    pub fn run_ends(&self) {
        self.change(|b| b.run = None);
    }

    /// `case` begins; it counts as done when the returned [`CaseShown`] is dropped.
    pub fn case_begins(&self, case: &str) -> CaseShown {
        self.change(|b| b.case_begins(case));
        CaseShown { progress: self.clone(), case: case.to_string() }
    }

    /// `case` is at step `step` now.
    pub fn step(&self, case: &str, step: usize) {
        self.change(|b| b.step(case, step));
    }

    /// Nothing is drawn until the returned [`Held`] is dropped: an operator's prompt (the
    /// interactive upper tester) is written on the line the progress line would take.
    pub fn hold(&self) -> Held {
        self.change(|b| b.held += 1);
        Held { progress: self.clone() }
    }

    fn change(&self, what: impl FnOnce(&mut Board)) {
        let Some(line) = &self.line else { return };
        let mut state = line.shared.lock();
        what(&mut state.board);
        state.refresh(Instant::now());
        drop(state);
        line.shared.wake.notify_all();
    }

    /// Runs `write` (which prints whole lines to stdout or stderr, and flushes them) with the
    /// line erased, then draws the line again: what `write` prints never mixes with it.
    pub fn suspend<R>(&self, write: impl FnOnce() -> R) -> R {
        let Some(line) = &self.line else { return write() };
        let state = line.shared.lock();
        match &state.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        state.erase();
        self.shared.wake.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the line (or the run) down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The redrawing thread: redraws every [`TICK`] while something is on the board, sleeps
    /// while nothing is, ends when the line is closed.
    fn run(&self) {
        let mut state = self.lock();
        while !state.closed {
            state.refresh(Instant::now());
            state = if state.board.waits.is_empty() && state.board.run.is_none() {
                self.wake.wait(state).unwrap_or_else(|e| e.into_inner())
            } else {
                self.wake.wait_timeout(state, TICK).unwrap_or_else(|e| e.into_inner()).0
            };
        }
    }
}

impl State {
    /// Draws what the board says now, or erases the line when it says nothing.
    fn refresh(&mut self, now: Instant) {
        // One column spare: a line filling the last column wraps on some terminals.
        let width = console::Term::stderr().size_checked().map(|(_, cols)| usize::from(cols).saturating_sub(1));
        match self.board.render(now, width) {
            Some(text) => {
                let draw = self.draw;
                let bar = self.bar.get_or_insert_with(|| {
                    let bar = ProgressBar::with_draw_target(None, draw());
                    if let Ok(style) = ProgressStyle::with_template("{wide_msg}") {
                        bar.set_style(style);
                    }
                    bar
                });
                bar.set_message(text);
            }
            None => self.erase(),
        }
    }

    fn erase(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Board {
    /// The line for the board at `now`, at most `width` columns wide; None when nothing is to be
    /// shown. The run's progress first, once the run has lasted [`SHOW_AFTER`]: cases done of
    /// total and the time elapsed. Then one wait: who waits, for what, and the time left.
    /// Several (cases run side by side): how many cases wait, and the wait whose deadline comes
    /// first. No wait: the case and step running now. On a narrow terminal who waits goes
    /// first, then the end of what is awaited: the run's progress and the time left stay.
    pub fn render(&self, now: Instant, width: Option<usize>) -> Option<String> {
        if self.held > 0 {
            return None;
        }
        let run = self.run.as_ref().filter(|r| now.saturating_duration_since(r.since) >= SHOW_AFTER);
        let head = run.map(|r| {
            let elapsed = Duration::from_secs(now.saturating_duration_since(r.since).as_secs());
            format!("[{}/{} · {}] ", r.done, r.total, seconds(elapsed))
        });
        let head = head.unwrap_or_default();
        let shown: Vec<&Shown> =
            self.waits.iter().filter(|w| now.saturating_duration_since(w.since) >= SHOW_AFTER).collect();
        let Some(first) = shown.iter().min_by_key(|w| (w.deadline, w.id)) else {
            let run = run?;
            let now_running = match run.running.as_slice() {
                [] => String::new(),
                [(case, step), rest @ ..] => {
                    let at = if *step == 0 { String::new() } else { format!(" step {step}") };
                    let more = if rest.is_empty() { String::new() } else { format!(" (and {} more)", rest.len()) };
                    format!("running {case}{at}{more}")
                }
            };
            let full = format!("{head}{now_running}");
            return Some(match width {
                Some(w) => console::truncate_str(&full, w, "…").into_owned(),
                None => full,
            });
        };
        let mut cases: Vec<&str> = shown.iter().map(|w| w.case.as_str()).collect();
        cases.sort_unstable();
        cases.dedup();
        let many = if cases.len() > 1 { format!("[{} cases waiting] ", cases.len()) } else { String::new() };
        let who = format!("{head}{many}{} step {}: ", first.case, first.step);
        let tail = format!(" — {}", time_left(first.deadline.saturating_duration_since(now)));
        let full = format!("{who}{}{tail}", first.what);
        let Some(width) = width else { return Some(full) };
        if console::measure_text_width(&full) <= width {
            return Some(full);
        }
        let room = width.saturating_sub(console::measure_text_width(&tail) + console::measure_text_width(&head));
        Some(format!("{head}{}{tail}", console::truncate_str(&first.what, room, "…")))
    }

    fn case_begins(&mut self, case: &str) {
        if let Some(run) = &mut self.run {
            run.running.push((case.to_string(), 0));
        }
    }

    fn step(&mut self, case: &str, step: usize) {
        if let Some(run) = &mut self.run {
            if let Some(r) = run.running.iter_mut().find(|(c, _)| c == case) {
                r.1 = step;
            }
        }
    }

    fn case_ends(&mut self, case: &str) {
        if let Some(run) = &mut self.run {
            if let Some(i) = run.running.iter().position(|(c, _)| c == case) {
                run.running.remove(i);
            }
            run.done += 1;
        }
    }

    fn begin(&mut self, case: &str, step: usize, what: String, since: Instant, within: Duration) -> u64 {
        self.next_id += 1;
        // A PIXIT timeout of ages is still a deadline an Instant can hold.
        let deadline = since.checked_add(within.min(Duration::from_secs(100 * 365 * 86_400))).unwrap_or(since);
        self.waits.push(Shown { id: self.next_id, case: case.to_string(), step, what, since, deadline });
        self.next_id
    }

    fn end(&mut self, id: u64) {
        self.waits.retain(|w| w.id != id);
    }
}

/// "14 s left", "2 min 5 s left": whole seconds, rounded up (so "0 s" only once it is over).
pub fn time_left(left: Duration) -> String {
    let secs = left.as_millis().div_ceil(1000);
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s left"),
        (m, 0) => format!("{m} min left"),
        (m, s) => format!("{m} min {s} s left"),
    }
}

/// A duration as the line says it: "3 s", "0.3 s", "2 min 5 s".
pub fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    match (ms / 60_000, ms % 60_000) {
        (0, r) if r % 1000 == 0 => format!("{} s", r / 1000),
        (0, r) => format!("{:.1} s", r as f64 / 1000.0),
        (m, 0) => format!("{m} min"),
        (m, r) => format!("{m} min {} s", r.div_ceil(1000)),
    }
}

/// Shows the waits of one step of a case on the progress line. Cheap to clone; can be moved
/// into the futures a step waits on.
#[derive(Clone)]
pub struct Waiter {
    progress: Progress,
    case: String,
    step: usize,
}

impl Waiter {
    /// Shows that the step waits, at most `within`, for what `what` says — the whole phrase,
    /// e.g. "waiting for Package#1 at http://…" or "quiet period: nothing may arrive for 3 s"
    /// (the line adds who waits and the time left) — until the returned [`Wait`] is dropped.
    /// `what` is only called when the line is drawn.
    pub fn wait(&self, within: Duration, what: impl FnOnce() -> String) -> Wait {
        let Some(line) = &self.progress.line else { return Wait { shown: None } };
        let shared = line.shared.clone();
        let id = shared.lock().board.begin(&self.case, self.step, what(), Instant::now(), within);
        shared.wake.notify_all();
        Wait { shown: Some((shared, id)) }
    }
}

/// A case on the progress line: dropping it counts the case as done.
#[must_use = "the case counts as done when this is dropped"]
pub struct CaseShown {
    progress: Progress,
    case: String,
}

impl Drop for CaseShown {
    fn drop(&mut self) {
        let case = std::mem::take(&mut self.case);
        self.progress.change(|b| b.case_ends(&case));
    }
}

/// The line is held (drawn nowhere) while this lives.
#[must_use = "the line is held until this is dropped"]
pub struct Held {
    progress: Progress,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.progress.change(|b| b.held = b.held.saturating_sub(1));
    }
}

/// A wait on the progress line; dropping it (the wait ended, however) takes it off the line at
/// once.
#[must_use = "the wait is shown until this is dropped"]
pub struct Wait {
    shown: Option<(Arc<Shared>, u64)>,
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let Some((shared, id)) = self.shown.take() {
            let mut state = shared.lock();
            state.board.end(id);
            state.refresh(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(waits: &[(&str, usize, &str, u64, u64)], t0: Instant) -> Board {
        let mut b = Board::default();
        for (case, step, what, started_ms, within_ms) in waits {
            let since = t0 + Duration::from_millis(*started_ms);
            b.begin(case, *step, what.to_string(), since, Duration::from_millis(*within_ms));
        }
        b
    }

    #[test]
    fn one_wait_says_who_waits_for_what_and_the_time_left() {
        let t0 = Instant::now();
        let b = board(&[("TC-A-001", 3, "waiting for the thing at http://127.0.0.1:1/x", 0, 20_000)], t0);
        let line = b.render(t0 + Duration::from_millis(6_500), None);
        assert_eq!(line.as_deref(), Some("TC-A-001 step 3: waiting for the thing at http://127.0.0.1:1/x — 14 s left"));
    }

    #[test]
    fn a_short_wait_never_shows_and_an_ended_one_is_gone() {
        let t0 = Instant::now();
        let mut b = board(&[("TC-A-001", 1, "waiting", 0, 5_000)], t0);
        assert_eq!(b.render(t0 + SHOW_AFTER - Duration::from_millis(1), None), None);
        assert!(b.render(t0 + SHOW_AFTER, None).is_some());
        let id = b.waits[0].id;
        b.end(id);
        assert_eq!(b.render(t0 + SHOW_AFTER, None), None);
    }

    #[test]
    fn several_cases_show_as_one_line_with_the_first_deadline() {
        let t0 = Instant::now();
        let b = board(&[("TC-A-001", 2, "waiting for a", 0, 9_000), ("TC-B-002", 4, "waiting for b", 0, 3_000)], t0);
        assert_eq!(
            b.render(t0 + Duration::from_secs(1), None).as_deref(),
            Some("[2 cases waiting] TC-B-002 step 4: waiting for b — 2 s left")
        );
    }

    #[test]
    fn a_narrow_terminal_keeps_the_time_left() {
        let t0 = Instant::now();
        let b = board(&[("TC-A-001", 3, "waiting for Package#1 at http://127.0.0.1:9988/path", 0, 14_000)], t0);
        let at = t0 + SHOW_AFTER;
        let full = b.render(at, None).unwrap();
        assert_eq!(b.render(at, Some(full.chars().count())).as_ref(), Some(&full));
        assert_eq!(
            b.render(at, Some(64)).as_deref(),
            Some("waiting for Package#1 at http://127.0.0.1:9988/path — 14 s left")
        );
        assert_eq!(b.render(at, Some(30)).as_deref(), Some("waiting for Packa… — 14 s left"));
        for w in [0, 5, 12, 30, 60, 200] {
            let line = b.render(at, Some(w)).unwrap();
            assert!(line.ends_with("14 s left"), "{line}");
            assert!(console::measure_text_width(&line) <= w.max("… — 14 s left".chars().count()), "{w}: {line}");
        }
    }

    fn run_board(total: usize, done: usize, running: &[(&str, usize)], t0: Instant) -> Board {
        let running = running.iter().map(|(c, s)| (c.to_string(), *s)).collect();
        Board { run: Some(RunShown { total, done, since: t0, running }), ..Board::default() }
    }

    #[test]
    fn the_run_shows_cases_done_of_total_the_time_elapsed_and_what_runs_now() {
        let t0 = Instant::now();
        let b = run_board(53, 12, &[("TC-DMC-SESS-002", 2)], t0);
        assert_eq!(b.render(t0 + SHOW_AFTER - Duration::from_millis(1), None), None, "a short run never shows");
        assert_eq!(
            b.render(t0 + Duration::from_millis(41_700), None).as_deref(),
            Some("[12/53 · 41 s] running TC-DMC-SESS-002 step 2")
        );
        let b = run_board(53, 12, &[("TC-A-001", 0), ("TC-B-001", 4), ("TC-C-001", 1)], t0);
        assert_eq!(
            b.render(t0 + Duration::from_secs(65), None).as_deref(),
            Some("[12/53 · 1 min 5 s] running TC-A-001 (and 2 more)")
        );
        assert_eq!(b.render(t0 + Duration::from_secs(65), Some(12)).as_deref(), Some("[12/53 · 1 …"));
    }

    #[test]
    fn a_wait_follows_the_runs_progress_and_a_narrow_terminal_keeps_both_ends() {
        let t0 = Instant::now();
        let mut b = run_board(53, 3, &[("TC-A-001", 3)], t0);
        b.begin(
            "TC-A-001",
            3,
            "waiting for Package#1 at http://127.0.0.1:9988/path".into(),
            t0,
            Duration::from_secs(20),
        );
        let at = t0 + Duration::from_millis(6_500);
        assert_eq!(
            b.render(at, None).as_deref(),
            Some("[3/53 · 6 s] TC-A-001 step 3: waiting for Package#1 at http://127.0.0.1:9988/path — 14 s left")
        );
        assert_eq!(b.render(at, Some(50)).as_deref(), Some("[3/53 · 6 s] waiting for Package#1 at… — 14 s left"));
    }

    #[test]
    fn cases_begin_step_and_end_on_the_board_and_a_held_line_shows_nothing() {
        let t0 = Instant::now();
        let mut b = run_board(2, 0, &[], t0);
        b.case_begins("TC-A-001");
        b.step("TC-A-001", 5);
        let at = t0 + Duration::from_secs(1);
        assert_eq!(b.render(at, None).as_deref(), Some("[0/2 · 1 s] running TC-A-001 step 5"));
        b.case_ends("TC-A-001");
        assert_eq!(b.render(at, None).as_deref(), Some("[1/2 · 1 s] "));
        b.held = 1;
        assert_eq!(b.render(at, None), None);
    }

    #[test]
    fn time_left_is_rounded_up_to_whole_seconds() {
        assert_eq!(time_left(Duration::from_millis(13_001)), "14 s left");
        assert_eq!(time_left(Duration::from_millis(14_000)), "14 s left");
        assert_eq!(time_left(Duration::ZERO), "0 s left");
        assert_eq!(time_left(Duration::from_secs(120)), "2 min left");
        assert_eq!(time_left(Duration::from_millis(124_200)), "2 min 5 s left");
    }

    #[test]
    fn durations_read_as_seconds() {
        assert_eq!(seconds(Duration::from_secs(3)), "3 s");
        assert_eq!(seconds(Duration::from_millis(300)), "0.3 s");
        assert_eq!(seconds(Duration::from_secs(120)), "2 min");
        assert_eq!(seconds(Duration::from_secs(125)), "2 min 5 s");
    }

    #[test]
    fn a_line_not_drawn_costs_nothing_and_runs_what_it_suspends() {
        let p = Progress::disabled();
        let mut called = false;
        let _w = p.waiter("TC-A-001", 1).wait(Duration::from_secs(1), || {
            called = true;
            String::new()
        });
        assert!(!called, "the text of a wait no line shows is never made");
        assert_eq!(p.suspend(|| 7), 7);
    }

    #[test]
    fn a_drawn_line_keeps_its_board_while_waits_last() {
        // A hidden target: the bookkeeping without a terminal.
        let p = Progress::drawn_by(ProgressDrawTarget::hidden);
        let w = p.waiter("TC-A-001", 2);
        let a = w.wait(Duration::from_secs(5), || "waiting for a".into());
        let b = w.wait(Duration::from_secs(5), || "waiting for b".into());
        let waits = || p.line.as_ref().unwrap().shared.lock().board.waits.len();
        assert_eq!(waits(), 2);
        drop(a);
        assert_eq!(waits(), 1);
        drop(b);
        assert_eq!(waits(), 0);
        assert_eq!(p.suspend(|| "written"), "written");
    }
}
