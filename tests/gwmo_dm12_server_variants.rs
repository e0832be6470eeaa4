//! The GwMO DM 1.2 server cases (TC-GWS12-*) against a DM server that does what the seeds allow
//! but the reference DM 1.2 server does not: it sets the gateway's nodes with Add (seed 000's
//! own form), sends TargetGroupRef before DMCommands, writes DMCommands as seed 000 step 5 does
//! (Add commands, Meta Format chr rather than xml), Execs Download without a Correlator, and names the Image Inventory and Fanout instances of a vendor's ICS (PIXIT
//! `mo.dm12_gw_image_uri`, `mo.dm12_gw_fanout_uri`). It is the reference DM 1.2 server behind a
//! vendor-written upper tester that queues those commands (`commands.enqueue`) and reads the
//! gateway's alerts back from `device.report`; the suite runs it through an ICS file
//! (`dmcts run --ics`), as a vendor would.
use axum::extract::State;
use axum::Json;
use dmcts::reference::dm12::server::{self as s12, RunningDm12Server};
use dmcts::upper_tester::{UtAnswer, UtRequest, UtStatus};
use dmcts::wire::dm12::gwmo;
use dmcts::wire::dm12::profile::Profile;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};

const IMAGE: &str = "./Vendor/GW/Images/7/";
const FANOUT: &str = "./Vendor/GW/Fanouts/3/";

#[derive(Clone)]
struct VendorUt {
    server: Arc<RunningDm12Server>,
    /// (image instance, image URL), (fanout instance, group), in order.
    images: Arc<Mutex<Vec<(String, String)>>>,
    fanouts: Arc<Mutex<Vec<(String, String)>>>,
}

fn s<'a>(args: &'a Value, k: &str) -> &'a str {
    args.get(k).and_then(Value::as_str).unwrap_or_default()
}

impl VendorUt {
    async fn call(&self, action: &str, args: Value) -> UtAnswer {
        self.server.ut(UtRequest { action: action.into(), case: String::new(), step: 0, args }).await
    }

    async fn enqueue(&self, dev_id: &str, commands: Value) -> UtAnswer {
        self.call("commands.enqueue", json!({ "dev_id": dev_id, "commands": commands })).await
    }

