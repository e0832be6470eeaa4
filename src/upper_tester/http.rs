//! HTTP back end: POST the request as JSON to the vendor's hook; the response body (at most
//! [`MAX_ANSWER_BYTES`]) is the answer.
use super::client::{parse_answer, too_large, UtError};
use super::{UtAnswer, UtRequest, MAX_ANSWER_BYTES};
use crate::peers::http::read_limited;
use std::time::Duration;

/// Correlation headers on every request, so vendors can match the call with their own logs.
pub const CASE_HEADER: &str = "X-Dmcts-Case";
pub const STEP_HEADER: &str = "X-Dmcts-Step";

pub(crate) struct HttpBackend {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl HttpBackend {
    pub(crate) fn new(url: &str) -> Result<Self, UtError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| UtError::Config(format!("PIXIT upper_tester.url {url:?} is not a URL: {e}")))?;
        if parsed.scheme() != "http" {
            // The suite is built without a TLS stack: lab traffic is plain HTTP.
            return Err(UtError::Config(format!(
                "PIXIT upper_tester.url {url:?}: expected an http:// URL (this build has no TLS)"
            )));
        }
        // A proxy from the environment must never see lab traffic.
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| UtError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpBackend { url: parsed, client })
    }

    pub(crate) async fn call(&self, req: &UtRequest, timeout: Duration) -> Result<UtAnswer, UtError> {
        let mut rb = self.client.post(self.url.clone()).timeout(timeout).json(req);
        if let Ok(v) = reqwest::header::HeaderValue::from_str(&req.case) {
            rb = rb.header(CASE_HEADER, v);
        }
        rb = rb.header(STEP_HEADER, req.step.to_string());
        // reqwest's timeout covers connect, headers and body; the outer bound is a backstop.
        let exchange = async {
            let resp = rb.send().await?;
            let status = resp.status();
            let body = read_limited(resp, MAX_ANSWER_BYTES).await?;
            Ok::<_, reqwest::Error>((status, body))
        };
        let (status, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => return Err(UtError::timeout(timeout)),
            Ok(Err(e)) if e.is_timeout() => return Err(UtError::timeout(timeout)),
            Ok(Err(e)) => return Err(UtError::Transport(format!("POST {}: {}", self.url, error_chain(&e)))),
            Ok(Ok(x)) => x,
        };
        if body.truncated {
            let declared = body.declared_len.filter(|n| *n > MAX_ANSWER_BYTES as u64);
            return Err(too_large(&format!("POST {} answered HTTP {status} with", self.url), declared, &body.bytes));
        }
        let body = body.bytes;
        match parse_answer(&body) {
            Ok(a) => Ok(a),
            // An error status with a valid answer (e.g. 501 + unsupported) is still an answer.
            Err(why) if status.is_success() => Err(UtError::BadAnswer(format!("POST {}: {why}", self.url))),
            Err(_) => Err(UtError::Transport(format!(
                "POST {} answered HTTP {status} without an upper-tester answer: {}",
                self.url,
                crate::trace::truncate_marked(&String::from_utf8_lossy(&body), 200)
            ))),
        }
    }
}

/// reqwest's top-level message is terse ("error sending request"); the cause says why.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
