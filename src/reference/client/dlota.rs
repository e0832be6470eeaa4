//! The reference client's download user agent (DLOTA 1.0, enablers digest §5), shared by the
//! FUMO agent (`fumo.rs`) and the SCOMO instance (`scomo.rs`): a PkgURL names either the
//! package itself (plain HTTP GET) or a download descriptor (§5.2), which is checked against the
//! device (type, size), whose objectURI is fetched and checked against it (size, an optional
//! `sha256=<hex>` in installParam), and whose installNotifyURI receives the status report
//! (§5.3). Each enabler maps the outcome to its own ResultCodes.
//!
//! Bodies are streamed into their length and SHA-256; the caller may ask to keep up to a bound
//! of bytes (SCOMO stores the package in its tree, FUMO never holds it).
use super::Shared;
use crate::wire::dm2::fumo::{DownloadDescriptor, StatusReport, MEDIA_DD};
use sha2::{Digest, Sha256};

/// Space the reference device has for a package (a descriptor asking for more gets 901).
pub const FREE_SPACE: u64 = 1 << 30;
/// Longest descriptor read.
const MAX_DD_BYTES: usize = 64 * 1024;

/// A downloaded object: its length and SHA-256, and its bytes when the caller keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub len: u64,
    pub sha256: String,
    /// The bytes, when kept (`Policy::keep`) and no longer than the bound.
    pub bytes: Option<Vec<u8>>,
}

/// Why a download failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// PkgURL is empty.
    BadUrl,
    /// The transport failed before a descriptor was read.
    Network,
    /// The PkgURL answered this HTTP status.
    Http(u16),
    /// A plain package (no descriptor) the user declined.
    Declined,
    /// A DLOTA status (901-954): the descriptor was read, the status report carries it.
    Dlota(u16),
}

/// What the calling enabler asks of the agent, its faults included.
#[derive(Debug, Clone)]
pub struct Policy {
    /// What the log calls the download ("FUMO PkgURL", "SCOMO PkgURL").
    pub label: &'static str,
    /// Media types the device can take (a descriptor offering none of them gets 953).
    pub accepted: Vec<String>,
    /// The user declines the download.
    pub user_declines: bool,
    /// Fault: the descriptor's type and size are not checked.
    pub ignore_descriptor: bool,
    /// Fault: a digest mismatch is logged and ignored; the fault's name for the log.
    pub ignore_digest: Option<&'static str>,
    /// Keep the bytes of objects up to this length.
    pub keep: Option<u64>,
}

/// The outcome of a download, and the descriptor's installNotifyURI when one was read.
pub struct Downloaded {
    pub result: Result<Package, Failure>,
    pub notify: Option<String>,
}

fn content_type(r: &reqwest::Response) -> String {
    r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// Reads a body chunk by chunk into its length and SHA-256 (and its bytes up to `keep`);
/// stops reading once more than `limit` bytes came.
pub async fn stream(mut r: reqwest::Response, limit: u64, keep: Option<u64>) -> Result<Package, String> {
    let mut h = Sha256::new();
    let mut len = 0u64;
    let mut bytes = keep.map(|_| Vec::new());
    while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
        len += chunk.len() as u64;
        h.update(&chunk);
        if let (Some(b), Some(k)) = (bytes.as_mut(), keep) {
            if len <= k {
                b.extend_from_slice(&chunk);
            }
        }
        if len > limit {
            break;
        }
    }
    let bytes = bytes.filter(|_| keep.is_some_and(|k| len <= k));
    Ok(Package { len, sha256: hex::encode(h.finalize()), bytes })
}

/// Fetches `url`: a package, or a descriptor and its object.
pub async fn download(sh: &Shared, url: &str, policy: &Policy) -> Downloaded {
    let label = policy.label;
    let done = |result| Downloaded { result, notify: None };
    if url.is_empty() {
        sh.log(format!("{label} is empty, nothing to download"));
        return done(Err(Failure::BadUrl));
    }
    sh.log(format!("-> GET {url} ({label})"));
    let resp = match sh.http.get(url).header("Accept", format!("{MEDIA_DD}, */*")).send().await {
        Ok(r) => r,
        Err(e) => {
            sh.log(format!("{label} GET {url} failed: {e}"));
            return done(Err(Failure::Network));
        }
    };
    let code = resp.status().as_u16();
    if !(200..300).contains(&code) {
        sh.log(format!("<- {code} ({label})"));
        return done(Err(Failure::Http(code)));
    }
    if crate::wire::media::media_type_of(&content_type(&resp)) != MEDIA_DD {
        // The URL is the package itself (plain HTTP GET, digest §2.4).
        if policy.user_declines {
            return done(Err(Failure::Declined));
        }
        return match stream(resp, FREE_SPACE, policy.keep).await {
            Ok(p) => {
                sh.log(format!("<- {code} package {} bytes, sha256 {}", p.len, p.sha256));
                done(Ok(p))
            }
            Err(e) => {
                sh.log(format!("package body failed: {e}"));
                done(Err(Failure::Network))
            }
        };
    }
    let body = match resp.bytes().await {
        Ok(b) if b.len() <= MAX_DD_BYTES => b,
        Ok(_) => return done(Err(Failure::Dlota(906))),
        Err(_) => return done(Err(Failure::Network)),
    };
    sh.log(format!("<- {code} descriptor {}", String::from_utf8_lossy(&body)));
    let dd = match DownloadDescriptor::parse(&body) {
        Ok(d) => d,
        Err(e) => {
            sh.log(format!("descriptor refused: {e}"));
            return done(Err(Failure::Dlota(e.status)));
        }
    };
    let notify = dd.install_notify_uri.clone();
    Downloaded { result: fetch_object(sh, &dd, policy).await.map_err(Failure::Dlota), notify }
}

