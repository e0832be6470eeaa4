//! `peers::http::read_limited` against a raw server on 127.0.0.1 that announces a 1 GiB body
//! and keeps sending: the reader stops at its limit and says so.
use dmcts::peers::http::{read_limited, MAX_BODY_BYTES};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one response per connection: `head` then `body_len` bytes of `x` (or forever).
async fn serve(head: &'static str, body_len: Option<usize>) -> String {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/p2", tcp.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut req = [0u8; 4096];
                let _ = s.read(&mut req).await;
                s.write_all(head.as_bytes()).await?;
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = body_len.unwrap_or(usize::MAX);
                while left > 0 {
                    let n = left.min(chunk.len());
                    s.write_all(&chunk[..n]).await?;
                    left -= n;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });
    url
}

async fn get(url: &str) -> reqwest::Response {
    let c = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
    c.get(url).send().await.unwrap()
}

#[tokio::test]
async fn a_body_announced_as_1_gib_is_read_only_up_to_the_limit() {
    let url = serve("HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n", None).await;
    let got = read_limited(get(&url).await, MAX_BODY_BYTES).await.unwrap();
    assert!(got.truncated);
    assert_eq!(got.bytes.len(), MAX_BODY_BYTES);
    assert_eq!(got.declared_len, Some(1 << 30));
    assert_eq!(
        got.overflow().unwrap(),
        format!("larger than {MAX_BODY_BYTES} bytes (Content-Length 1073741824); reading stopped at the limit")
    );
}

#[tokio::test]
async fn an_endless_body_without_a_length_is_cut_too_and_a_small_one_is_whole() {
    let url = serve("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", None).await;
    let got = read_limited(get(&url).await, 100_000).await.unwrap();
    assert!(got.truncated && got.bytes.len() == 100_000 && got.declared_len.is_none());
    let url = serve("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n", Some(100_000)).await;
    let got = read_limited(get(&url).await, 100_000).await.unwrap();
    assert!(!got.truncated && got.bytes.len() == 100_000 && got.overflow().is_none());
}
