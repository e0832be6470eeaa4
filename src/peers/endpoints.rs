//! The suite's IUT-facing endpoints for one ICS: the URLs the IUT must reach (the account's DM
//! server URL and the endpoints the listener derives under it) and where the suite reaches the
//! IUT, so the vendor can configure the device before the first case.
//!
//! `plan` computes them from the PIXIT alone. A listener whose port the system chooses
//! (`[pixit.suite] listen` with port 0, and no `server_url`/`base_url` naming one) has no port
//! before it binds: its URLs show [`UNBOUND_PORT`] and say so. A run prints them as bound.
use super::listener::{endpoint_url_under, pixit_server_url, Listener};
use crate::ics::{Ics, NotificationTransport, ServerDelivery};
use crate::scr::Role;
use crate::upper_tester::UpperTesterConfig;
use serde::Serialize;

/// Stands for the port the system chooses when the listener binds.
pub const UNBOUND_PORT: &str = "<port>";

/// One address, on either side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Suite side: the listener's endpoint name, as cases write it in `${endpoint.NAME}`
    /// (`dm`, `cont`, `repo`, `browser`, `async`, `notify`). IUT side: `notification`,
    /// `server_uri`, `upper_tester`.
    pub name: String,
    /// What it is, for people ("DM server URL", "repository / download base"...).
    pub title: String,
    /// The URL; `None` where the IUT is not reached by a URL (notifications handed over by the
    /// upper tester; an exec, interactive or scripted upper tester).
    pub url: Option<String>,
    /// What goes there, and which PIXIT value (or default) it comes from.
    pub about: String,
}

/// The endpoints of one ICS, as `plan` prints them and a run prints them once bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// Where the suite's listener binds (the port is [`UNBOUND_PORT`] while the system has yet
    /// to choose it).
    pub listen: String,
    /// False when a URL holds [`UNBOUND_PORT`]: the run start prints the real ones.
    pub urls_final: bool,
    /// Served by the suite: the IUT sends its requests there.
    pub suite: Vec<Endpoint>,
    /// Where the suite reaches the IUT.
    pub iut: Vec<Endpoint>,
}

impl Endpoints {
    /// From the PIXIT alone, before anything is bound (`plan`).
    pub fn for_ics(ics: &Ics) -> Endpoints {
        let s = &ics.pixit.suite;
        let port = s.listen.port();
        let url = pixit_server_url(s.server_url.as_deref(), s.base_url.as_deref())
            .unwrap_or_else(|| format!("http://{}/dm", s.listen));
        let (server_url, urls_final) = fill_port(&url, port);
        let listen = if port == 0 { format!("{}:{UNBOUND_PORT}", s.listen.ip()) } else { s.listen.to_string() };
        build(ics, &server_url, listen, urls_final)
    }

    /// As the listener of a run serves them.
    pub fn bound(ics: &Ics, listener: &Listener) -> Endpoints {
        build(ics, listener.server_url(), listener.addr().to_string(), true)
    }

    /// The URL of one endpoint of either side, if it has one.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.suite.iter().chain(&self.iut).find(|e| e.name == name).and_then(|e| e.url.as_deref())
    }

    /// The listing under `heading` (plan and run start print the same rows).
    pub fn render(&self, heading: &str) -> String {
        let mut s = format!("{heading} (the suite listens on {}):\n", self.listen);
        if !self.urls_final {
            s.push_str(&format!(
                "  [pixit.suite] listen has port 0: the system chooses the port when the run starts, which prints \
                 the URLs with it ({UNBOUND_PORT} below); set a port in listen (or, for a client IUT, in server_url) \
                 to configure the device now.\n"
            ));
        }
        for (side, list) in [("the IUT sends to the suite", &self.suite), ("the suite reaches the IUT", &self.iut)] {
            if list.is_empty() {
                continue;
            }
            s.push_str(&format!("  {side}:\n"));
            for e in list {
                let url = e.url.as_deref().unwrap_or("(no URL)");
                s.push_str(&format!("    {:<27} {url}\n        {}\n", e.title, e.about));
            }
        }
        s
    }
}

/// The one-line note a run against the reference peers prints where an `--ics` run prints its
/// endpoints.
pub const REFERENCE_NOTE: &str =
    "endpoints: each case runs its own reference peer and listener on loopback ports; nothing to configure";

/// `url` with a port 0 replaced by the listen port, or by [`UNBOUND_PORT`] when that is 0 too
/// (the listener does the same with the port it gets); and whether the result is final.
fn fill_port(url: &str, listen_port: u16) -> (String, bool) {
    let Ok(mut u) = reqwest::Url::parse(url) else { return (url.to_string(), true) };
    if u.port() != Some(0) {
        return (u.to_string(), true);
    }
    if listen_port != 0 && u.set_port(Some(listen_port)).is_ok() {
        return (u.to_string(), true);
    }
    let host = u.host_str().unwrap_or_default();
    (format!("{}://{host}:{UNBOUND_PORT}{}", u.scheme(), u.path()), false)
}

fn endpoint(name: &str, title: &str, url: Option<String>, about: impl Into<String>) -> Endpoint {
    Endpoint { name: name.into(), title: title.into(), url, about: about.into() }
}

