//! Data-driven checks on an HTTP message: status, method, path, headers, media types, body.
use super::{accepts, fail, header, media_type_of, Failure, Observed};
use crate::catalog::check::CheckKind;

/// Evaluates `kind` if it is an HTTP check (None otherwise).
pub fn evaluate(kind: &CheckKind, obs: &Observed) -> Option<Result<(), Failure>> {
    let no_http = || fail("an HTTP message", "no HTTP message was observed");
    Some(match kind {
        CheckKind::Status { equals } => match obs {
            Observed::Http { status: Some(s), .. } if s == equals => Ok(()),
            Observed::Http { status: Some(s), .. } => fail(format!("HTTP status {equals}"), format!("HTTP status {s}")),
            _ => fail("an HTTP status", "no status was observed"),
        },
        CheckKind::Method { equals } => match obs {
            Observed::Http { method: Some(m), .. } if m.eq_ignore_ascii_case(equals) => Ok(()),
            Observed::Http { method: Some(m), .. } => fail(format!("HTTP method {equals}"), format!("HTTP method {m}")),
            _ => fail("an HTTP request", "no request"),
        },
        CheckKind::Path { equals } => match obs {
            Observed::Http { path: Some(p), .. } if p == equals => Ok(()),
            Observed::Http { path, .. } => fail(format!("path {equals}"), format!("path {}", path.unwrap_or("-"))),
            _ => fail("an HTTP request", "no request"),
        },
        CheckKind::HeaderPresent { header: h } => match obs {
            Observed::Http { headers, .. } if header(headers, h).is_some() => Ok(()),
            Observed::Http { .. } => fail(format!("header {h}"), "header absent"),
            _ => no_http(),
        },
        CheckKind::HeaderAbsent { header: h } => match obs {
            Observed::Http { headers, .. } => match header(headers, h) {
                Some(v) => fail(format!("no header {h}"), format!("{h}: {v}")),
                None => Ok(()),
            },
            _ => no_http(),
        },
        CheckKind::HeaderEquals { header: h, value } => match obs {
            Observed::Http { headers, .. } => match header(headers, h) {
                Some(v) if v == value => Ok(()),
                Some(v) => fail(format!("{h}: {value}"), format!("{h}: {v}")),
                None => fail(format!("{h}: {value}"), format!("no {h} header")),
            },
            _ => no_http(),
        },
        CheckKind::MediaType { header: h, value } => match obs {
            Observed::Http { headers, .. } => match header(headers, h) {
                Some(v) if media_type_of(v) == media_type_of(value) => Ok(()),
                Some(v) => fail(format!("{h}: {value}"), format!("{h}: {v}")),
                None => fail(format!("{h}: {value}"), format!("no {h} header")),
            },
            _ => no_http(),
        },
        CheckKind::HeaderAccepts { header: h, value } => match obs {
            Observed::Http { headers, .. } => match header(headers, h) {
                Some(v) if accepts(v, value) => Ok(()),
                Some(v) => fail(format!("{h} admitting {value}"), format!("{h}: {v}")),
                None => fail(format!("{h} admitting {value}"), format!("no {h} header")),
            },
            _ => no_http(),
        },
        CheckKind::BodyEmpty {} => match obs {
            Observed::Http { body: &[], .. } => Ok(()),
            Observed::Http { body, .. } => fail("an empty body", crate::trace::body_for_trace(body)),
            _ => no_http(),
        },
        _ => return None,
    })
}
