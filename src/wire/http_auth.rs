//! HTTP authentication of DM sessions: Basic (RFC 7617) and Digest (RFC 7616, MD5 and SHA-256,
//! `qop=auth`). The DM 2.0 digest ([S1 §8.2.1], section 5 of ../shared/spec/dm2-protocol.md)
//! says a DM server MUST support Basic, Digest and X.509 client certificates and a DM client
//! MUST support Basic and X.509 and MAY support Digest; which Digest algorithm and which
//! quality of protection are not stated there (UNVERIFIED), so the suite uses RFC 7616's
//! SHA-256 by default with MD5 configurable (PIXIT `account.auth`).
//!
//! Both directions use this module: the suite (and the reference server) as DM server
//! challenges with 401 + `WWW-Authenticate` and checks the `Authorization` it gets; the suite
//! (and the reference client) as DM client answers a challenge. Without the `-sess` variants
//! and `auth-int` (no DM text mentions them).
use md5::Md5;
use sha2::{Digest as _, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// A Digest algorithm (RFC 7616 section 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum Algorithm {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn parse(s: &str) -> Result<Algorithm, String> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Ok(Algorithm::Md5),
            "SHA-256" => Ok(Algorithm::Sha256),
            other => Err(format!("Digest algorithm {other:?} is not supported (MD5 or SHA-256)")),
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

/// The authentication scheme a DM account uses (PIXIT `account.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    #[default]
    Basic,
    /// Digest with SHA-256 (RFC 7616's preferred algorithm).
    #[serde(rename = "digest")]
    Digest,
    /// Digest with MD5 (for peers without SHA-256).
    #[serde(rename = "digest-md5")]
    DigestMd5,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Basic => "Basic",
            Scheme::Digest => "Digest SHA-256",
            Scheme::DigestMd5 => "Digest MD5",
        }
    }

    pub fn digest_algorithm(self) -> Option<Algorithm> {
        match self {
            Scheme::Basic => None,
            Scheme::Digest => Some(Algorithm::Sha256),
            Scheme::DigestMd5 => Some(Algorithm::Md5),
        }
    }
}

/// `Authorization: Basic …` for `user`/`password`.
pub fn basic_header(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// The user and password of a Basic `Authorization` value.
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let (u, p) = String::from_utf8(raw).ok()?.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))?;
    Some((u, p))
}

/// Splits `Scheme k=v, k="v", …` into the scheme and its parameters (names lowercased,
/// quoted strings unescaped).
fn auth_params(value: &str) -> Result<(String, Vec<(String, String)>), String> {
    let value = value.trim();
    let (scheme, mut rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=').ok_or_else(|| format!("parameter without '=' at {rest:?}"))?;
        let name = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let v = if let Some(q) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated quoted value of {name}"))?;
            rest = &q[end + 1..];
            out
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let v = rest[..end].trim().to_string();
            rest = &rest[end..];
            v
        };
        params.push((name, v));
    }
    Ok((scheme.to_string(), params))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A fresh value for a nonce or cnonce: unpredictable enough for a test run (time, process,
/// counter through SHA-256), never repeated within a process.
pub fn fresh_nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let h = Sha256::digest(format!("{t}:{}:{n}", std::process::id()).as_bytes());
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(&h[..24])
}

/// A Digest challenge (`WWW-Authenticate: Digest …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// Offers `qop=auth` (RFC 7616 requires it; RFC 2069 peers omit it).
    pub qop_auth: bool,
    pub stale: bool,
}

impl Challenge {
    /// A fresh challenge for `realm`.
    pub fn new(realm: &str, algorithm: Algorithm) -> Challenge {
        Challenge {
            realm: realm.to_string(),
            nonce: fresh_nonce(),
            opaque: Some(fresh_nonce()),
            algorithm,
            qop_auth: true,
            stale: false,
        }
    }

    /// The `WWW-Authenticate` value.
    pub fn header(&self) -> String {
        let mut s = format!("Digest realm={}", quote(&self.realm));
        if self.qop_auth {
            s.push_str(", qop=\"auth\"");
        }
        s.push_str(&format!(", algorithm={}, nonce={}", self.algorithm.name(), quote(&self.nonce)));
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        if self.stale {
            s.push_str(", stale=true");
        }
        s
    }