fn build(ics: &Ics, server_url: &str, listen: String, urls_final: bool) -> Endpoints {
    let p = &ics.pixit;
    let under = |name: &str| Some(endpoint_url_under(server_url, name));
    let (suite, mut iut) = match ics.iut.role {
        Role::Client => {
            let source = if p.suite.server_url.is_some() {
                "[pixit.suite] server_url"
            } else if p.suite.base_url.is_some() {
                "default: [pixit.suite] base_url + /dm"
            } else {
                "default: http://<listen>/dm"
            };
            let dm12 = crate::binding::family_of(&ics.iut.binding) == crate::binding::dm12::NAME_XML;
            let later = if dm12 { "its later messages" } else { "every later package" };
            let dm = endpoint(
                "dm",
                "DM server URL",
                under("dm"),
                format!("the account's DM server: the client POSTs Package#1 and {later} here ({source})"),
            );
            let suite = if dm12 {
                // What the SyncML DM 1.2 cases use: the account's server, the RespURIs the suite
                // names, and where FUMO/SCOMO packages are fetched from.
                vec![
                    dm,
                    endpoint(
                        "cont",
                        "RespURI base",
                        under("cont"),
                        "a RespURI the suite names continues the session at <this>/<name>",
                    ),
                    endpoint(
                        "repo",
                        "download base",
                        under("repo"),
                        "the PkgURL of a FUMO/SCOMO download is <this>/<path>",
                    ),
                ]
            } else {
                vec![
                    dm,
                    endpoint(
                        "repo",
                        "repository / download base",
                        under("repo"),
                        "HGET, HPUT, HPOST, DEFAULT and downloads address <this>/<path>",
                    ),
                    endpoint("browser", "browser base", under("browser"), "SHOW opens <this>/<path>"),
                    endpoint("cont", "CONT target base", under("cont"), "CONT continues the session at <this>/<name>"),
                    endpoint(
                        "async",
                        "asynchronous results",
                        under("async"),
                        "an EXEC reported asynchronously sends its result to <this>/<id>, the URI the EXEC names",
                    ),
                    endpoint(
                        "download",
                        "download server (DLOTA)",
                        None,
                        "cases with [case.download] (FUMO descriptors) serve descriptors and packages at \
                     http://<host of the DM server URL>:<a port chosen per case>/<name>, bound at the listen address; \
                     the case's trace notes the URL",
                    ),
                ]
            };
            let notification = match (&p.notification.transport, &p.notification.url) {
                (NotificationTransport::Http, Some(url)) => endpoint(
                    "notification",
                    "notifications (Package#0)",
                    Some(url.clone()),
                    "the suite POSTs Package#0 here ([pixit.notification] url)",
                ),
                _ => endpoint(
                    "notification",
                    "notifications (Package#0)",
                    None,
                    "handed to the upper tester (notification.deliver), which delivers them to the device \
                     ([pixit.notification] transport = \"upper-tester\")",
                ),
            };
            (suite, vec![notification])
        }
        Role::Server => {
            let about = match p.notification.server_delivery {
                ServerDelivery::Listener => {
                    "the server POSTs Package#0 here: the notification address the suite registers for its device \
                     (device.register)"
                }
                ServerDelivery::UpperTester => {
                    "registered as the device's notification address (device.register); the Package#0 itself comes \
                     back in the notification.send answer ([pixit.notification] server_delivery = \"upper-tester\")"
                }
            };
            let suite = vec![endpoint("notify", "notification listener", under("notify"), about)];
            let server = endpoint(
                "server_uri",
                "the server's DM endpoint",
                p.iut.server_uri.clone(),
                "the suite, as DM client, POSTs Package#1 and Package#3 here ([pixit.iut] server_uri)",
            );
            (suite, vec![server])
        }
    };
    iut.push(upper_tester(&p.upper_tester));
    Endpoints { listen, urls_final, suite, iut }
}

fn upper_tester(cfg: &UpperTesterConfig) -> Endpoint {
    let (url, about) = match cfg {
        UpperTesterConfig::Http { url } => {
            (Some(url.clone()), "the suite POSTs upper-tester requests here".to_string())
        }
        UpperTesterConfig::Exec { command } => (None, format!("the suite runs {}", command.join(" "))),
        UpperTesterConfig::Interactive => (None, "an operator at this terminal is prompted".to_string()),
        UpperTesterConfig::Scripted { file } => (None, format!("answers come from {file}")),
    };
    endpoint("upper_tester", "upper tester", url, format!("{about} ([pixit.upper_tester])"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_0_is_the_listen_port_or_unknown() {
        assert_eq!(fill_port("http://localhost:9988/path", 0), ("http://localhost:9988/path".into(), true));
        assert_eq!(fill_port("http://127.0.0.1:0/dm", 8700), ("http://127.0.0.1:8700/dm".into(), true));
        assert_eq!(fill_port("http://127.0.0.1:0/dm", 0), ("http://127.0.0.1:<port>/dm".into(), false));
        assert_eq!(fill_port("https://dm.example.com/x/", 0), ("https://dm.example.com/x/".into(), true));
    }
}
