//! Exec back end: run the vendor's command once per request, with the request JSON on stdin
//! and `DMCTS_ACTION`, `DMCTS_CASE`, `DMCTS_STEP` in the environment; the answer JSON is read
//! from stdout. Without JSON, the exit code speaks: 0 done, 127 unsupported, other failed.
//!
//! The answer is what the hook wrote before it exited, not what the pipe held at EOF: a hook
//! may leave a background process (the vendor's IUT, often) that inherited its stdout, and that
//! process can keep the pipe open for ever. So the suite waits for the hook's exit, lets the
//! output already written drain for [`EXIT_GRACE`], and then interprets what it has.
use super::client::{parse_answer, too_large, UtError};
use super::{UtAnswer, UtRequest, MAX_ANSWER_BYTES};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Exit code meaning "this IUT cannot do that action" (the shell's "command not found", as in
/// the QUIC interop runner's contract).
pub const EXIT_UNSUPPORTED: i32 = 127;

/// After the hook has exited, how long its stdout and stderr may still drain. Output written
/// before the exit is normally read at once; this only bounds the wait when a process the hook
/// left behind still holds the pipes.
pub const EXIT_GRACE: Duration = Duration::from_millis(250);

/// How much of the end of stderr is kept (its last lines go into a `failed` message); the rest
/// is read and discarded, so a chatty hook never blocks on a full pipe nor fills memory.
pub const STDERR_KEPT_BYTES: usize = 64 * 1024;

/// How many trailing stderr lines a `failed` answer carries.
const STDERR_LINES: usize = 5;

pub(crate) struct ExecBackend {
    program: PathBuf,
    args: Vec<String>,
}

impl ExecBackend {
    pub(crate) fn new(command: &[String], base_dir: &Path) -> Result<Self, UtError> {
        let Some((program, args)) = command.split_first() else {
            return Err(UtError::Config("PIXIT upper_tester.command is empty: expected [program, args...]".into()));
        };
        let p = Path::new(program);
        // A path with a separator is the vendor's script next to the ICS; a bare name is on PATH.
        let program = if p.is_relative() && p.components().count() > 1 { base_dir.join(p) } else { p.to_path_buf() };
        if program.components().count() > 1 && !program.is_file() {
            return Err(UtError::Config(format!(
                "PIXIT upper_tester.command[0] {:?}: no such file (relative paths are resolved against {})",
                program.display(),
                base_dir.display()
            )));
        }
        Ok(ExecBackend { program, args: args.to_vec() })
    }

    pub(crate) async fn call(&self, req: &UtRequest, timeout: Duration) -> Result<UtAnswer, UtError> {
        let body =
            serde_json::to_vec(req).map_err(|e| UtError::Transport(format!("cannot encode the request: {e}")))?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .env("DMCTS_ACTION", &req.action)
            .env("DMCTS_CASE", &req.case)
            .env("DMCTS_STEP", req.step.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so a timeout kills whatever the hook started, too.
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child =
            cmd.spawn().map_err(|e| UtError::Transport(format!("cannot start {}: {e}", self.program.display())))?;
        let pid = child.id();
        if let Some(mut stdin) = child.stdin.take() {
            // Written aside, so a hook that never reads stdin cannot stall the call. A hook that
            // ignores stdin may exit first; a broken pipe is not an error then.
            tokio::spawn(async move {
                let _ = stdin.write_all(&body).await;
                let _ = stdin.shutdown().await;
            });
        }
        let mut stdout = Capture::start(child.stdout.take(), Keep::Head(MAX_ANSWER_BYTES));
        let mut stderr = Capture::start(child.stderr.take(), Keep::Tail(STDERR_KEPT_BYTES));
        let status = match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                kill_group(pid);
                return Err(UtError::Transport(format!("{}: {e}", self.program.display())));
            }
            Err(_) => {
                // The leader is not reaped yet (`wait` did not return), so the group id is still
                // ours; dropping `child` then kills the leader itself.
                kill_group(pid);
                return Err(UtError::timeout(timeout));
            }
        };
        // The hook has exited: what it wrote is in the pipes. A process it left behind may hold
        // them open, so EOF is not awaited beyond the grace; that process is not ours to kill.
        let grace = tokio::time::Instant::now() + EXIT_GRACE;
        let _ = tokio::time::timeout_at(grace, async {
            stdout.closed().await;
            stderr.closed().await;
        })
        .await;
        let (out, err) = (stdout.snapshot(), stderr.snapshot());
        interpret(&self.program, status, &out.bytes, out.total, &err.bytes)
    }
}

/// Which part of a stream to keep.
#[derive(Clone, Copy)]
enum Keep {
    /// The first N bytes (more is an oversized answer).
    Head(usize),
    /// The last N bytes.
    Tail(usize),
}

/// What was read from one of the hook's pipes so far.
#[derive(Default, Clone)]
struct Captured {
    bytes: Vec<u8>,
    /// Bytes read in all, kept or not.
    total: u64,
}

