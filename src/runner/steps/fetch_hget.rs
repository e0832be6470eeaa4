//! `fetch-hget`: server IUT: fetch what an HGET of the server's session would have the device
//! store, and check it. The suite's device answers HGET with a status; where a case must judge
//! the data itself (GwMO: the DMCommands a server stores in a gateway's Fanout job must carry
//! the LocalImageURI), this step finds the HGET whose ClientURI is `client_uri` in the session
//! record saved by `finish-session` (`session` names it), GETs its ServerURI (bounded by the
//! step timeout and 16 MiB), and runs `checks` on the data (JSON; `save_as` keeps it). No such
//! HGET, or a non-2xx answer, fails `scr`.
use super::Validation;
use crate::catalog::check::Check;
use crate::peers::http::{read_limited, MAX_BODY_BYTES};
use crate::runner::checks::Observed;
use crate::runner::ctx::Ctx;
use crate::scr::Role;
use crate::verdict::Verdict;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchHget {
    /// The item a missing HGET or a failed fetch is charged to.
    pub scr: String,
    #[serde(default)]
    pub why: Option<String>,
    /// The variable a `finish-session` saved its session record in.
    pub session: String,
    /// The HGET's ClientURI (templated).
    pub client_uri: String,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub save_as: Option<String>,
}

impl FetchHget {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("fetch-hget", Role::Server);
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let Some(record) = ctx.vars.lookup(&self.session) else {
            return ctx.harness_error(format!("case defect: no session record saved as {:?}", self.session));
        };
        let Some(client_uri) = ctx.render_text(&self.client_uri) else { return };
        let commands: Vec<Vec<String>> =
            serde_json::from_value(record.get("commands").cloned().unwrap_or(Value::Null)).unwrap_or_default();
        let server_uri = commands
            .iter()
            .find(|c| c.first().map(String::as_str) == Some("HGET") && c.get(2) == Some(&client_uri))
            .and_then(|c| c.get(1).cloned());
        let scr = self.scr.clone();
        let Some(url) = server_uri else {
            return ctx.fail_scr(
                Verdict::Fail,
                &scr,
                self.why.as_deref(),
                format!("the session has no HGET into {client_uri}"),
                format!("[\"HGET\", <ServerURI>, \"{client_uri}\"]"),
                format!(
                    "commands {}",
                    crate::trace::truncate_marked(&serde_json::to_string(&commands).unwrap_or_default(), 300)
                ),
            );
        };
        let within = ctx.env.settings.step_timeout;
        let _wait = ctx.show_wait(within, || format!("fetching {url} (the data of the HGET into {client_uri})"));
        let got = tokio::time::timeout(within, async {
            let r = ctx.env.http.get(&url).send().await.map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            let body = read_limited(r, MAX_BODY_BYTES).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body.bytes))
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", within.as_millis())));
        let (status, body) = match got {
            Ok((s, b)) if (200..300).contains(&s) => (s, b),
            Ok((s, _)) => {
                return ctx.fail_scr(
                    Verdict::Fail,
                    &scr,
                    self.why.as_deref(),
                    format!("GET {url} was answered {s}"),
                    "2xx and the data".into(),
                    s.to_string(),
                )
            }
            Err(e) => {
                return ctx.fail_scr(
                    Verdict::Fail,
                    &scr,
                    self.why.as_deref(),
                    format!("GET {url}: {e}"),
                    "2xx and the data".into(),
                    e,
                )
            }
        };
        ctx.trace.note(format!("fetch-hget: GET {url}: {status}, {} bytes", body.len()));
        let data = serde_json::from_slice::<Value>(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        ctx.run_checks(&self.checks, &Observed::Json(&data));
        ctx.save(self.save_as.as_deref(), data);
    }
}
