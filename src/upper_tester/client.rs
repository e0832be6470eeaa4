//! The suite's side of the upper-tester contract: one [`UpperTester`] value, built from the
//! PIXIT `[pixit.upper_tester]` table, that sends a [`UtRequest`] through whichever back end
//! the vendor chose and returns the IUT's [`UtAnswer`].
use super::exec::ExecBackend;
use super::http::HttpBackend;
use super::interactive::InteractiveBackend;
use super::scripted::ScriptedBackend;
use super::{UpperTesterConfig, UtAnswer, UtRequest, MAX_ANSWER_BYTES};
use crate::peers::endpoints::Endpoints;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why an upper-tester call produced no answer. An answer with status `unsupported` or
/// `failed` is not an error: it is the IUT's word, returned as `Ok`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UtError {
    /// No answer within the step timeout (PIXIT `timeouts.step_ms`).
    #[error("no answer from the upper tester within {after_ms} ms")]
    Timeout { after_ms: u64 },
    /// The request could not be delivered or the answer not received.
    #[error("upper tester transport: {0}")]
    Transport(String),
    /// Something came back, but it is not an answer of the contract.
    #[error("upper tester answer is not valid: {0}")]
    BadAnswer(String),
    /// Only a human operator can perform this step, and there is no terminal to ask one.
    #[error("requires-operator: prompt {prompt_id} needs an operator at a terminal")]
    RequiresOperator { prompt_id: String },
    /// The `[pixit.upper_tester]` table cannot be used.
    #[error("upper tester configuration: {0}")]
    Config(String),
}

impl UtError {
    pub(crate) fn timeout(after: Duration) -> Self {
        UtError::Timeout { after_ms: after.as_millis().min(u64::MAX as u128) as u64 }
    }
}

pub(crate) enum Backend {
    Http(HttpBackend),
    Exec(ExecBackend),
    Interactive(InteractiveBackend),
    Scripted(ScriptedBackend),
}

/// Drives the IUT through one back end. Cheap to clone; all clones share the back end (the
/// scripted back end's consumed `once` entries, the interactive back end's terminal), so it
/// can be used from many tokio tasks at once.
#[derive(Clone)]
pub struct UpperTester {
    backend: Arc<Backend>,
}

impl std::fmt::Debug for UpperTester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpperTester").field("backend", &self.backend_name()).finish()
    }
}

impl UpperTester {
    /// Builds the back end named by `cfg`. `base_dir` (normally the folder of the ICS file)
    /// resolves a relative scripted `file` and a relative exec program path such as
    /// `./hooks/ut.sh`; a bare program name is looked up on `PATH`.
    pub fn from_config(cfg: &UpperTesterConfig, base_dir: &Path) -> Result<UpperTester, UtError> {
        let backend = match cfg {
            UpperTesterConfig::Http { url } => Backend::Http(HttpBackend::new(url)?),
            UpperTesterConfig::Exec { command } => Backend::Exec(ExecBackend::new(command, base_dir)?),
            UpperTesterConfig::Interactive => Backend::Interactive(InteractiveBackend::from_stdin()),
            UpperTesterConfig::Scripted { file } => Backend::Scripted(ScriptedBackend::load(&base_dir.join(file))?),
        };
        Ok(UpperTester { backend: Arc::new(backend) })
    }

    /// An interactive upper tester reading the operator's answers from `input` and writing
    /// prompts to `output`, as if they were a terminal: for a web or test-fest front end, and
    /// for tests.
    pub fn interactive_with_io(
        input: impl std::io::BufRead + Send + 'static,
        output: impl std::io::Write + Send + 'static,
    ) -> UpperTester {
        UpperTester { backend: Arc::new(Backend::Interactive(InteractiveBackend::with_io(input, output))) }
    }

    /// Tells the back end where the suite's endpoints are, so an operator prompt can name the
    /// URL it needs ("...to its DM server at http://.../dm now"). Only the interactive back end
    /// uses them: the other back ends get what they need in the request's `args`.
    pub fn with_endpoints(self, endpoints: &Endpoints) -> UpperTester {
        if let Backend::Interactive(b) = &*self.backend {
            b.set_endpoints(endpoints.clone());
        }
        self
    }

