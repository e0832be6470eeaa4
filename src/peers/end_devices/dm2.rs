//! A DM 2.0 End Device's session with the gateway: Package#1 with ServerInitiatedMgmt, then it
//! executes each Package#2 (an HGET fetches its ServerURI; any other command succeeds, 200)
//! and answers it in a Package#3, until END.
use super::{fetch, fetch_code, record, session_start, Behaviour, Shared, MAX_ROUNDS};
use crate::wire::dm2::{Command, Package2, HEADER_DEVID, MEDIA_PACKAGE1, MEDIA_PACKAGE3};
use serde_json::{json, Value};
use std::sync::Arc;

/// One device's session with the gateway, from Package#1 to END.
pub(super) async fn session(sh: Arc<Shared>, i: usize) {
    let Some((id, behaviour, mut target)) = session_start(&sh, i).await else { return };
    let mut body = json!({ "Alert": [{ "AlertType": crate::wire::dm2::ALERT_SERVER_INITIATED }] }).to_string();
    let mut media = MEDIA_PACKAGE1;
    for _ in 0..MAX_ROUNDS {
        let resp = sh
            .http
            .post(&target)
            .header("content-type", media)
            .header(HEADER_DEVID, &id)
            .body(body.clone())
            .send()
            .await;
        let bytes = match resp {
            Ok(r) if r.status().as_u16() == 200 => match r.bytes().await {
                Ok(b) => b,
                Err(e) => return record(&sh, i, |s| s.errors.push(format!("reading the Package#2: {e}"))),
            },
            Ok(r) => {
                let st = r.status().as_u16();
                return record(&sh, i, |s| s.errors.push(format!("the gateway answered {st}")));
            }
            Err(e) => return record(&sh, i, |s| s.errors.push(format!("POST {target}: {e}"))),
        };
        let p2 = match Package2::parse(&bytes) {
            Ok(p) => p,
            Err(e) => return record(&sh, i, |s| s.errors.push(format!("not a Package#2: {e:?}"))),
        };
        let mut statuses = Vec::new();
        let mut ended = false;
        let mut received = Vec::new();
        for cmd in &p2.cmd {
            match cmd {
                Command::End => {
                    ended = true;
                    break;
                }
                Command::Cont { server_uri } => {
                    target = server_uri.clone();
                    statuses.push(200);
                    continue;
                }
                _ => {}
            }
            received.push(cmd.to_array());
            let sc = match (behaviour, cmd) {
                (Behaviour::Erroring, _) => 500,
                (_, Command::Hget { server_uri, .. }) => {
                    let f = fetch(&sh.http, server_uri).await;
                    let sc = fetch_code(&f);
                    record(&sh, i, |s| s.fetches.push(f));
                    sc
                }
                _ => 200,
            };
            statuses.push(sc);
        }
        record(&sh, i, |s| {
            s.commands.get_or_insert_with(Vec::new).extend(received);
            if !ended {
                s.statuses.extend(statuses.iter().copied());
            }
        });
        if ended {
            // The statuses of the commands before END are not sent (no Package#3 after END).
            return record(&sh, i, |s| s.done = true);
        }
        let st: Vec<Value> = statuses.iter().map(|c| json!({ "sc": c })).collect();
        body = json!({ "Status": st }).to_string();
        media = MEDIA_PACKAGE3;
    }
    record(&sh, i, |s| s.errors.push(format!("the gateway did not end the session within {MAX_ROUNDS} packages")));
}
