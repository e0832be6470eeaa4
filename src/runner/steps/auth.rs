//! HTTP authentication in the steps (docs/security.md). As DM server (`await` with `auth`) the
//! suite demands the account's credentials: a request without valid ones is answered 401 with a
//! challenge in the demanded scheme, and the IUT's next request must answer it. As DM client
//! ([`super::session`]) the suite answers a server's challenge.
use crate::peers::listener::{TakeOutcome, Taken};
use crate::peers::HttpAnswer;
use crate::runner::ctx::Ctx;
use crate::verdict::Verdict;
use crate::wire::http_auth::{Required, Scheme};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// `auth` of an `await` step: the request must carry the account's credentials.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthDemand {
    /// The scheme of the challenge (default: PIXIT account.auth).
    #[serde(default)]
    pub scheme: Option<Scheme>,
    /// The item charged when the IUT does not answer the challenge correctly.
    pub scr: String,
    #[serde(default)]
    pub why: Option<String>,
}

/// The scheme of the DM account (PIXIT `account.auth`, default Basic).
pub fn account_scheme(ctx: &Ctx<'_>) -> Scheme {
    match ctx.env.settings.pixit.get("account.auth").and_then(Value::as_str) {
        Some("digest") => Scheme::Digest,
        Some("digest-md5") => Scheme::DigestMd5,
        _ => Scheme::Basic,
    }
}

/// Returns the request once it carries valid credentials, challenging once (401) if it does
/// not; `None` when the verdict is set (wrong answer, no answer).
pub async fn authenticate(
    ctx: &mut Ctx<'_>,
    demand: &AuthDemand,
    endpoint: &str,
    path: Option<&str>,
    taken: Taken,
    timeout: Duration,
) -> Option<Taken> {
    let Some((user, password)) = ctx.env.settings.basic.clone() else {
        ctx.env.listener.answer(taken, HttpAnswer::status(500));
        ctx.harness_error(
            "the case demands HTTP credentials, but the PIXIT gives no account.username and account.password",
        );
        return None;
    };
    // A Digest demand takes the account's algorithm when it names one (digest-md5).
    let scheme = match (demand.scheme, account_scheme(ctx)) {
        (Some(Scheme::Digest), Scheme::DigestMd5) => Scheme::DigestMd5,
        (Some(s), _) => s,
        (None, a) => a,
    };
    let required = Required { scheme, realm: ctx.env.settings.server_id.clone(), user, password };
    let listener = ctx.env.listener.clone();
    let mut nonces: Vec<String> = Vec::new();
    let mut taken = taken;
    let mut challenged = false;
    loop {
        let inc = taken.incoming.clone();
        let issued = |n: &str| nonces.iter().any(|x| x == n);
        match required.check(inc.header("authorization"), &inc.method, issued) {
            Ok(()) => {
                ctx.trace.note(format!("request {}: the account's credentials verified ({})", inc.seq, scheme.name()));
                return Some(taken);
            }
            Err(refusal) if challenged => {
                listener.answer(taken, HttpAnswer::status(401));
                ctx.fail_scr(
                    Verdict::Fail,
                    &demand.scr,
                    demand.why.as_deref(),
                    format!("the IUT answered the suite's {} challenge with {refusal}", scheme.name()),
                    format!("{} credentials of the account (PIXIT account.username/password)", scheme.name()),
                    refusal.to_string(),
                );
                return None;
            }
            Err(refusal) => {
                challenged = true;
                let (header, challenge) = required.challenge();
                if let Some(c) = challenge {
                    nonces.push(c.nonce);
                }
                ctx.trace
                    .note(format!("request {} has {refusal}: answered 401 with WWW-Authenticate: {header}", inc.seq));
                let answer = HttpAnswer {
                    status: 401,
                    headers: vec![("WWW-Authenticate".into(), header)],
                    body: b"credentials required".to_vec(),
                };
                listener.answer(taken, answer);
                match listener.take_or_misdirected(endpoint, path, timeout).await {
                    TakeOutcome::Taken(t) => taken = t,
                    other => {
                        let why = match other {
                            TakeOutcome::Misdirected(m) => m.describe(),
                            _ => format!("nothing within {} ms", timeout.as_millis()),
                        };
                        ctx.fail_scr(
                            Verdict::Fail,
                            &demand.scr,
                            demand.why.as_deref(),
                            format!("no request answered the suite's {} challenge: {why}", scheme.name()),
                            "the request again, with the account's credentials".into(),
                            why,
                        );
                        return None;
                    }
                }
            }
        }
    }
}
