//! Reading what an IUT sends over HTTP without trusting its size. Every body the suite reads as
//! a client (a Package#2 from a server IUT, an upper-tester answer) goes through
//! [`read_limited`], so a 1 GiB answer costs at most the limit in memory, and whoever reads it
//! can say "larger than N bytes" instead of judging a cut-off body.
use bytes::Bytes;

/// The largest HTTP body the suite takes from an IUT, either way: a request to the listener
/// (refused with 413 beyond it) and a response the suite reads as a client (a server IUT's
/// Package#2). Documented in docs/cases.md, "Limits".
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A response body read up to a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// The whole body, or its first `limit` bytes when [`Limited::truncated`].
    pub bytes: Vec<u8>,
    /// The body was larger than the limit: reading stopped at the limit and the rest was never
    /// read (the connection is dropped with the response).
    pub truncated: bool,
    /// The `Content-Length` the peer declared, if any (it may lie; `truncated` does not).
    pub declared_len: Option<u64>,
    /// The limit the body was read with.
    pub limit: usize,
}

impl Limited {
    /// "larger than N bytes" (with the declared length when known), for a verdict reason;
    /// `None` when the body was read whole.
    pub fn overflow(&self) -> Option<String> {
        if !self.truncated {
            return None;
        }
        Some(match self.declared_len {
            Some(n) if n > self.limit as u64 => {
                format!("larger than {} bytes (Content-Length {n}); reading stopped at the limit", self.limit)
            }
            _ => format!("larger than {} bytes; reading stopped at the limit", self.limit),
        })
    }
}

/// Reads `resp`'s body, never holding more than `limit` bytes of it: once the body goes past
/// the limit, reading stops and the prefix is returned with `truncated = true`. The caller's
/// request timeout still bounds the time (reqwest applies it to the body too).
pub async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Limited, reqwest::Error> {
    let declared_len = resp.content_length();
    // Trust a small declared length for the first allocation only; never a large one.
    let mut bytes = Vec::with_capacity(declared_len.map_or(0, |n| n.min(limit as u64).min(64 * 1024) as usize));
    let mut truncated = false;
    while let Some(chunk) = resp.chunk().await? {
        if push_limited(&mut bytes, &chunk, limit) {
            truncated = true;
            break;
        }
    }
    Ok(Limited { bytes, truncated, declared_len, limit })
}

/// Appends what fits under `limit`; true when `chunk` did not fit whole.
pub(crate) fn push_limited(buf: &mut Vec<u8>, chunk: &Bytes, limit: usize) -> bool {
    let room = limit.saturating_sub(buf.len());
    if chunk.len() > room {
        buf.extend_from_slice(&chunk[..room]);
        return true;
    }
    buf.extend_from_slice(chunk);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_stops_at_the_limit() {
        let mut b = Vec::new();
        assert!(!push_limited(&mut b, &Bytes::from_static(b"abc"), 5));
        assert!(push_limited(&mut b, &Bytes::from_static(b"def"), 5));
        assert_eq!(b, b"abcde");
        // Exactly at the limit is whole.
        let mut b = Vec::new();
        assert!(!push_limited(&mut b, &Bytes::from_static(b"abcde"), 5));
    }

    #[test]
    fn overflow_names_the_limit_and_declared_length() {
        let l = Limited { bytes: vec![0; 4], truncated: true, declared_len: Some(1 << 30), limit: 4 };
        assert_eq!(
            l.overflow().unwrap(),
            "larger than 4 bytes (Content-Length 1073741824); reading stopped at the limit"
        );
        let l = Limited { truncated: false, ..l };
        assert_eq!(l.overflow(), None);
    }
}
