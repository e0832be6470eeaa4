//! The suite's download server (DLOTA) on real loopback sockets: what it serves, what it
//! records, the failures it injects; and the reference client's firmware update agent driven
//! through it (DownloadAndUpdate via a descriptor), clean and against each failure.
use dmcts::bench_fumo::{download_and_update, Setup};
use dmcts::peers::download::{sha256_of, DescriptorSpec, DownloadConfig, DownloadServer, Failure, ObjectSpec};
use dmcts::wire::dm2::fumo::DownloadDescriptor;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::Duration;

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn object(name: &str, size: u64, failure: Option<Failure>) -> ObjectSpec {
    ObjectSpec { name: name.into(), size, media_type: "application/octet-stream".into(), seed: 5, failure }
}

fn descriptor(name: &str, object: &str) -> DescriptorSpec {
    DescriptorSpec {
        name: name.into(),
        object: object.into(),
        size: None,
        media_type: None,
        install_notify: true,
        install_param_digest: true,
        digest: None,
        failure: None,
    }
}

#[tokio::test]
async fn serves_descriptors_and_generated_packages_and_records_everything() {
    let mut wrong = descriptor("wrong.dd", "fw.bin");
    wrong.size = Some(1);
    wrong.media_type = Some("application/x-other".into());
    let config = DownloadConfig {
        objects: vec![
            object("fw.bin", 300_000, None),
            object("gone.bin", 10, Some(Failure::NotFound)),
            object("cut.bin", 200_000, Some(Failure::Truncate { after: 100_000 })),
            object("typed.bin", 10, Some(Failure::WrongMediaType { media_type: "text/plain".into() })),
            object("slow.bin", 10, Some(Failure::Slow { chunk_delay_ms: 1 })),
        ],
        descriptors: vec![descriptor("fw.dd", "fw.bin"), wrong],
    };
    let dl = DownloadServer::spawn(any_port(), config).await.unwrap();
    let http = reqwest::Client::new();

    // The descriptor: DD 1.0 in its namespace, pointing back at this server.
    let r = http.get(dl.url("fw.dd")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.oma.dd+xml");
    let dd = DownloadDescriptor::parse(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((dd.size, dd.object_uri.as_str()), (300_000, dl.url("fw.bin").as_str()));
    assert_eq!(dd.types, ["application/octet-stream"]);
    assert_eq!(dd.install_notify_uri.as_deref(), Some(format!("http://{}/notify/fw.dd", dl.addr).as_str()));
    let digest = dl.sha256("fw.bin").unwrap();
    assert_eq!(dd.install_param, Some(format!("sha256={digest}")));
    let wrong =
        DownloadDescriptor::parse(&http.get(dl.url("wrong.dd")).send().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!((wrong.size, wrong.types[0].as_str()), (1, "application/x-other"));

    // The package: its bytes have the announced digest; a range is a slice of them.
    let whole = http.get(dl.url("fw.bin")).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(whole.len(), 300_000);
    assert_eq!(hex::encode(Sha256::digest(&whole)), digest);
    assert_eq!(digest, sha256_of(5, 300_000));
    let part = http.get(dl.url("fw.bin")).header("Range", "bytes=100000-100099").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 100000-100099/300000");
    assert_eq!(part.bytes().await.unwrap(), whole[100_000..100_100]);
    let head = http.head(dl.url("fw.bin")).send().await.unwrap();
    assert_eq!(head.headers()["content-length"], "300000");

    // Failures.
    assert_eq!(http.get(dl.url("gone.bin")).send().await.unwrap().status(), 404);
    assert_eq!(http.get(dl.url("nothing")).send().await.unwrap().status(), 404);
    let cut = http.get(dl.url("cut.bin")).send().await.unwrap();
    assert_eq!(cut.headers()["content-length"], "200000");
    assert!(cut.bytes().await.is_err(), "a truncated body ends short of its Content-Length");
    let typed = http.get(dl.url("typed.bin")).send().await.unwrap();
    assert_eq!(typed.headers()["content-type"], "text/plain");
    assert_eq!(http.get(dl.url("slow.bin")).send().await.unwrap().bytes().await.unwrap().len(), 10);

    // The status report.
    let n =
        http.post(format!("http://{}/notify/fw.dd", dl.addr)).body("905 Attribute mismatch\n").send().await.unwrap();
    assert_eq!(n.status(), 200);
    let _ = http.post(format!("http://{}/notify/fw.dd", dl.addr)).body("fine").send().await.unwrap();
    let reports = dl.reports();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].parsed.as_ref().unwrap().code, 905);
    assert!(reports[1].parsed.is_err());

    // Every request, with its Range.
    let reqs = dl.requests();
    assert!(reqs.iter().any(|r| r.path == "/fw.bin" && r.range.as_deref() == Some("bytes=100000-100099")));
    assert!(reqs.iter().any(|r| r.method == "HEAD" && r.status == 200));
    assert!(reqs.iter().any(|r| r.path == "/gone.bin" && r.status == 404));
    assert_eq!(reqs.iter().filter(|r| r.path == "/notify/fw.dd" && r.method == "POST").count(), 2);
    dl.shutdown().await;
}

fn codes(m: &dmcts::bench_fumo::Measured) -> Vec<u16> {
    m.reports.iter().filter_map(|r| r.parsed.as_ref().ok().map(|p| p.code)).collect()
}

fn fetched(m: &dmcts::bench_fumo::Measured, path: &str) -> usize {
    m.requests.iter().filter(|r| r.method == "GET" && r.path == path).count()
}

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_reference_agent_downloads_through_a_descriptor_installs_and_reports() {
    let m = download_and_update(Setup { size: 1 << 20, ..Setup::default() }, LIMIT).await.unwrap();
    assert_eq!(m.result, Some(200));
    assert_eq!((fetched(&m, "/fw.dd"), fetched(&m, "/fw.bin")), (1, 1));
    assert_eq!(codes(&m), [900]);
}

#[tokio::test]
async fn each_download_failure_is_a_failure_result_and_a_dlota_status() {
    // (setup, FUMO ResultCode, DLOTA status, object fetched)
    let cases: Vec<(Setup, i64, u16, bool)> = vec![
        (Setup { size: 4096, object_failure: Some(Failure::NotFound), ..Setup::default() }, 500, 954, true),
        (
            Setup { size: 200_000, object_failure: Some(Failure::Truncate { after: 100_000 }), ..Setup::default() },
            503,
            903,
            true,
        ),
        (
            Setup {
                size: 4096,
                object_failure: Some(Failure::WrongMediaType { media_type: "text/html".into() }),
                ..Setup::default()
            },
            405,
            953,
            true,
        ),
        (Setup { size: 4096, descriptor_size: Some(5000), ..Setup::default() }, 402, 905, true),
        (
            Setup { size: 4096, descriptor_type: Some("application/x-unknown".into()), ..Setup::default() },
            405,
            953,
            false,
        ),
        (Setup { size: 4096, descriptor_size: Some(1 << 40), ..Setup::default() }, 501, 901, false),
    ];
    for (setup, result, status, object_fetched) in cases {
        let what = format!("{setup:?}");
        let m = download_and_update(setup, LIMIT).await.unwrap();
        assert_eq!(m.result, Some(result), "{what}");
        assert_eq!(codes(&m), [status], "{what}");
        assert_eq!(fetched(&m, "/fw.bin") == 1, object_fetched, "{what}: {:?}", m.requests);
    }
}

/// Issue 10: a 64 MiB package is streamed end to end; the process's peak memory during the
/// run stays far below the package's size (measured, not timed).
#[tokio::test]
async fn a_64_mib_download_and_update_stays_bounded_in_memory() {
    let m = download_and_update(Setup { size: 64 << 20, ..Setup::default() }, Duration::from_secs(300)).await.unwrap();
    assert_eq!(m.result, Some(200));
    assert_eq!(codes(&m), [900]);
    if let Some(peak) = m.peak_rss_kib {
        assert!(peak < 48 * 1024, "peak RSS {peak} KiB while moving a 64 MiB package");
    }
}
