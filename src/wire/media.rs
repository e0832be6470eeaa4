//! HTTP media types, as the DM 2.0 binding negotiates them (Content-Type, Accept, OMADM-Accept).
//! Shared by the suite's checks and the reference peers, so both judge media types alike.

/// type/subtype, lower-cased, parameters dropped.
pub fn media_type_of(v: &str) -> String {
    v.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Whether an Accept-style header admits `media`.
pub fn accepts(header_value: &str, media: &str) -> bool {
    let media = media.to_ascii_lowercase();
    let (mt, _) = media.split_once('/').unwrap_or((&media, ""));
    header_value.split(',').any(|part| {
        let m = media_type_of(part);
        let q_zero = part.split(';').skip(1).any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()).is_some_and(|q| q == 0.0)
        });
        !q_zero && (m == media || m == "*/*" || m == format!("{mt}/*"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_matching() {
        assert!(accepts("application/vnd.oma.dm.request+json", "application/vnd.oma.dm.request+json"));
        assert!(accepts("text/html, */*;q=0.1", "application/json"));
        assert!(accepts("application/*", "application/json"));
        assert!(!accepts("application/json;q=0", "application/json"));
        assert!(!accepts("text/plain", "application/json"));
    }

    #[test]
    fn media_type_ignores_params_and_case() {
        assert_eq!(media_type_of("Application/JSON; charset=utf-8"), "application/json");
    }
}
