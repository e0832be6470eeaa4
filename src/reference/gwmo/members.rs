//! What a reference DM Gateway knows of its End Devices and how it reaches them, whatever DM
//! protocol it speaks: the groups `gateway.attach` gives (docs/upper-tester.md), and the
//! fan-out's orchestration — a window of concurrent device sessions, each bounded by the
//! device timeout from its notification. Used by the DM 2.0 gateway ([`super`]) and the
//! reference DM 1.2 client's gateway (`reference::dm12::client::gateway`).
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// A device group (Gateway Config MO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub ids: Vec<String>,
}

/// The End Devices `gateway.attach` hands the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Where a device is notified: `<notify_base>/<DeviceID>` (no trailing `/`).
    pub notify_base: String,
    pub groups: Vec<Group>,
}

impl Attached {
    /// The arguments of `gateway.attach`: `notify_base`, `groups` [{`name`, `id_prefix`,
    /// `count`}]; DeviceIDs `<id_prefix>00001` …. An error says what was expected.
    pub fn parse(args: &Value) -> Result<Attached, String> {
        let Some(base) = args.get("notify_base").and_then(Value::as_str) else {
            return Err("args.notify_base (a URL string) is required".into());
        };
        let Some(groups) = args.get("groups").and_then(Value::as_array) else {
            return Err("args.groups (an array of {name, id_prefix, count}) is required".into());
        };
        let mut out = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            let name = g.get("name").and_then(Value::as_str);
            let prefix = g.get("id_prefix").and_then(Value::as_str);
            let count = g.get("count").and_then(Value::as_u64);
            let (Some(name), Some(prefix), Some(count)) = (name, prefix, count) else {
                return Err(format!("args.groups/{i}: expected {{name, id_prefix, count}}, found {g}"));
            };
            let ids = (1..=count as usize).map(|n| crate::peers::end_devices::device_id(prefix, n)).collect();
            out.push(Group { name: name.to_string(), ids });
        }
        Ok(Attached { notify_base: base.trim_end_matches('/').to_string(), groups: out })
    }

    pub fn total(&self) -> usize {
        self.groups.iter().map(|g| g.ids.len()).sum()
    }
}

/// The members of `group` (with `every_group`, a fault: the devices of every group).
pub fn members(groups: &[Group], group: Option<&str>, every_group: bool) -> Vec<String> {
    groups
        .iter()
        .filter(|g| Some(g.name.as_str()) == group || every_group)
        .flat_map(|g| g.ids.iter().cloned())
        .collect()
}

/// Runs `one` for every member, at most `window` at once; the results come in member order.
pub async fn windowed<T, F, Fut>(members: &[String], window: usize, one: F) -> Vec<T>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = T>,
{
    use futures::stream::{self, StreamExt};
    stream::iter(members.iter().cloned()).map(one).buffered(window.max(1)).collect().await
}

/// Notifies one device (POST of its Package#0 `bytes` as `media` to `url`) and waits at most
/// `timeout` for what its session delivers on `rx`; the error says why the device failed.
pub async fn notify_and_wait<T>(
    http: &reqwest::Client,
    url: &str,
    media: &str,
    bytes: Vec<u8>,
    timeout: Duration,
    rx: tokio::sync::oneshot::Receiver<T>,
) -> Result<T, String> {
    match http.post(url).header("content-type", media).body(bytes).send().await {
        Ok(r) if r.status().is_success() => match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => Ok(r),
            _ => Err(format!("no response within {} ms of the notification", timeout.as_millis())),
        },
        Ok(r) => Err(format!("the notification was answered {}", r.status())),
        Err(e) => Err(format!("the notification could not be delivered: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attach_arguments_give_the_groups() {
        let a = Attached::parse(&json!({ "notify_base": "http://x/ed/", "groups": [
            { "name": "A", "id_prefix": "ED-A-", "count": 2 }, { "name": "B", "id_prefix": "B", "count": 1 } ] }))
        .unwrap();
        assert_eq!(a.notify_base, "http://x/ed");
        assert_eq!(a.groups[0].ids, ["ED-A-00001", "ED-A-00002"]);
        assert_eq!(a.total(), 3);
        assert_eq!(members(&a.groups, Some("B"), false), ["B00001"]);
        assert_eq!(members(&a.groups, Some("B"), true).len(), 3);
        assert!(Attached::parse(&json!({ "groups": [] })).unwrap_err().contains("notify_base"));
        assert!(Attached::parse(&json!({ "notify_base": "u", "groups": [{ "name": "A" }] }))
            .unwrap_err()
            .contains("groups/0"));
    }
}