    /// The gateway's Generic Alert items of `alert_type`, as (Source, Data), from device.report.
    async fn alerts(&self, dev_id: &str, alert_type: &str) -> Vec<(Option<String>, Option<String>)> {
        let report = self.call("device.report", json!({ "dev_id": dev_id })).await.data;
        report["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["type"] == alert_type)
            .map(|a| (a["source"].as_str().map(String::from), a["data"].as_str().map(String::from)))
            .collect()
    }

    /// The LocalImageURI of the image instance `img`, from the last Image Ready alert of it.
    async fn local_image_uri(&self, dev_id: &str, img: &str) -> Option<String> {
        let p = Profile::default();
        let within = |src: &str| src.trim_end_matches('/') == img.trim_end_matches('/') || src.starts_with(img);
        self.alerts(dev_id, &p.gwmo_alert_type_image_ready)
            .await
            .into_iter()
            .rev()
            .find(|(src, _)| src.as_deref().is_some_and(within))
            .and_then(|(_, d)| gwmo::local_image_uri_of(d.as_deref()).map(String::from))
    }

    async fn answer(&self, req: UtRequest) -> UtAnswer {
        let dev = s(&req.args, "dev_id").to_string();
        match req.action.as_str() {
            "gateway.image" => {
                let img = s(&req.args, "image_uri").to_string();
                let url = s(&req.args, "image_url").to_string();
                self.images.lock().unwrap().push((img.clone(), url.clone()));
                self.enqueue(
                    &dev,
                    json!([["Add", format!("{img}ImageURI"), url], ["Exec", format!("{img}Operations/Download")]]),
                )
                .await
            }
            "gateway.fanout" => {
                let (img, fo, group) = (s(&req.args, "image_uri"), s(&req.args, "fanout_uri"), s(&req.args, "group"));
                let Some(local) = self.local_image_uri(&dev, img).await else {
                    return UtAnswer::failed("no Image Ready alert yet");
                };
                self.fanouts.lock().unwrap().push((fo.to_string(), group.to_string()));
                // Seed 000 step 5's form: Add commands, the URL as the PkgURL.
                let fragment = format!(
                    "<Add><CmdID>1</CmdID><Item><Target><LocURI>./SCOMO/Download/Pkg1</LocURI></Target></Item></Add>\
                     <Add><CmdID>2</CmdID><Item><Target><LocURI>./SCOMO/Download/Pkg1/PkgURL</LocURI></Target>\
                     <Data>{local}</Data></Item></Add>"
                );
                self.enqueue(
                    &dev,
                    json!([
                        ["Add", format!("{fo}TargetGroupRef"), group],
                        ["Add", format!("{fo}DMCommands"), fragment, "", ""],
                        ["Exec", format!("{fo}Operations/Start"), "", "vendor-start-1"],
                    ]),
                )
                .await
            }
            "device.report" => {
                let mut a = self.call("device.report", req.args.clone()).await;
                if a.status != UtStatus::Done {
                    return a;
                }
                let mut images = Vec::new();
                let known = self.images.lock().unwrap().clone();
                for (img, url) in known {
                    let local = self.local_image_uri(&dev, &img).await;
                    images.push(json!({ "image_uri": img, "image_url": url, "local_image_uri": local }));
                }
                let p = Profile::default();
                let items = self.alerts(&dev, &p.gwmo_alert_type_aggregation).await;
                let mut fanouts = Vec::new();
                let known = self.fanouts.lock().unwrap().clone();
                for (fo, group) in known {
                    let results = gwmo::parse_aggregate(items.iter().map(|(s, d)| (s.as_deref(), d.as_deref())), &fo)
                        .unwrap_or_default();
                    let ids = |ok: bool| -> Vec<String> {
                        results.iter().filter(|r| r.succeeded() == ok).map(|r| r.device_id.clone()).collect()
                    };
                    fanouts.push(
                        json!({ "fanout_uri": fo, "group": group, "succeeded": ids(true), "failed": ids(false) }),
                    );
                }
                a.data["gateway"] = json!({ "images": images, "fanouts": fanouts });
                a
            }
            _ => self.call(&req.action, req.args.clone()).await,
        }
    }
}

async fn ut(State(v): State<VendorUt>, Json(req): Json<UtRequest>) -> Json<UtAnswer> {
    Json(v.answer(req).await)
}

#[test]
fn a_dm12_server_that_uses_adds_and_its_own_nodes_passes_the_gwmo_cases() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (server, ut_url) = rt.block_on(async {
        let server = Arc::new(s12::spawn(s12::Dm12ServerConfig::new()).await.unwrap());
        let vendor = VendorUt { server: server.clone(), images: Default::default(), fanouts: Default::default() };
        let app = axum::Router::new().route("/ut", axum::routing::post(ut)).with_state(vendor);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (server, format!("http://{addr}/ut"))
    });
    let ics = std::fs::read_to_string("examples/ics-gwmo-dm12-server.toml")
        .unwrap()
        .replace("http://127.0.0.1:8443/dm", &server.dm_url)
        .replace("http://127.0.0.1:8443/ut", &ut_url)
        .replace("\"./GWMO/ImageInventory/img1/\"", &format!("\"{IMAGE}\""))
        .replace("\"./GWMO/Fanout/fo1/\"", &format!("\"{FANOUT}\""));
    assert!(ics.contains(IMAGE) && ics.contains(FANOUT), "the example names the GwMO PIXIT it documents");
    let dir = std::env::temp_dir().join(format!("dmcts-gws12-variants-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ics.toml"), &ics).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["run", "--ics", dir.join("ics.toml").to_str().unwrap(), "--report-dir"])
        .arg(dir.join("reports"))
        .args(["--", "TC-GWS12-"])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let run: Value = serde_json::from_slice(&std::fs::read(dir.join("reports/run.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // The peer and the vendor's upper tester stop with the runtime.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    let ran: Vec<(&str, &str)> = run["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().is_some_and(|id| id.starts_with("TC-GWS12-")))
        .map(|c| (c["id"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert!(ran.len() >= 2 && ran.iter().all(|(_, v)| *v == "pass"), "{ran:?}\n{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
}
