//! HTTP authentication of a registered device's packages: the server accepts Basic and Digest
//! (DM 2.0 digest §5 [S1 §8.2.1]: a DM server MUST support Basic, Digest and X.509), and a 401
//! offers both, Digest SHA-256 first. Digest nonces are the server's own, the last
//! [`MAX_NONCES`] issued.
use super::Shared;
use crate::wire::http_auth::{Algorithm, Challenge, Required, Scheme};

/// How many issued Digest nonces stay valid.
pub(super) const MAX_NONCES: usize = 64;

/// The `WWW-Authenticate` values of a 401: a Digest challenge with a fresh nonce (unless the
/// `no-digest` fault), then Basic.
pub(super) fn challenges(sh: &Shared) -> Vec<String> {
    let realm = &sh.cfg.server_id;
    let mut out = Vec::new();
    if !sh.faults.has("no-digest") {
        let c = Challenge::new(realm, Algorithm::Sha256);
        let mut n = sh.nonces.lock().unwrap_or_else(|e| e.into_inner());
        n.push_back(c.nonce.clone());
        while n.len() > MAX_NONCES {
            n.pop_front();
        }
        out.push(c.header());
    }
    out.push(format!("Basic realm=\"{realm}\""));
    out
}

/// Checks a request's `Authorization` against the device's credentials, in whichever scheme it
/// uses; says why it is refused.
pub(super) fn check(sh: &Shared, user: &str, password: &str, authorization: Option<&str>) -> Result<(), String> {
    let digest = authorization.is_some_and(|a| a.trim_start().to_ascii_lowercase().starts_with("digest"));
    if digest && sh.faults.has("no-digest") {
        return Err("Digest credentials are not accepted".into());
    }
    let scheme = match (digest, authorization.and_then(|a| crate::wire::http_auth::Answer::parse(a).ok().flatten())) {
        (true, Some(a)) if a.algorithm == Algorithm::Md5 => Scheme::DigestMd5,
        (true, _) => Scheme::Digest,
        (false, _) => Scheme::Basic,
    };
    let req = Required { scheme, realm: sh.cfg.server_id.clone(), user: user.into(), password: password.into() };
    let nonces = sh.nonces.lock().unwrap_or_else(|e| e.into_inner()).clone();
    req.check(authorization, "POST", |n| nonces.iter().any(|x| x == n)).map_err(|r| r.to_string())
}
