//! The suite's listener over real sockets on 127.0.0.1: it serves exactly the DM server URL of
//! the IUT's account, answers other paths 404 at once and says so, records refused bodies as
//! refused, and keeps traffic after a case out of the next case.
use dmcts::peers::http::MAX_BODY_BYTES;
use dmcts::peers::listener::{HttpAnswer, Listener, TakeOutcome};
use dmcts::trace::{Trace, TraceEvent};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every wait in these tests is bounded by this; none is expected to come near it.
const BOUND: Duration = Duration::from_secs(10);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(BOUND).build().unwrap()
}

async fn post(url: impl AsRef<str>, body: impl Into<reqwest::Body>) -> (u16, String) {
    let r = http().post(url.as_ref()).body(body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn notes(trace: &Trace) -> Vec<String> {
    trace
        .entries()
        .into_iter()
        .filter_map(|e| match e.event {
            TraceEvent::Note { text } => Some(text),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn serves_exactly_the_accounts_dm_server_url_and_derives_the_other_endpoints() {
    // Port 0 in the account's URL: the port the listener got.
    let l = Listener::bind(loopback(), Some("http://127.0.0.1:0/oma/path")).await.unwrap();
    let base = format!("http://127.0.0.1:{}/oma/path", l.addr().port());
    assert_eq!(l.server_url(), base);
    assert_eq!(l.endpoint_url("dm"), base);
    assert_eq!(l.endpoint_url("repo"), format!("{base}/repo"));
    assert_eq!(l.endpoint_url("notify"), format!("{base}/notify"));
    l.begin_case_with_id("TC-1", Trace::new(), Vec::new());

    let dm = tokio::spawn(post(l.endpoint_url("dm"), "p1"));
    let t = l.take("dm", None, BOUND).await.expect("Package#1 at the account's URL");
    assert_eq!((t.incoming.method.as_str(), t.incoming.path.as_str()), ("POST", ""));
    assert_eq!((t.incoming.target.as_str(), t.incoming.body.as_slice()), ("/oma/path", b"p1".as_slice()));
    l.answer(t, HttpAnswer { status: 200, headers: vec![], body: b"p2".to_vec() });
    assert_eq!(dm.await.unwrap(), (200, "p2".into()));

    let repo = tokio::spawn(async move { http().get(format!("{base}/repo/obj?x=1")).send().await.unwrap().status() });
    let t = l.take("repo", Some("/obj?x=1"), BOUND).await.expect("a repository GET under the DM server URL");
    assert_eq!(t.incoming.target, "/oma/path/repo/obj?x=1");
    l.answer(t, HttpAnswer::status(204));
    assert_eq!(repo.await.unwrap(), 204);
    assert!(l.misdirected().is_empty());
}

#[tokio::test]
async fn a_path_the_suite_does_not_serve_is_answered_404_at_once_and_named() {
    let l = Listener::bind(loopback(), Some("http://localhost:0/path")).await.unwrap();
    let trace = Trace::new();
    l.begin_case_with_id("TC-2", trace.clone(), Vec::new());
    // A waiting step that asked to hear of misdirected requests ends at once, well before
    // its own 60 s timeout.
    let waiting = {
        let l = &l;
        async move { l.take_or_misdirected("dm", None, Duration::from_secs(60)).await }
    };
    let wrong = format!("http://127.0.0.1:{}/dm", l.addr().port());
    let (outcome, (status, text)) =
        tokio::time::timeout(BOUND, async { tokio::join!(waiting, post(&wrong, "p1")) }).await.expect("ended early");
    assert_eq!(status, 404);
    assert!(text.contains(l.server_url()), "{text}");
    let m = match outcome {
        TakeOutcome::Misdirected(m) => m,
        TakeOutcome::Taken(t) => panic!("took {:?}", t.incoming),
        TakeOutcome::TimedOut => panic!("timed out"),
    };
    assert_eq!((m.method.as_str(), m.target.as_str(), m.seq), ("POST", "/dm", 1));
    let url = l.server_url().to_string();
    assert_eq!(m.describe(), format!("the IUT sent POST /dm; the account's DM server URL is {url}"));
    assert_eq!(l.misdirected(), vec![m]);
    assert!(
        notes(&trace)
            .iter()
            .any(|n| n == &format!("answered 404: /dm is not a suite endpoint; the account's DM server URL is {url}")),
        "{:#?}",
        trace.entries()
    );
    // Never something a step can take, and each misdirected request ends one wait only.
    assert!(l.pending("any").is_empty());
    assert!(matches!(l.take_or_misdirected("dm", None, Duration::from_millis(50)).await, TakeOutcome::TimedOut));
    // A plain take is not ended by a misdirected request.
    let (_, taken) = tokio::join!(post(&wrong, "again"), l.take("dm", None, Duration::from_millis(300)));
    assert!(taken.is_none());
    assert_eq!(l.misdirected().len(), 2);
    assert_eq!(l.arrived(), 2, "misdirected requests count in the arrival order");
    // After a confirmed reset, earlier misdirected requests end no wait (they stay listed).
    post(&wrong, "before reset").await;
    l.drop_pending();
    assert!(matches!(l.take_or_misdirected("dm", None, Duration::from_millis(50)).await, TakeOutcome::TimedOut));
    assert_eq!(l.misdirected().len(), 3);
}

#[tokio::test]
async fn a_body_over_the_limit_is_recorded_as_refused_not_as_a_body() {
    let l = Listener::bind(loopback(), None).await.unwrap();
    let trace = Trace::new();
    l.begin_case_with_id("TC-3", trace.clone(), Vec::new());
    let big = vec![b'{'; MAX_BODY_BYTES + 1];
    let url = l.endpoint_url("dm");
    let sent = tokio::spawn(async move { http().post(url).body(big).send().await.map(|r| r.status().as_u16()) });
    let t = l.take("dm", None, BOUND).await.expect("the refused request is still recorded");
    assert_eq!(t.incoming.refused.as_deref(), Some(format!("larger than {MAX_BODY_BYTES} bytes").as_str()));
    assert!(t.incoming.body.is_empty());
    assert_eq!(t.incoming.answered, Some(413));
    assert!(!t.is_held());
    // The rest of the body is read and discarded, so the IUT sees the 413, not a reset.
    assert_eq!(sent.await.unwrap().map_err(|e| e.to_string()), Ok(413));
    assert!(notes(&trace).iter().any(|n| n.starts_with("body refused: larger than")), "{:#?}", notes(&trace));
}

#[tokio::test]
async fn a_chunked_body_without_a_length_is_cut_at_the_limit_too() {
    let l = Listener::bind(loopback(), None).await.unwrap();
    l.begin_case_with_id("TC-3b", Trace::new(), Vec::new());
    let mut s = tokio::net::TcpStream::connect(l.addr()).await.unwrap();
    let writer = tokio::spawn(async move {
        s.write_all(b"POST /dm HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n").await?;
        let chunk = vec![b'x'; 1 << 20];
        // 32 MiB offered; the listener stops reading at 16 MiB, so writing may fail: fine.
        for _ in 0..32 {
            s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            s.write_all(&chunk).await?;
            s.write_all(b"\r\n").await?;
        }
        s.write_all(b"0\r\n\r\n").await
    });
    let t = l.take("dm", None, BOUND).await.expect("recorded");
    assert_eq!(t.incoming.refused.as_deref(), Some(format!("larger than {MAX_BODY_BYTES} bytes").as_str()));
    assert!(t.incoming.body.is_empty());
    assert_eq!(t.incoming.answered, Some(413));
    let _ = tokio::time::timeout(BOUND, writer).await;
}

#[tokio::test]
async fn a_stalled_body_is_recorded_as_refused_with_408() {
    let l = Listener::bind(loopback(), None).await.unwrap();
    l.set_body_timeout(Duration::from_millis(200));
    l.begin_case_with_id("TC-4", Trace::new(), Vec::new());
    let mut s = tokio::net::TcpStream::connect(l.addr()).await.unwrap();
    s.write_all(b"POST /dm HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"Status\"").await.unwrap();
    let t = l.take("dm", None, BOUND).await.expect("recorded");
    assert_eq!(t.incoming.refused.as_deref(), Some("not complete within 200 ms"));
    assert_eq!(t.incoming.answered, Some(408));
    assert!(t.incoming.body.is_empty(), "the partial body is not judged as content");
    let mut head = vec![0u8; 12];
    tokio::time::timeout(BOUND, s.read_exact(&mut head)).await.unwrap().unwrap();
    assert_eq!(&head, b"HTTP/1.1 408");
}

#[tokio::test]
async fn traffic_after_a_case_is_answered_traced_reported_and_never_the_next_cases() {
    let l = Listener::bind(loopback(), Some("http://127.0.0.1:0/path")).await.unwrap();
    let dm = l.endpoint_url("dm");
    // Before any case.
    assert_eq!(post(&dm, "early").await.0, 503);
    let trace_a = Trace::new();
    l.begin_case_with_id("TC-A", trace_a.clone(), Vec::new());
    l.end_case();
    // After it: the default answer, then a configured one for dm (a session-ending package).
    let (status, text) = post(&dm, "stray Package#3").await;
    assert_eq!((status, text.as_str()), (503, "no test case is running"));
    l.set_between_cases_answer("dm", |inc| HttpAnswer {
        status: 200,
        headers: vec![("content-type".into(), "application/vnd.oma.dm.request+json".into())],
        body: format!("{{\"CMD\":[[\"END\"]],\"seen\":{}}}", inc.body.len()).into_bytes(),
    });
    assert_eq!(post(&dm, "p3").await, (200, r#"{"CMD":[["END"]],"seen":2}"#.into()));
    assert_eq!(post(&l.endpoint_url("repo"), "x").await.0, 503, "other endpoints keep the default");
    let wrong = format!("http://127.0.0.1:{}/elsewhere", l.addr().port());
    assert_eq!(post(&wrong, "x").await.0, 404);

    let late = l.take_late_traffic();
    assert_eq!(late.not_kept, 0);
    let late = late.requests;
    type Row<'a> = (Option<&'a str>, &'a str, &'a str, Option<u16>, bool);
    let summary: Vec<Row> = late
        .iter()
        .map(|r| {
            let i = &r.incoming;
            (r.after_case.as_deref(), i.endpoint.as_str(), i.target.as_str(), i.answered, r.misdirected)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (None, "dm", "/path", Some(503), false),
            (Some("TC-A"), "dm", "/path", Some(503), false),
            (Some("TC-A"), "dm", "/path", Some(200), false),
            (Some("TC-A"), "repo", "/path/repo", Some(503), false),
            (Some("TC-A"), "", "/elsewhere", Some(404), true),
        ]
    );
    assert_eq!(late[1].incoming.body, b"stray Package#3");
    assert!(l.take_late_traffic().requests.is_empty(), "taken once");
    let a_notes = notes(&trace_a);
    assert!(a_notes.iter().any(|n| n == "traffic after the case TC-A ended: POST /path answered 503"), "{a_notes:#?}");

    // The next case sees none of it.
    l.begin_case_with_id("TC-B", Trace::new(), Vec::new());
    assert!(l.pending("any").is_empty());
    assert_eq!(l.arrived(), 0);
    assert!(l.take("any", None, Duration::from_millis(100)).await.is_none());
}

#[tokio::test]
async fn a_request_whose_head_arrived_during_a_case_is_not_the_next_cases() {
    let l = Listener::bind(loopback(), None).await.unwrap();
    l.begin_case_with_id("TC-A", Trace::new(), Vec::new());
    let mut s = tokio::net::TcpStream::connect(l.addr()).await.unwrap();
    s.write_all(b"POST /dm HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab").await.unwrap();
    // Let the listener see the head while TC-A runs.
    tokio::time::sleep(Duration::from_millis(300)).await;
    l.end_case();
    l.begin_case_with_id("TC-B", Trace::new(), Vec::new());
    s.write_all(b"cd").await.unwrap();
    let mut head = vec![0u8; 12];
    tokio::time::timeout(BOUND, s.read_exact(&mut head)).await.unwrap().unwrap();
    assert_eq!(&head, b"HTTP/1.1 503");
    assert!(l.pending("any").is_empty(), "TC-B never sees it");
    let late = l.take_late_traffic().requests;
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].after_case.as_deref(), late[0].incoming.body.as_slice()), (Some("TC-A"), b"abcd".as_slice()));
}

#[tokio::test]
async fn requests_held_when_a_case_ends_get_the_configured_case_end_answer() {
    let l = Listener::bind(loopback(), None).await.unwrap();
    l.set_case_end_answer("dm", |_| HttpAnswer { status: 200, headers: vec![], body: b"END".to_vec() });
    let trace = Trace::new();
    l.begin_case_with_id("TC-5", trace.clone(), Vec::new());
    let held_dm = tokio::spawn(post(l.endpoint_url("dm"), "p3"));
    let held_repo = tokio::spawn(post(l.endpoint_url("repo") + "/x", "y"));
    // Both arrived (and are held: no step takes them).
    for _ in 0..500 {
        if l.pending("any").len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(l.pending("any").len(), 2);
    l.end_case();
    assert_eq!(held_dm.await.unwrap(), (200, "END".into()));
    assert_eq!(held_repo.await.unwrap().0, 503, "the default for other endpoints");
    assert!(notes(&trace).iter().any(|n| n == "case ended: POST /dm answered 200"), "{:#?}", notes(&trace));
    assert!(l.take_late_traffic().requests.is_empty(), "held requests arrived during the case: not late");
}

#[tokio::test]
async fn a_dm_server_url_that_cannot_be_served_is_refused_at_bind() {
    for url in ["not a url", "http://h/dm?session=1", "ftp://h/dm"] {
        match Listener::bind(loopback(), Some(url)).await {
            Err(e) => assert!(e.to_string().contains(url), "{e}"),
            Ok(l) => panic!("{url} was accepted as {}", l.server_url()),
        }
    }
}

#[tokio::test]
async fn a_flood_is_bounded_in_a_case_and_between_cases() {
    use dmcts::peers::listener::{LATE_BODY_KEPT, MAX_KEPT_REQUESTS};
    let l = Listener::bind(loopback(), None).await.unwrap();
    let trace = Trace::new();
    l.begin_case_with_id("TC-F", trace.clone(), Vec::new());
    let notify = l.endpoint_url("notify");
    // Answered at once (204), so the flood needs no step to answer it.
    let c = http();
    for _ in 0..MAX_KEPT_REQUESTS {
        assert_eq!(c.post(&notify).send().await.unwrap().status(), 204);
    }
    assert_eq!(c.post(&notify).send().await.unwrap().status(), 503, "one over the bound");
    assert_eq!(l.pending("notify").len(), MAX_KEPT_REQUESTS);
    assert!(notes(&trace).iter().any(|n| n.starts_with(&format!("more than {MAX_KEPT_REQUESTS} requests"))));
    l.end_case();
    // Between cases: bodies are kept as a prefix, with their length.
    let (status, _) = post(l.endpoint_url("dm"), vec![b'z'; LATE_BODY_KEPT + 10]).await;
    assert_eq!(status, 503);
    let late = l.take_late_traffic();
    assert_eq!(late.requests.len(), 1);
    assert_eq!(
        (late.requests[0].incoming.body.len(), late.requests[0].body_len),
        (LATE_BODY_KEPT, LATE_BODY_KEPT + 10)
    );
}

#[tokio::test]
async fn bodies_over_the_cases_budget_are_refused() {
    use dmcts::peers::listener::MAX_CASE_BODY_BYTES;
    let l = Listener::bind(loopback(), None).await.unwrap();
    l.begin_case_with_id("TC-G", Trace::new(), Vec::new());
    let repo = l.endpoint_url("repo");
    let per = MAX_BODY_BYTES;
    let n = MAX_CASE_BODY_BYTES / per;
    let c = http();
    let sends = (0..=n).map(|i| {
        let c = c.clone();
        let url = format!("{repo}/{i}");
        async move { c.put(url).body(vec![b'a'; per]).send().await.map(|r| r.status().as_u16()).ok() }
    });
    let sending = tokio::spawn(futures::future::join_all(sends));
    let mut refused = 0;
    for _ in 0..=n {
        let t = l.take("repo", None, BOUND).await.expect("each PUT is recorded");
        if let Some(why) = &t.incoming.refused {
            assert!(why.contains("budget") && t.incoming.body.is_empty(), "{why}");
            refused += 1;
        } else {
            assert_eq!(t.incoming.body.len(), per);
        }
        l.answer(t, HttpAnswer::status(204));
    }
    assert_eq!(refused, 1, "the one past the budget");
    let statuses = sending.await.unwrap();
    assert_eq!(statuses.iter().filter(|s| **s == Some(503)).count(), 1, "{statuses:?}");
}
