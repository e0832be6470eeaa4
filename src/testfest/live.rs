//! The live page: served by the tool on loopback while the test-fest runs. `/` is one HTML
//! page (inline script and style, nothing fetched from elsewhere) showing the matrices IUT ×
//! requirement table, IUT × case and client × server; it follows `/events` (Server-Sent
//! Events, one per verdict) and reads `/api/state`. `/api/events?since=N` lists the events
//! after N for clients that poll. Each cell links to the case's trace, served from the IUT's
//! report folder (`/iut/<name>/traces/<case>.txt`).
use super::board::Board;
use super::roster::valid_name;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone)]
struct Live {
    board: Arc<Board>,
    report_dir: PathBuf,
    iuts: Arc<BTreeSet<String>>,
}

/// Report files of an IUT the page may link besides its traces.
const IUT_FILES: &[&str] = &["run.json", "coverage.md", "coverage.json", "junit.xml", "console.txt", "peer.log"];

/// Binds the page's listener on 127.0.0.1:`port` (0: the system chooses) and serves it on the
/// current tokio runtime until the runtime ends. Returns the bound address.
pub async fn serve(
    board: Arc<Board>,
    report_dir: PathBuf,
    iuts: BTreeSet<String>,
    port: u16,
) -> anyhow::Result<SocketAddr> {
    let state = Live { board, report_dir, iuts: Arc::new(iuts) };
    let app = Router::new()
        .route("/", get(page))
        .route("/api/state", get(api_state))
        .route("/api/events", get(api_events))
        .route("/events", get(sse))
        .route("/iut/{iut}/traces/{file}", get(trace_file))
        .route("/iut/{iut}/{file}", get(iut_file))
        .route("/pairs/{file}", get(pair_file))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve the live page on 127.0.0.1:{port} (--port): {e}"))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

async fn page(State(s): State<Live>) -> Html<String> {
    Html(PAGE.replace("{{TITLE}}", &html_escape(&s.board.snapshot().title)))
}

async fn api_state(State(s): State<Live>) -> impl IntoResponse {
    Json(s.board.snapshot())
}

#[derive(serde::Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn api_events(State(s): State<Live>, Query(q): Query<Since>) -> impl IntoResponse {
    Json(s.board.events_since(q.since))
}

async fn sse(State(s): State<Live>) -> Sse<impl futures::Stream<Item = Result<SseEvent, std::convert::Infallible>>> {
    let rx = s.board.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let data = serde_json::to_string(&ev).unwrap_or_default();
                    return Some((Ok(SseEvent::default().event(ev.kind).data(data)), rx));
                }
                // A slow page missed some: it rereads /api/state on the next one anyway.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, what).into_response()
}

async fn send_file(path: PathBuf) -> Response {
    let ctype = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        _ => "text/plain; charset=utf-8",
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, ctype)], bytes).into_response(),
        Err(_) => not_found(format!("{} is not written (yet)", path.display())),
    }
}

async fn trace_file(State(s): State<Live>, UrlPath((iut, file)): UrlPath<(String, String)>) -> Response {
    if !s.iuts.contains(&iut) || !valid_name(&file) {
        return not_found(format!("no trace {iut}/{file}"));
    }
    send_file(s.report_dir.join(&iut).join(crate::report::TRACES).join(file)).await
}

async fn iut_file(State(s): State<Live>, UrlPath((iut, file)): UrlPath<(String, String)>) -> Response {
    if !s.iuts.contains(&iut) || !IUT_FILES.contains(&file.as_str()) {
        return not_found(format!("no report {iut}/{file}"));
    }
    send_file(s.report_dir.join(&iut).join(file)).await
}