/// Steps 15-18 of the FUMO seed's scenario 2 (DLOTA steps 2-3, digest §5.1): the descriptor
/// checked against the device, the user asked, the object fetched and checked against the
/// descriptor. Err: the DLOTA status.
async fn fetch_object(sh: &Shared, dd: &DownloadDescriptor, policy: &Policy) -> Result<Package, u16> {
    let ignore = policy.ignore_descriptor;
    if ignore {
        sh.log("the descriptor's type and size are not checked (fault)".into());
    }
    let media_of = crate::wire::media::media_type_of;
    if !ignore && !dd.types.iter().any(|t| policy.accepted.contains(&media_of(t).to_string())) {
        sh.log(format!("descriptor type {:?} is not acceptable here (953)", dd.types));
        return Err(953);
    }
    if !ignore && dd.size > FREE_SPACE {
        sh.log(format!("descriptor size {} exceeds the free space {FREE_SPACE} (901)", dd.size));
        return Err(901);
    }
    if policy.user_declines {
        sh.log("the user declined the download (902)".into());
        return Err(902);
    }
    sh.log(format!("-> GET {} (descriptor objectURI)", dd.object_uri));
    let resp = match sh.http.get(&dd.object_uri).header("Accept", dd.types.join(", ")).send().await {
        Ok(r) => r,
        Err(e) => {
            sh.log(format!("object GET failed: {e}"));
            return Err(903);
        }
    };
    let code = resp.status().as_u16();
    if !(200..300).contains(&code) {
        sh.log(format!("<- {code} (object)"));
        return Err(954);
    }
    let ct = content_type(&resp);
    let got_type = media_of(&ct).to_string();
    if !ignore && !dd.types.iter().any(|t| media_of(t) == got_type) {
        sh.log(format!("object served as {ct:?}, the descriptor says {:?} (953)", dd.types));
        return Err(953);
    }
    let p = match stream(resp, dd.size, policy.keep).await {
        Ok(p) => p,
        Err(e) => {
            sh.log(format!("object body failed: {e}"));
            return Err(903);
        }
    };
    sh.log(format!("<- {code} object {} bytes, sha256 {}", p.len, p.sha256));
    if !ignore && p.len != dd.size {
        sh.log(format!("object has {} bytes, the descriptor says {} (905)", p.len, dd.size));
        return Err(905);
    }
    if let Some(want) = dd.install_param.as_deref().and_then(param_sha256) {
        if want != p.sha256 {
            if let Some(fault) = policy.ignore_digest {
                sh.log(format!("digest mismatch ignored (fault client.{fault})"));
            } else {
                sh.log(format!("object digest {} differs from installParam sha256 {want} (905)", p.sha256));
                return Err(905);
            }
        }
    }
    Ok(p)
}

/// `sha256=<hex>` among the `key=value;` pairs of installParam.
fn param_sha256(install_param: &str) -> Option<String> {
    install_param.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("sha256")).then(|| v.trim().to_ascii_lowercase())
    })
}

/// POSTs the DLOTA status report to the descriptor's installNotifyURI (digest §5.3), unless
/// `suppressed_by` names the fault that leaves it out.
pub async fn install_notify(sh: &Shared, uri: Option<String>, code: u16, suppressed_by: Option<&str>) {
    let Some(uri) = uri else { return };
    if let Some(fault) = suppressed_by {
        return sh.log(format!("no status report to {uri} (fault client.{fault})"));
    }
    let body = StatusReport::body(code);
    sh.log(format!("-> POST {uri} (installNotify) {}", body.trim()));
    match sh.http.post(&uri).header("Content-Type", "text/plain").body(body).send().await {
        Ok(r) => {
            let c = r.status().as_u16();
            let _ = r.bytes().await;
            sh.log(format!("<- {c} (installNotify)"));
        }
        Err(e) => sh.log(format!("installNotify to {uri} failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn install_param_digest() {
        assert_eq!(super::param_sha256("updatefwv=2.1; sha256=ABcd"), Some("abcd".into()));
        assert_eq!(super::param_sha256("x=1"), None);
    }
}