    /// Parses one `WWW-Authenticate` value; `Ok(None)` when it is another scheme.
    pub fn parse(value: &str) -> Result<Option<Challenge>, String> {
        let (scheme, params) = auth_params(value)?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return Ok(None);
        }
        let need =
            |n: &str| param(&params, n).map(str::to_string).ok_or_else(|| format!("Digest challenge without {n}"));
        let qop = param(&params, "qop");
        if let Some(q) = qop {
            if !q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")) {
                return Err(format!("Digest challenge offers qop {q:?}, not \"auth\""));
            }
        }
        Ok(Some(Challenge {
            realm: need("realm")?,
            nonce: need("nonce")?,
            opaque: param(&params, "opaque").map(str::to_string),
            algorithm: param(&params, "algorithm").map_or(Ok(Algorithm::Md5), Algorithm::parse)?,
            qop_auth: qop.is_some(),
            stale: param(&params, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        }))
    }

    /// The best Digest challenge among `WWW-Authenticate` values (SHA-256 before MD5), or why
    /// none can be answered.
    pub fn pick<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Option<Challenge>, String> {
        let mut best: Option<Challenge> = None;
        let mut problem = None;
        for v in values {
            match Challenge::parse(v) {
                Ok(Some(c)) if best.as_ref().is_none_or(|b| b.algorithm == Algorithm::Md5) => best = Some(c),
                Ok(_) => {}
                Err(e) => problem = Some(e),
            }
        }
        match (best, problem) {
            (Some(c), _) => Ok(Some(c)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        }
    }

    /// Answers this challenge for `method` on `uri` (the request target).
    pub fn answer(&self, method: &str, uri: &str, user: &str, password: &str, cnonce: &str, nc: u32) -> Answer {
        let qop = self.qop_auth.then(|| "auth".to_string());
        let mut a = Answer {
            username: user.to_string(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_string(),
            response: String::new(),
            algorithm: self.algorithm,
            cnonce: qop.as_ref().map(|_| cnonce.to_string()),
            nc: qop.as_ref().map(|_| format!("{nc:08x}")),
            qop,
            opaque: self.opaque.clone(),
        };
        a.response = a.expected(method, password);
        a
    }
}

/// A Digest `Authorization` (RFC 7616 section 3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    pub nc: Option<String>,
    pub qop: Option<String>,
    pub opaque: Option<String>,
}

impl Answer {
    /// The response value these fields call for, with `password`.
    pub fn expected(&self, method: &str, password: &str) -> String {
        let h = |s: &str| self.algorithm.hash(s);
        let ha1 = h(&format!("{}:{}:{password}", self.username, self.realm));
        let ha2 = h(&format!("{method}:{}", self.uri));
        match (&self.qop, &self.nc, &self.cnonce) {
            (Some(q), Some(nc), Some(cn)) => h(&format!("{ha1}:{}:{nc}:{cn}:{q}:{ha2}", self.nonce)),
            _ => h(&format!("{ha1}:{}:{ha2}", self.nonce)),
        }
    }

    /// The `Authorization` value.
    pub fn header(&self) -> String {
        let mut s = format!(
            "Digest username={}, realm={}, uri={}, algorithm={}, nonce={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.uri),
            self.algorithm.name(),
            quote(&self.nonce)
        );
        if let (Some(q), Some(nc), Some(cn)) = (&self.qop, &self.nc, &self.cnonce) {
            s.push_str(&format!(", nc={nc}, cnonce={}, qop={q}", quote(cn)));
        }
        s.push_str(&format!(", response={}", quote(&self.response)));
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        s
    }

    /// Parses an `Authorization` value; `Ok(None)` when it is another scheme.
    pub fn parse(value: &str) -> Result<Option<Answer>, String> {
        let (scheme, params) = auth_params(value)?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return Ok(None);
        }
        let need =
            |n: &str| param(&params, n).map(str::to_string).ok_or_else(|| format!("Digest credentials without {n}"));
        let get = |n: &str| param(&params, n).map(str::to_string);
        Ok(Some(Answer {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            algorithm: param(&params, "algorithm").map_or(Ok(Algorithm::Md5), Algorithm::parse)?,
            cnonce: get("cnonce"),
            nc: get("nc"),
            qop: get("qop"),
            opaque: get("opaque"),
        }))
    }
}

/// What the server side requires of a request, and how it checks one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    pub scheme: Scheme,
    pub realm: String,
    pub user: String,
    pub password: String,
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    WrongScheme(String),
    Malformed(String),
    /// The nonce is not one this server issued (or one it issued for another challenge).
    UnknownNonce,
    Wrong(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing => f.write_str("no Authorization header"),
            Refusal::WrongScheme(s) => write!(f, "Authorization scheme {s:?} where another was asked for"),
            Refusal::Malformed(e) => write!(f, "malformed Authorization: {e}"),
            Refusal::UnknownNonce => f.write_str("a Digest nonce this server did not issue"),
            Refusal::Wrong(w) => write!(f, "wrong credentials ({w})"),
        }
    }
}

impl Required {
    /// The `WWW-Authenticate` value of a 401 (a Digest challenge carries a fresh nonce; the
    /// caller keeps it with [`Challenge::nonce`] to accept answers to it).
    pub fn challenge(&self) -> (String, Option<Challenge>) {
        match self.scheme.digest_algorithm() {
            None => (format!("Basic realm={}", quote(&self.realm)), None),
            Some(a) => {
                let c = Challenge::new(&self.realm, a);
                (c.header(), Some(c))
            }
        }
    }

