//! Exec back end: run the vendor's command once per request, with the request JSON on stdin
//! and `DMCTS_ACTION`, `DMCTS_CASE`, `DMCTS_STEP` in the environment; the answer JSON is read
//! from stdout. Without JSON, the exit code speaks: 0 done, 127 unsupported, other failed.
use super::client::{parse_answer, UtError};
use super::{UtAnswer, UtRequest};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Exit code meaning "this IUT cannot do that action" (the shell's "command not found", as in
/// the QUIC interop runner's contract).
pub const EXIT_UNSUPPORTED: i32 = 127;

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
        let stdin = child.stdin.take();
        let work = async move {
            if let Some(mut stdin) = stdin {
                // A hook that ignores stdin may exit first; a broken pipe is not an error then.
                let _ = stdin.write_all(&body).await;
                let _ = stdin.shutdown().await;
            }
            child.wait_with_output().await
        };
        tokio::pin!(work);
        let out = match tokio::time::timeout(timeout, &mut work).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => return Err(UtError::Transport(format!("{}: {e}", self.program.display()))),
            Err(_) => {
                // The leader is not reaped yet (the future still owns it), so the group id is
                // still ours; dropping the future then kills and reaps the leader itself.
                kill_group(pid);
                return Err(UtError::timeout(timeout));
            }
        };
        interpret(&self.program, out.status, &out.stdout, &out.stderr)
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
    stderr: &[u8],
) -> Result<UtAnswer, UtError> {
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
        let a = interpret(Path::new("h"), exit(1), b"starting\n{\"status\":\"done\"}\n", b"").unwrap();
        assert_eq!(a.status, UtStatus::Done);
    }

    #[test]
    fn exit_codes_without_json() {
        assert_eq!(interpret(Path::new("h"), exit(0), b"", b"").unwrap().status, UtStatus::Done);
        assert_eq!(interpret(Path::new("h"), exit(127), b"", b"").unwrap().status, UtStatus::Unsupported);
        let a = interpret(Path::new("h"), exit(2), b"junk", b"a\nb\nc\nd\ne\nf\nlast words\n").unwrap();
        assert_eq!(a.status, UtStatus::Failed);
        assert!(a.message.contains("exited 2") && a.message.contains("last words") && !a.message.contains("a\nb"));
    }

    #[test]
    fn exit_zero_with_garbage_is_a_bad_answer() {
        assert!(matches!(interpret(Path::new("h"), exit(0), b"ok!", b""), Err(UtError::BadAnswer(_))));
    }
}