/// Reads one pipe to its end in a task of its own, keeping a bounded part. The task outlives
/// the call when a background process holds the pipe: it keeps reading and discarding, so that
/// process never dies of SIGPIPE because the suite stopped listening.
struct Capture {
    shared: Arc<Mutex<Captured>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Capture {
    fn start(pipe: Option<impl AsyncRead + Unpin + Send + 'static>, keep: Keep) -> Capture {
        let shared = Arc::new(Mutex::new(Captured::default()));
        let task = pipe.map(|mut pipe| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match pipe.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let mut c = shared.lock().unwrap_or_else(|e| e.into_inner());
                            c.total += n as u64;
                            match keep {
                                Keep::Head(max) => {
                                    let room = max.saturating_sub(c.bytes.len());
                                    c.bytes.extend_from_slice(&buf[..n.min(room)]);
                                }
                                Keep::Tail(max) => {
                                    c.bytes.extend_from_slice(&buf[..n]);
                                    if c.bytes.len() > max {
                                        let cut = c.bytes.len() - max;
                                        c.bytes.drain(..cut);
                                    }
                                }
                            }
                        }
                    }
                }
            })
        });
        Capture { shared, task }
    }

    /// Resolves at the pipe's end of file (at once when there was no pipe).
    async fn closed(&mut self) {
        if let Some(task) = &mut self.task {
            let _ = task.await;
            self.task = None;
        }
    }

    fn snapshot(&self) -> Captured {
        self.shared.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0) {
        // SAFETY: kill(2) has no memory effects; a negative pid names our child's own group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}

/// JSON on stdout wins; without it the exit code decides.
fn interpret(
    program: &Path,
    status: std::process::ExitStatus,
    stdout: &[u8],
    stdout_total: u64,
    stderr: &[u8],
) -> Result<UtAnswer, UtError> {
    if stdout_total > MAX_ANSWER_BYTES as u64 {
        // Whatever the exit code: an answer cut at the limit is no answer.
        return Err(too_large(&format!("{} wrote", program.display()), Some(stdout_total), stdout));
    }
    let text = String::from_utf8_lossy(stdout);
    let trimmed = text.trim();
    if !trimmed.is_empty() {
        // The whole of stdout, or its last non-empty line (earlier lines may be the hook's log).
        let last = trimmed.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        match parse_answer(trimmed.as_bytes()).or_else(|e| parse_answer(last.as_bytes()).map_err(|_| e)) {
            Ok(a) => return Ok(a),
            Err(why) if status.success() => {
                return Err(UtError::BadAnswer(format!("{} exited 0: {why}", program.display())));
            }
            // A failing hook's stray output is reported below with its stderr.
            Err(_) => {}
        }
    }
    match status.code() {
        Some(0) => Ok(UtAnswer::done(serde_json::Value::Null)),
        Some(EXIT_UNSUPPORTED) => Ok(UtAnswer::unsupported(format!(
            "{} exited {EXIT_UNSUPPORTED} (unsupported){}",
            program.display(),
            tail_suffix(stderr)
        ))),
        Some(code) => Ok(UtAnswer::failed(format!("{} exited {code}{}", program.display(), tail_suffix(stderr)))),
        None => {
            Ok(UtAnswer::failed(format!("{} ended by a signal ({status}){}", program.display(), tail_suffix(stderr))))
        }
    }
}

fn tail_suffix(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = lines[lines.len().saturating_sub(STDERR_LINES)..].join("\n");
    format!("; stderr: {}", crate::trace::truncate_marked(&tail, 1000))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::upper_tester::UtStatus;
    use std::os::unix::process::ExitStatusExt;

    fn exit(code: i32) -> std::process::ExitStatus {
        std::process::ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn json_wins_over_the_exit_code_and_logs_before_it_are_tolerated() {
        let a = interpret(Path::new("h"), exit(1), b"starting\n{\"status\":\"done\"}\n", 30, b"").unwrap();
        assert_eq!(a.status, UtStatus::Done);
    }

    #[test]
    fn exit_codes_without_json() {
        assert_eq!(interpret(Path::new("h"), exit(0), b"", 0, b"").unwrap().status, UtStatus::Done);
        assert_eq!(interpret(Path::new("h"), exit(127), b"", 0, b"").unwrap().status, UtStatus::Unsupported);
        let a = interpret(Path::new("h"), exit(2), b"junk", 4, b"a\nb\nc\nd\ne\nf\nlast words\n").unwrap();
        assert_eq!(a.status, UtStatus::Failed);
        assert!(a.message.contains("exited 2") && a.message.contains("last words") && !a.message.contains("a\nb"));
    }

    #[test]
    fn exit_zero_with_garbage_is_a_bad_answer() {
        assert!(matches!(interpret(Path::new("h"), exit(0), b"ok!", 3, b""), Err(UtError::BadAnswer(_))));
    }

    #[test]
    fn stdout_over_the_limit_is_a_bad_answer_whatever_the_exit_code() {
        let head = br#"{"status":"done","data":"xxxxxxxx"#;
        for code in [0, 1, 127] {
            match interpret(Path::new("h"), exit(code), head, MAX_ANSWER_BYTES as u64 + 1, b"") {
                Err(UtError::BadAnswer(m)) => {
                    assert!(m.contains(&format!("answer larger than {MAX_ANSWER_BYTES} bytes")), "{m}");
                    assert!(m.contains("{\"status\":\"done\""), "the prefix is kept: {m}");
                }
                other => panic!("expected BadAnswer, got {other:?}"),
            }
        }
    }
}
