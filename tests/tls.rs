//! HTTPS on 127.0.0.1: the suite's listener serves a certificate of a CA generated for the run
//! to a client trusting that CA; a client trusting another CA is refused with a message naming
//! the certificate problem and the CA it trusts; client certificates are required and presented;
//! the certificates a security case switches to (expired, wrong host) are refused; and the main
//! job over HTTPS (`dmcts run --against reference --tls`) passes every case.
use dmcts::peers::tls::{describe_error, hosts_for, ClientTls, Presented, RunCa, ServerTls};
use dmcts::peers::{HttpAnswer, Listener};
use dmcts::trace::Trace;
use std::process::Command;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(10);

fn client(ca: &RunCa, identity: Option<dmcts::peers::tls::Identity>) -> (reqwest::Client, ClientTls) {
    let t = ClientTls { ca_pem: ca.ca_pem().into(), ca_source: "test-ca.pem".into(), identity, accept_any: false };
    let c = t.apply(reqwest::Client::builder().no_proxy().timeout(STEP)).unwrap().build().unwrap();
    (c, t)
}

async fn listener(tls: ServerTls) -> Listener {
    let l = Listener::bind_with("127.0.0.1:0".parse().unwrap(), None, Some(tls)).await.unwrap();
    l.begin_case_with_id("TC-TLS", Trace::new(), Vec::new());
    l
}

/// POSTs to the listener's DM URL and answers the request 200 from the listener's side.
async fn exchange(l: &Listener, c: &reqwest::Client) -> Result<u16, reqwest::Error> {
    let send = c.post(l.server_url()).body("hello").send();
    let serve = async {
        if let Some(t) = l.take("dm", None, STEP).await {
            assert_eq!(t.incoming.body, b"hello");
            l.answer(t, HttpAnswer::status(200));
        }
    };
    let (r, ()) = tokio::join!(send, serve);
    r.map(|r| r.status().as_u16())
}

fn server_tls(ca: &RunCa) -> ServerTls {
    let hosts = hosts_for("https://127.0.0.1/");
    ServerTls::new(&ca.issue_server(&hosts).unwrap(), Some(ca), &hosts).unwrap()
}

#[tokio::test]
async fn https_with_the_run_ca_and_a_clear_refusal_of_another() {
    let ca = RunCa::generate("test run CA").unwrap();
    let l = listener(server_tls(&ca)).await;
    assert!(l.server_url().starts_with("https://127.0.0.1:"), "{}", l.server_url());
    let (c, _) = client(&ca, None);
    assert_eq!(exchange(&l, &c).await.unwrap(), 200);

    // A client trusting another CA refuses the handshake; the suite's words say why and whom
    // it trusts, and the listener records the refusal in the case.
    let other = RunCa::generate("another CA").unwrap();
    let (c, trust) = client(&other, None);
    let e = c.post(l.server_url()).body("x").send().await.unwrap_err();
    let msg = describe_error(&e, Some(&trust));
    assert!(msg.starts_with("TLS handshake failed"), "{msg}");
    assert!(msg.contains("UnknownIssuer"), "{msg}");
    assert!(msg.contains("the suite trusts only the CA in test-ca.pem"), "{msg}");
    let failures = l.wait_handshake_failure(STEP).await.expect("a failed handshake");
    assert!(failures.error.to_lowercase().contains("alert"), "{failures:?}");
    assert!(l.take("dm", None, Duration::ZERO).await.is_none(), "nothing reached the DM endpoint");
}

#[tokio::test]
async fn switched_certificates_are_refused_by_a_validating_client() {
    let ca = RunCa::generate("test run CA").unwrap();
    let tls = server_tls(&ca);
    let l = listener(tls.clone()).await;
    let (c, trust) = client(&ca, None);
    for (p, why) in [
        (Presented::Expired, "expired"),
        (Presented::WrongHost, "not valid for name"),
        (Presented::UntrustedCa, "unknownissuer"),
    ] {
        assert!(l.tls().unwrap().present(p));
        let e = c.post(l.server_url()).body("x").send().await.unwrap_err();
        let msg = describe_error(&e, Some(&trust));
        assert!(msg.to_lowercase().contains(why), "{p:?}: {msg}");
    }
    // The case's end switches back to the trusted certificate.
    l.end_case();
    assert_eq!(tls.presenting(), Presented::Trusted);
    l.begin_case_with_id("TC-TLS-2", Trace::new(), Vec::new());
    assert_eq!(exchange(&l, &c).await.unwrap(), 200);
}