    /// Checks a request's `Authorization` (if any) for `method`; `issued(nonce)` says whether
    /// the server issued a nonce.
    pub fn check(
        &self,
        authorization: Option<&str>,
        method: &str,
        issued: impl Fn(&str) -> bool,
    ) -> Result<(), Refusal> {
        let value = authorization.ok_or(Refusal::Missing)?;
        let scheme = value.split_whitespace().next().unwrap_or("").to_string();
        match self.scheme.digest_algorithm() {
            None => {
                let (u, p) = parse_basic(value).ok_or(Refusal::WrongScheme(scheme))?;
                if u != self.user || p != self.password {
                    return Err(Refusal::Wrong(format!("user {u:?} with a password that is not the account's")));
                }
                Ok(())
            }
            Some(alg) => {
                let a = Answer::parse(value).map_err(Refusal::Malformed)?.ok_or(Refusal::WrongScheme(scheme))?;
                if a.algorithm != alg {
                    return Err(Refusal::Malformed(format!(
                        "algorithm {} where {} was asked for",
                        a.algorithm.name(),
                        alg.name()
                    )));
                }
                if !issued(&a.nonce) {
                    return Err(Refusal::UnknownNonce);
                }
                if a.username != self.user || a.realm != self.realm {
                    return Err(Refusal::Wrong(format!("user {:?} in realm {:?}", a.username, a.realm)));
                }
                if a.response != a.expected(method, &self.password) {
                    return Err(Refusal::Wrong("the response does not match the account's password".into()));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 section 3.9.1.
    fn rfc_challenge(algorithm: Algorithm) -> Challenge {
        Challenge {
            realm: "http-auth@example.org".into(),
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            opaque: Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS".into()),
            algorithm,
            qop_auth: true,
            stale: false,
        }
    }

    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    #[test]
    fn rfc7616_md5_and_sha256_vectors() {
        let md5 = rfc_challenge(Algorithm::Md5).answer("GET", "/dir/index.html", "Mufasa", "Circle of Life", CNONCE, 1);
        assert_eq!(md5.response, "8ca523f5e9506fed4657c9700eebdbec");
        let sha =
            rfc_challenge(Algorithm::Sha256).answer("GET", "/dir/index.html", "Mufasa", "Circle of Life", CNONCE, 1);
        assert_eq!(sha.response, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
        assert_eq!(sha.nc.as_deref(), Some("00000001"));
    }

    #[test]
    fn the_rfc_challenge_text_parses() {
        let text = r#"Digest
       realm="http-auth@example.org",
       qop="auth, auth-int",
       algorithm=SHA-256,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        assert_eq!(Challenge::parse(text).unwrap(), Some(rfc_challenge(Algorithm::Sha256)));
        let picked = Challenge::pick(["Basic realm=\"x\"", &rfc_challenge(Algorithm::Md5).header(), text]).unwrap();
        assert_eq!(picked.unwrap().algorithm, Algorithm::Sha256);
        assert_eq!(Challenge::parse("Basic realm=\"x\"").unwrap(), None);
        assert!(Challenge::parse("Digest realm=\"x\"").unwrap_err().contains("nonce"));
        assert!(Challenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512")
            .unwrap_err()
            .contains("SHA-512"));
    }

    #[test]
    fn an_answer_round_trips_and_verifies() {
        let req =
            Required { scheme: Scheme::Digest, realm: "dmcts".into(), user: "dev".into(), password: "pw\"1".into() };
        let (header, c) = req.challenge();
        let c = c.unwrap();
        assert_eq!(Challenge::parse(&header).unwrap().as_ref(), Some(&c));
        let a = c.answer("POST", "/dm", "dev", "pw\"1", &fresh_nonce(), 1);
        assert_eq!(Answer::parse(&a.header()).unwrap(), Some(a.clone()));
        let issued = |n: &str| n == c.nonce;
        assert_eq!(req.check(Some(&a.header()), "POST", issued), Ok(()));
        let wrong = c.answer("POST", "/dm", "dev", "nope", "x", 1);
        assert!(matches!(req.check(Some(&wrong.header()), "POST", issued), Err(Refusal::Wrong(_))));
        assert_eq!(req.check(None, "POST", issued), Err(Refusal::Missing));
        assert_eq!(req.check(Some(&a.header()), "POST", |_| false), Err(Refusal::UnknownNonce));
        assert!(matches!(req.check(Some(&basic_header("dev", "pw\"1")), "POST", issued), Err(Refusal::WrongScheme(_))));
    }

    #[test]
    fn basic_checks_user_and_password() {
        let req = Required { scheme: Scheme::Basic, realm: "r".into(), user: "u".into(), password: "p:q".into() };
        assert_eq!(req.challenge().0, "Basic realm=\"r\"");
        assert_eq!(req.check(Some(&basic_header("u", "p:q")), "POST", |_| false), Ok(()));
        assert!(matches!(req.check(Some(&basic_header("u", "x")), "POST", |_| false), Err(Refusal::Wrong(_))));
        assert_eq!(parse_basic("Basic dTpwOnE="), Some(("u".into(), "p:q".into())));
    }
}
