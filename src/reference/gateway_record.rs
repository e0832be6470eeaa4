//! What a reference DM server records of the GwMO operations it started on a DM Gateway
//! (docs/gwmo.md): the images it distributed (`gateway.image`) and the fan-outs it ran through
//! the gateway (`gateway.fanout`), as `device.report`'s `gateway` shows them. Protocol-neutral:
//! the DM 2.0 server (`reference::server`'s `gwmo`) and the DM 1.2 one (`reference::dm12::server`'s
//! `gateway`) keep the same record and report it in the same form.
use serde::Serialize;
use serde_json::Value;

/// One image distributed to the gateway.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ImageJob {
    pub image_uri: String,
    pub image_url: String,
    /// The node the server Execs (`<image>Operations/Download`).
    pub exec: String,
    /// queued | accepted (202) | ready (Image Ready came) | refused
    pub state: String,
    pub local_image_uri: Option<String>,
}

impl ImageJob {
    /// An image whose commands are queued: nothing answered yet.
    pub fn queued(image_uri: String, image_url: String, exec: String) -> ImageJob {
        ImageJob { image_uri, image_url, exec, state: "queued".into(), local_image_uri: None }
    }
}

/// One End Device's result in the gateway's aggregate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DeviceOutcome {
    pub device_id: String,
    pub success: bool,
    pub error: Option<String>,
}

/// One fan-out through the gateway.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FanoutJob {
    pub fanout_uri: String,
    pub group: String,
    /// The DMCommands as the server set them (DM 2.0: command arrays; DM 1.2: the SyncML fragment).
    pub dm_commands: Value,
    /// The node the server Execs (`<fanout>Operations/Start`).
    pub exec: String,
    /// queued | accepted (202) | finished (the aggregate came) | refused
    pub state: String,
    pub results: Vec<DeviceOutcome>,
    pub succeeded: Vec<String>,
    pub failed: Vec<String>,
}

impl FanoutJob {
    pub fn queued(fanout_uri: String, group: String, dm_commands: Value, exec: String) -> FanoutJob {
        FanoutJob {
            fanout_uri,
            group,
            dm_commands,
            exec,
            state: "queued".into(),
            results: Vec::new(),
            succeeded: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// The aggregate came: each device's outcome, the fan-out finished.
    pub fn finish(&mut self, results: Vec<DeviceOutcome>) {
        self.succeeded = results.iter().filter(|r| r.success).map(|r| r.device_id.clone()).collect();
        self.failed = results.iter().filter(|r| !r.success).map(|r| r.device_id.clone()).collect();
        self.results = results;
        self.state = "finished".into();
    }
}

/// `device.report`'s `gateway`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct GatewayRecord {
    pub images: Vec<ImageJob>,
    pub fanouts: Vec<FanoutJob>,
}

impl GatewayRecord {
    /// The latest distribution of the image at `image_uri`.
    pub fn image(&self, image_uri: &str) -> Option<&ImageJob> {
        self.images.iter().rev().find(|j| j.image_uri == image_uri)
    }

    /// The status the gateway gave the Exec of `exec`: 202 accepts it, anything else refuses it.
    pub fn exec_status(&mut self, exec: &str, sc: u16) {
        let state = if sc == 202 { "accepted" } else { "refused" };
        for j in self.images.iter_mut().filter(|j| j.exec == exec && j.state == "queued") {
            j.state = state.into();
        }
        for j in self.fanouts.iter_mut().filter(|j| j.exec == exec && j.state == "queued") {
            j.state = state.into();
        }
    }

    /// An Image Ready alert from an image instance or a node in it (`source`): that image's LocalImageURI.
    pub fn image_ready(&mut self, source: &str, local_image_uri: Option<String>) {
        if let Some(j) = self.images.iter_mut().rev().find(|j| within(source, &j.image_uri)) {
            j.local_image_uri = local_image_uri;
            j.state = "ready".into();
        }
    }

    /// The latest fan-out whose Fanout instance holds `source`.
    pub fn fanout_of(&mut self, source: &str) -> Option<&mut FanoutJob> {
        self.fanouts.iter_mut().rev().find(|j| within(source, &j.fanout_uri))
    }
}

/// `uri` is the instance `root` or a node in it (DM 1.2 URIs compared without a `./` prefix or a
/// trailing `/`: the Source of digest §4.7's example names the instance itself).
fn within(uri: &str, root: &str) -> bool {
    let norm = |u: &str| u.trim().trim_start_matches("./").trim_end_matches('/').to_string();
    let (u, r) = (norm(uri), norm(root));
    !r.is_empty() && (u == r || u.starts_with(&format!("{r}/")))
}

/// A management-object instance URI with exactly one trailing `/`.
pub(crate) fn instance(u: &str) -> String {
    format!("{}/", u.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_from_the_instance_or_a_node_in_it_finds_its_job() {
        let mut g = GatewayRecord::default();
        for uri in ["./GWMO/ImageInventory/img1/", "./GWMO/ImageInventory/img10/"] {
            g.images.push(ImageJob::queued(uri.into(), "http://x/i".into(), format!("{uri}Operations/Download")));
        }
        g.exec_status("./GWMO/ImageInventory/img1/Operations/Download", 202);
        assert_eq!(g.images[0].state, "accepted");
        g.image_ready("./GWMO/ImageInventory/img1", Some("http://gw/1".into()));
        assert_eq!((g.images[0].state.as_str(), g.images[1].state.as_str()), ("ready", "queued"));
        g.image_ready("GWMO/ImageInventory/img10/Operations/Download", Some("http://gw/10".into()));
        assert_eq!(g.image("./GWMO/ImageInventory/img10/").unwrap().local_image_uri.as_deref(), Some("http://gw/10"));
        g.fanouts.push(FanoutJob::queued("./GWMO/Fanout/fo1/".into(), "g".into(), Value::Null, "e".into()));
        assert!(g.fanout_of("./GWMO/Fanout/fo1/Results/1/DeviceID").is_some());
        assert!(g.fanout_of("./GWMO/Fanout/fo12/Results/1/DeviceID").is_none());
        let j = g.fanout_of("./GWMO/Fanout/fo1").unwrap();
        j.finish(vec![
            DeviceOutcome { device_id: "a".into(), success: true, error: None },
            DeviceOutcome { device_id: "b".into(), success: false, error: Some("500".into()) },
        ]);
        assert_eq!(
            (j.succeeded.clone(), j.failed.clone(), j.state.as_str()),
            (vec!["a".into()], vec!["b".into()], "finished")
        );
    }
}
