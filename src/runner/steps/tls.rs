//! Steps of the security cases over HTTPS (docs/security.md): `present-certificate` switches
//! the certificate the suite's listener presents for the rest of the case (the case's end
//! switches back), and `expect-tls-refusal` waits for the client IUT to refuse it.
use super::Validation;
use crate::peers::tls::Presented;
use crate::runner::ctx::Ctx;
use crate::scr::Role;
use crate::verdict::Verdict;
use serde::Deserialize;
use std::time::Duration;

/// `present-certificate`: from now on the listener presents `certificate`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresentCertificate {
    pub certificate: Presented,
}

impl PresentCertificate {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("present-certificate", Role::Client);
    }

    pub fn run(&self, ctx: &mut Ctx<'_>) {
        let Some(tls) = ctx.env.listener.tls() else {
            return ctx.harness_error(
                "the suite's listener serves plain HTTP: a case presenting a certificate needs HTTPS ([pixit.tls] \
                 enabled; the case should apply only if ICS-DMC-TLS)",
            );
        };
        if !tls.present(self.certificate) {
            return ctx.harness_error(format!(
                "the suite cannot present {}: it needs the key of the CA the IUT trusts, which only a CA generated for \
                 the run gives (leave [pixit.tls] cert and key out)",
                self.certificate.describe()
            ));
        }
        ctx.trace.note(format!("the suite's listener now presents {}", self.certificate.describe()));
    }
}

/// `expect-tls-refusal`: the client IUT must abort the TLS handshake (and so send nothing)
/// while the listener presents a certificate it must not accept.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectTlsRefusal {
    pub scr: String,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl ExpectTlsRefusal {
    pub fn validate(&self, v: &mut Validation) {
        v.needs_role("expect-tls-refusal", Role::Client);
    }

    pub async fn run(&self, ctx: &mut Ctx<'_>) {
        let listener = ctx.env.listener.clone();
        let Some(tls) = listener.tls() else {
            return ctx.harness_error("the suite's listener serves plain HTTP: expect-tls-refusal needs HTTPS");
        };
        let presented = tls.presenting();
        let timeout = self.timeout_ms.map(Duration::from_millis).unwrap_or(ctx.env.settings.step_timeout);
        let shown = ctx.show_wait(timeout, || format!("waiting for the IUT to refuse {}", presented.describe()));
        let outcome = listener.wait_handshake_failure(timeout).await;
        drop(shown);
        match outcome {
            Ok(f) => ctx.trace.note(format!("the IUT refused the handshake ({}): as required", f.error)),
            Err(Some(req)) => {
                ctx.fail_scr(
                    Verdict::Fail,
                    &self.scr,
                    self.why.as_deref(),
                    format!(
                        "the IUT accepted {} and sent {} {} over that connection",
                        presented.describe(),
                        req.method,
                        req.target
                    ),
                    "the TLS handshake refused (no request sent)".into(),
                    format!("{} {} arrived", req.method, req.target),
                );
            }
            Err(None) => ctx.inconc(format!(
                "within {} ms the IUT neither refused a TLS handshake nor sent a request: it did not try to connect",
                timeout.as_millis()
            )),
        }
    }
}
