//! The built-in ICS of the reference peers, used by `dmcts run --against reference` and the
//! selftest: every optional SCR item supported, the upper tester over HTTP, the reference
//! notification credentials and short timeouts.
use crate::ics::mo::MoValue;
use crate::ics::{
    AccountPixit, Ics, IutIdentity, IutPixit, NotificationPixit, NotificationTransport, Pixit, ServerDelivery,
    SuitePixit, Timeouts, DEFAULT_BINDING,
};
use crate::scr::Role;
use crate::upper_tester::UpperTesterConfig;
use crate::wire::dm2::Profile;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The DevID the built-in reference ICS expects from (client) or uses towards (server) the
/// reference peers, unless `Ics::for_reference_with` is given another.
/// It is the reference client's own DevID, so `${pixit.iut.dev_id}` checks agree with it.
pub const REFERENCE_DEV_ID: &str = super::client::DEFAULT_DEV_ID;
/// Notification credentials of the built-in reference ICS (test values, not secrets); the same
/// as `reference::client::ClientConfig::new`, so digests of the suite's Package#0 verify.
pub const REFERENCE_SECRET: &str = "test-noti-secret";
pub const REFERENCE_AUTH_DATA: &str = "test-noti-authdata";
/// SCR tables the reference peers implement beyond the base tables of the dm2 binding (which
/// they implement by definition); a table they do not implement is not applicable to them.
pub const REFERENCE_IMPLEMENTS: &[&str] = &["FUMO", "SCOMO", "DM-SEC", "GWMO"];

/// The HTTP credentials of the reference peers' DM accounts (the client sends them; the server
/// cases register the suite's device with them).
pub const REFERENCE_USER: &str = "dmcts-device";
pub const REFERENCE_PASSWORD: &str = "reference-password";

impl Ics {
    /// `[pixit.mo]` of the reference client: the documented defaults (a typical DM 2.0 tree:
    /// DevInfo and FUMO, which the reference client has), so that the selftest proves them, plus
    /// the values that have no default, matching the provisioned state documented in
    /// `crate::reference::client`. Returns the values and the keys that are defaults.
    fn reference_mo() -> (BTreeMap<String, MoValue>, BTreeSet<String>) {
        let text = |v: &str| MoValue::Text(v.to_string());
        let mut mo: BTreeMap<String, MoValue> = [
            // Executing FUMO DownloadAndUpdate right after a reset, with the empty PkgURL the
            // reset leaves, fails its download: State becomes 20 (Download Failed).
            ("exec_effect_uri", text("urn:oma:mo:oma-fumo:1.0//State")),
            ("exec_effect_value", text("20")),
            // The configuration MO of the reference client's local application: no instance
            // after a reset, so `config.request` needs the DEFAULT URI.
            ("default_moid", text(super::client::store::MOID_CONFIG)),
            ("default_data", MoValue::Data(serde_json::json!({ "Config": { "Server": "dmcts" } }))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let defaults = crate::ics::mo::apply_defaults(&mut mo);
        (mo, defaults)
    }

    /// The built-in ICS of a reference peer (see [`Ics::for_reference_with`]), listening on
    /// 127.0.0.1 with an OS-chosen port and using [`REFERENCE_DEV_ID`].
    pub fn for_reference(role: Role, ut_url: &str, server_uri: Option<&str>) -> Ics {
        Ics::for_reference_with(role, ut_url, server_uri, SocketAddr::from(([127, 0, 0, 1], 0)), REFERENCE_DEV_ID)
    }

    /// The built-in ICS used with `dmcts run --against reference`: every optional SCR item
    /// supported, the upper tester over HTTP at `ut_url`, Package#0 through the upper tester,
    /// reference notification credentials, short timeouts and quiet period.
    pub fn for_reference_with(
        role: Role,
        ut_url: &str,
        server_uri: Option<&str>,
        listen: SocketAddr,
        dev_id: &str,
    ) -> Ics {
        let (mo, mo_defaults) = match role {
            Role::Client => Self::reference_mo(),
            // A server IUT has no tree; its [pixit.mo] names what it manages. The AlertType the
            // reference server records for an EXEC result (it knows the dmcts-test family) is
            // given, so a missing result is a verdict, not inconc (TC-DMS-ASYNC-001).
            Role::Server => (
                [(
                    "exec_result_alert_type".to_string(),
                    MoValue::Text("urn:oma:at:dmcts-test:1.0:OperationComplete".into()),
                )]
                .into(),
                BTreeSet::new(),
            ),
        };
        let product = match role {
            Role::Client => "reference DM client",
            Role::Server => "reference DM server",
        };
        Ics {
            path: PathBuf::from(format!("<built-in reference {role} ICS>")),
            iut: IutIdentity {
                role,
                vendor: "dmcts".into(),
                product: product.into(),
                version: crate::SUITE_VERSION.into(),
                binding: DEFAULT_BINDING.into(),
                implements: REFERENCE_IMPLEMENTS.iter().map(|t| t.to_string()).collect(),
            },
            // Plain HTTP unless the run asks for HTTPS (`--tls` answers these true).
            support: [(
                match role {
                    Role::Client => crate::ics::CAP_CLIENT_TLS,
                    Role::Server => crate::ics::CAP_SERVER_TLS,
                }
                .to_string(),
                false,
            )]
            .into(),
            pixit: Pixit {
                suite: SuitePixit { listen, base_url: None, server_url: None },
                iut: IutPixit { dev_id: Some(dev_id.to_string()), server_uri: server_uri.map(str::to_string) },
                // The reference server's SERVER-ID, which its notifications carry.
                account: AccountPixit {
                    server_id: match role {
                        Role::Client => AccountPixit::default().server_id,
                        Role::Server => super::server::DEFAULT_SERVER_ID.into(),
                    },
                    username: Some(REFERENCE_USER.into()),
                    password: Some(REFERENCE_PASSWORD.into()),
                    // Credentials only when a 401 asks (Digest preferred): the cases of devices
                    // registered without credentials see no Authorization header.
                    auth: crate::wire::http_auth::Scheme::Digest,
                },
                notification: NotificationPixit {
                    transport: NotificationTransport::UpperTester,
                    url: None,
                    secret: Some(REFERENCE_SECRET.into()),
                    auth_data: Some(REFERENCE_AUTH_DATA.into()),
                    server_delivery: ServerDelivery::Listener,
                },
                upper_tester: UpperTesterConfig::Http { url: ut_url.to_string() },
                tls: Default::default(),
                // In-process peers answer in milliseconds; long waits would only slow selftests.
                timeouts: Timeouts { step_ms: 5_000, case_ms: 30_000, run_ms: 600_000, quiet_period_ms: 150 },
                mo,
                mo_defaults,
            },
            profile: Profile::default(),
            lines: BTreeMap::new(),
            all_optional_supported: true,
        }
    }
}