async fn pair_file(State(s): State<Live>, UrlPath(file): UrlPath<String>) -> Response {
    if !valid_name(&file) {
        return not_found(format!("no pair trace {file}"));
    }
    send_file(s.report_dir.join(super::PAIRS_DIR).join(file)).await
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page: renders /api/state into three tables, again on every server-sent event (and every
/// 3 s should the event stream break).
const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{TITLE}}</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:center}
th.r{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;font-size:12px}
td.n{text-align:left;white-space:nowrap}
.pass{background:#c8f0c8}.fail{background:#f6b8b8}.inconc{background:#f8e3a0}.error{background:#e0c0f0}
.not-tested{background:#ddd}.na{color:#aaa}.running{background:#dde8ff}
a{color:inherit;text-decoration:none}
#status{color:#555}
</style></head><body>
<h1>{{TITLE}}</h1>
<p id="status">connecting…</p>
<h2>IUT × requirement table</h2><table id="tables"></table>
<h2>Client × server (interop pairs)</h2><table id="pairs"></table>
<h2>IUT × case</h2><table id="cases"></table>
<script>
"use strict";
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c]));
const short = {"pass":"✓","fail":"✗","inconc":"?","error":"E","not-tested":"–","not-applicable":"","not-selected":"","skipped":"s"};
function cell(c, title){
  if(!c) return '<td class="na" title="'+esc(title)+'">·</td>';
  const cls = c.verdict==="not-applicable"||c.verdict==="not-selected" ? "na" : c.verdict;
  const t = esc(title+": "+c.verdict+(c.reason?" — "+c.reason:""));
  const txt = short[c.verdict] ?? c.verdict;
  const inner = c.trace ? '<a href="'+esc(c.trace)+'" target="_blank">'+txt+'</a>' : txt;
  return '<td class="'+cls+'" title="'+t+'">'+inner+'</td>';
}
function render(s){
  document.getElementById("status").textContent =
    (s.finished ? "finished" : "running") + " — event " + s.seq + " — " + new Date().toLocaleTimeString();
  // IUT × requirement table: the worst verdict of the table's cases so far, and counts.
  let h = "<tr><th>IUT</th><th>role</th><th>run</th>" + s.tables.map(t=>"<th>"+esc(t)+"</th>").join("") + "</tr>";
  for(const r of s.iuts){
    h += '<tr><td class="n">'+esc(r.name)+'</td><td>'+esc(r.role)+'</td><td class="'+(r.state==="running"?"running":"")+'" title="'+esc(r.error||"")+'">'+esc(r.state)+'</td>';
    for(const t of s.tables){
      const cs = s.cases.filter(c=>c.role===r.role && c.tables.includes(t)).map(c=>r.cases[c.id]).filter(Boolean);
      const n = v => cs.filter(c=>c.verdict===v).length;
      const done = cs.filter(c=>!["not-applicable","not-selected"].includes(c.verdict));
      const worst = ["error","fail","inconc","not-tested","pass"].find(v=>n(v)>0);
      h += worst ? '<td class="'+worst+'" title="'+esc(t)+'">'+n("pass")+"/"+done.length+'</td>' : '<td class="na">·</td>';
    }
    h += "</tr>";
  }
  document.getElementById("tables").innerHTML = h;
  // Pairs: clients down, servers across.
  const clients = [...new Set(s.pairs.map(p=>p.client))], servers = [...new Set(s.pairs.map(p=>p.server))];
  let p = "<tr><th>client \\ server</th>" + servers.map(x=>"<th>"+esc(x)+"</th>").join("") + "</tr>";
  for(const c of clients){
    p += '<tr><td class="n">'+esc(c)+'</td>';
    for(const sv of servers){
      const r = s.pairs.find(x=>x.client===c && x.server===sv);
      if(!r){ p += '<td class="na">·</td>'; continue; }
      const v = r.verdict || "running";
      const txt = r.verdict ? (short[r.verdict] ?? r.verdict) + " " + r.messages + " msg" : "…";
      const inner = r.trace ? '<a href="'+esc(r.trace)+'" target="_blank">'+txt+'</a>' : txt;
      p += '<td class="'+esc(v)+'" title="'+esc(r.reason||"")+'">'+inner+'</td>';
    }
    p += "</tr>";
  }
  document.getElementById("pairs").innerHTML = s.pairs.length ? p : "<tr><td>no pairs in the roster</td></tr>";
  // IUT × case.
  let c = '<tr><th>IUT</th>' + s.cases.map(x=>'<th class="r" title="'+esc(x.title)+'">'+esc(x.id)+'</th>').join("") + "</tr>";
  for(const r of s.iuts){
    c += '<tr><td class="n">'+esc(r.name)+'</td>' + s.cases.map(x=>cell(r.cases[x.id], r.name+" "+x.id)).join("") + "</tr>";
  }
  document.getElementById("cases").innerHTML = c;
}
async function refresh(){
  try { render(await (await fetch("api/state")).json()); }
  catch(e){ document.getElementById("status").textContent = "the test-fest is not reachable: " + e; }
}
refresh();
if (window.EventSource) {
  const es = new EventSource("events");
  for (const k of ["verdict","run","pair","finished"]) es.addEventListener(k, refresh);
}
setInterval(refresh, 3000);
</script></body></html>
"##;
