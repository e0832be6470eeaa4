//! The suite as notification sender: delivers Package#0 bytes to a client IUT over HTTP.
//! (Delivery through the upper tester's `notification.deliver` is done by the runner.)
use crate::trace::{Trace, TraceEvent};
use std::time::Duration;

/// POSTs the notification bytes to `url` with the profile's notification media type.
/// Returns the HTTP status, or why delivery failed.
pub async fn post_notification(
    client: &reqwest::Client,
    url: &str,
    bytes: &[u8],
    media_type: &str,
    timeout: Duration,
    trace: &Trace,
) -> Result<u16, String> {
    trace.record(TraceEvent::Notification {
        from: "suite".into(),
        to: url.into(),
        hex: hex::encode(bytes),
        note: format!("HTTP POST ({media_type})"),
    });
    let resp = client
        .post(url)
        .header("Content-Type", media_type)
        .body(bytes.to_vec())
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| format!("notification POST to {url} failed: {e}"))?;
    Ok(resp.status().as_u16())
}