    /// Sends `req` and waits at most `timeout` for the answer (PIXIT `timeouts.step_ms`). A
    /// process or prompt still running at the deadline is ended (exec hooks are killed).
    pub async fn call(&self, req: &UtRequest, timeout: Duration) -> Result<UtAnswer, UtError> {
        match &*self.backend {
            Backend::Http(b) => b.call(req, timeout).await,
            Backend::Exec(b) => b.call(req, timeout).await,
            Backend::Interactive(b) => b.call(req, timeout).await,
            Backend::Scripted(b) => Ok(b.answer(req)),
        }
    }

    /// True when a human operator answers (so `plan` can list operator steps and the runner
    /// can print how long a case has been waiting).
    pub fn is_interactive(&self) -> bool {
        matches!(&*self.backend, Backend::Interactive(_))
    }

    /// The back end's name as in the PIXIT `backend` key: `http`, `exec`, `interactive`,
    /// `scripted`.
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Http(_) => "http",
            Backend::Exec(_) => "exec",
            Backend::Interactive(_) => "interactive",
            Backend::Scripted(_) => "scripted",
        }
    }
}

/// What a valid answer looks like, quoted in every [`UtError::BadAnswer`].
pub(crate) const ANSWER_SHAPE: &str =
    r#"{"status": "done"|"unsupported"|"failed", "message": string, "data": any JSON}"#;

/// How much of an oversized answer is quoted in the error (and so in the trace and reports).
pub(crate) const QUOTED_PREFIX: usize = 200;

/// The error for an answer over [`MAX_ANSWER_BYTES`]: says the limit, how much came (when
/// known), and quotes a short prefix, never the whole.
pub(crate) fn too_large(who: &str, total: Option<u64>, prefix: &[u8]) -> UtError {
    let size = match total {
        Some(n) => format!(" ({n} bytes)"),
        None => String::new(),
    };
    let cut = &prefix[..prefix.len().min(QUOTED_PREFIX)];
    UtError::BadAnswer(format!(
        "{who} an answer larger than {MAX_ANSWER_BYTES} bytes{size}, the limit of the contract; it begins: {}…",
        String::from_utf8_lossy(cut)
    ))
}

/// Parses an answer body, or says what was expected and what came instead.
pub(crate) fn parse_answer(body: &[u8]) -> Result<UtAnswer, String> {
    match serde_json::from_slice::<UtAnswer>(body) {
        Ok(a) => Ok(a),
        Err(e) => {
            let what = if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
                "JSON of the wrong shape"
            } else {
                "not JSON"
            };
            Err(format!(
                "expected {ANSWER_SHAPE}; got {what} ({e}): {}",
                crate::trace::truncate_marked(&String::from_utf8_lossy(body), 200)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upper_tester::UtStatus;

    #[test]
    fn parse_answer_accepts_the_contract_and_defaults_message_and_data() {
        let a = parse_answer(br#"{"status":"unsupported"}"#).unwrap();
        assert_eq!(a.status, UtStatus::Unsupported);
        assert_eq!(a.message, "");
        assert!(a.data.is_null());
    }

    #[test]
    fn parse_answer_says_what_was_expected() {
        let e = parse_answer(b"<html>oops</html>").unwrap_err();
        assert!(e.contains("not JSON") && e.contains("\"status\""), "{e}");
        let e = parse_answer(br#"{"status":"ok"}"#).unwrap_err();
        assert!(e.contains("wrong shape") && e.contains("ok"), "{e}");
    }

    #[test]
    fn errors_display_the_reason() {
        assert_eq!(
            UtError::timeout(Duration::from_millis(1500)).to_string(),
            "no answer from the upper tester within 1500 ms"
        );
        assert!(UtError::RequiresOperator { prompt_id: "UT-RESET".into() }.to_string().contains("UT-RESET"));
    }
}