#[tokio::test]
async fn client_certificates_are_required_and_presented() {
    let ca = RunCa::generate("test run CA").unwrap();
    let l = listener(server_tls(&ca).require_client_certificates(ca.roots())).await;
    let (anonymous, _) = client(&ca, None);
    assert!(anonymous.post(l.server_url()).body("x").send().await.is_err(), "no client certificate: refused");
    let stranger = RunCa::generate("stranger").unwrap();
    let (foreign, _) = client(&ca, Some(stranger.issue_client("device").unwrap()));
    assert!(foreign.post(l.server_url()).body("x").send().await.is_err(), "a certificate of another CA: refused");
    let (device, _) = client(&ca, Some(ca.issue_client("device").unwrap()));
    assert_eq!(exchange(&l, &device).await.unwrap(), 200);
}

#[test]
fn run_against_reference_over_tls_passes_every_case() {
    let dir = std::env::temp_dir().join(format!("dmcts-tls-main-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
        .args(["run", "--against", "reference", "--tls", "--report-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let ca = dir.join("dmcts-ca.pem");
    assert!(
        stdout.contains(&format!("CA certificate of this run (for the IUT to trust): {}", ca.display())),
        "{stdout}"
    );
    assert!(std::fs::read_to_string(&ca).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["iut"]["tls"], true);
    for case in run["cases"].as_array().unwrap() {
        assert_eq!(case["verdict"], "pass", "{case}");
    }
    for id in ["TC-DMC-SEC-001", "TC-DMC-SEC-002", "TC-DMC-SEC-003"] {
        assert!(run["cases"].as_array().unwrap().iter().any(|c| c["id"] == id), "{id} ran");
    }
    // The sessions themselves ran over HTTPS.
    let trace = std::fs::read_to_string(dir.join("traces/TC-DMS-SESS-001.json")).unwrap();
    assert!(trace.contains("\"url\": \"https://127.0.0.1:"), "{trace}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client IUT over HTTPS through an ICS file, the suite presenting the certificate the PIXIT
/// names: the untrusted-CA case runs (and passes on a validating client); the expired one needs
/// a CA generated for the run and says so (`error`, exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ics_run_over_https_with_the_pixit_certificate() {
    use dmcts::reference::client;
    let dir = std::env::temp_dir().join(format!("dmcts-tls-ics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca = RunCa::generate("vendor lab CA").unwrap();
    let id = ca.issue_server(&hosts_for("https://127.0.0.1/")).unwrap();
    std::fs::write(dir.join("cert.pem"), &id.chain_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &id.key_pem).unwrap();

    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cfg = client::ClientConfig::new(format!("https://127.0.0.1:{listen}/dm"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.dev_id = "IMEI:490154203237518".into();
    cfg.tls =
        Some(ClientTls { ca_pem: ca.ca_pem().into(), ca_source: "lab".into(), identity: None, accept_any: false });
    let cl = client::spawn(cfg).await.unwrap();
    let ics = std::fs::read_to_string("examples/ics-client.toml")
        .unwrap()
        .lines()
        .map(|l| match l {
            _ if l.starts_with("listen = ") => format!("listen = \"127.0.0.1:{listen}\""),
            _ if l.starts_with("server_url = ") => format!("server_url = \"https://127.0.0.1:{listen}/dm\""),
            _ if l.starts_with("url = ") && l.contains("/ut") => format!("url = \"{}\"", cl.ut_url),
            "[iut]" => "[iut]\nimplements = [\"DM-SEC\"]".into(),
            "[support]" => "[support]\n\"DM-SEC-C-003\" = false".into(),
            "# enabled = true" => "enabled = true\ncert = \"cert.pem\"\nkey = \"key.pem\"".into(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("ics.toml");
    std::fs::write(&path, ics).unwrap();
    let run = |case: &'static str| {
        let (path, reports) = (path.clone(), dir.join(format!("reports-{case}")));
        move || {
            let out = Command::new(env!("CARGO_BIN_EXE_dmcts"))
                .args(["run", "--ics", path.to_str().unwrap(), "--report-dir", reports.to_str().unwrap()])
                .args(["--scr", "DM-SEC-C-001", "--", case, "--exact"])
                .output()
                .unwrap();
            let run: serde_json::Value =
                serde_json::from_slice(&std::fs::read(reports.join("run.json")).unwrap_or_default())
                    .unwrap_or_default();
            let c = run["cases"].as_array().into_iter().flatten().find(|c| c["id"] == case).cloned();
            (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), c.unwrap_or_default())
        }
    };
    let (code, text, c) = tokio::task::spawn_blocking(run("TC-DMC-SEC-001")).await.unwrap();
    assert_eq!((code, &c["verdict"]), (Some(0), &serde_json::json!("pass")), "{text}");
    assert!(!text.contains("dmcts-ca.pem"), "no CA is generated when the PIXIT names the certificate: {text}");
    let (code, text, c) = tokio::task::spawn_blocking(run("TC-DMC-SEC-002")).await.unwrap();
    assert_eq!(code, Some(2), "{text}");
    assert_eq!(c["verdict"], "error");
    assert!(c["reason"]["message"].as_str().unwrap().contains("only a CA generated for the run gives"), "{c}");
    cl.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
