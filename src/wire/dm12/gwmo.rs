//! GwMO (Gateway Management Object) over SyncML DM 1.2: the DMCommands a server stores in a
//! Fanout instance, the Image Ready alert's LocalImageURI, and the aggregated results a gateway
//! sends in its Fanout alert (enablers digest §4; seeds 000 "Image Distribution" and 003 "DM
//! Commands Fanout"; docs/gwmo.md).
//!
//! - **DMCommands** are a SyncML command fragment, the seed's own form (seed 000 step 5: an Add
//!   of `./GWMO/Fanout/fo1/DMCommands` whose Data inlines `<Add>…</Add><Add>…</Add>` in CDATA):
//!   the XML of one or more SyncBody commands, parsed by the message codec's command parser.
//! - **Image Ready** (seed 000 step 4: "contains the value of the LocalImageURI"; digest §4.7's
//!   DM 1.2 example): a Generic Alert 1226 whose Item Data is the LocalImageURI.
//! - **The aggregate** (seed 003 §8.3.1 "send the aggregated results to the DM Server via
//!   Fanout Alert"; step 6 "a pair of data about the DeviceID and the response from this Device
//!   into <x>/Results/<x>/DeviceID and <x>/Results/<x>/DevResultXML"): a Generic Alert 1226
//!   whose Items are those nodes' values, Source `<fanout>Results/<r>/DeviceID` (Data the
//!   DeviceID) and `<fanout>Results/<r>/DevResultXML` (Data the device's response: the
//!   Status/Results commands of its message, as a fragment). A device without DevResultXML did
//!   not answer: it failed. That the alert carries the Results nodes' values this way is ours
//!   (digest §4.4 leaves the aggregate's form open), documented in docs/gwmo.md.
use super::message::{Command, Data, Item, LocRef, Message, Meta};
use super::tree::{DecodeError, EncodeError, Encoding};

/// The Results subtree of a Fanout instance (seed 003 step 6).
pub const RESULTS: &str = "Results";
/// The leaf naming the End Device of a result.
pub const DEVICE_ID: &str = "DeviceID";
/// The leaf holding the device's response in XML (seed 003 step 6).
pub const DEV_RESULT_XML: &str = "DevResultXML";
/// The leaf holding it in WBXML (seed 003 step 6): recognised, not decoded by this suite.
pub const DEV_RESULT_WBXML: &str = "DevResultWBXML";

const WRAP_START: &str = "<SyncML><SyncBody>";
const WRAP_END: &str = "</SyncBody></SyncML>";

/// The commands of a DMCommands fragment (XML text). An error's offset is in `text`.
pub fn parse_dm_commands(text: &str) -> Result<Vec<Command>, DecodeError> {
    let wrapped = format!("{WRAP_START}{text}{WRAP_END}");
    let shift = |mut e: DecodeError| {
        e.offset = e.offset.saturating_sub(WRAP_START.len()).min(text.len());
        e.path = e.path.strip_prefix("/SyncML").unwrap_or(&e.path).to_string();
        e
    };
    let root = super::xml::decode(&wrapped).map_err(shift)?;
    let Some(body) = root.elements().next() else {
        return Err(DecodeError {
            encoding: Encoding::Xml,
            offset: 0,
            path: String::new(),
            expected: "SyncML commands".into(),
        });
    };
    let cmds = Message::commands_of(body, "", Encoding::Xml).map_err(shift)?;
    if cmds.is_empty() {
        return Err(DecodeError {
            encoding: Encoding::Xml,
            offset: 0,
            path: String::new(),
            expected: "at least one SyncML command (e.g. <Replace>…</Replace>)".into(),
        });
    }
    Ok(cmds)
}

/// The XML fragment of `cmds` (no declaration, no SyncML/SyncBody around them).
pub fn fragment_xml(cmds: &[Command]) -> Result<String, EncodeError> {
    let root = super::tree::Element::new("SyncML").with(Message::commands_tree(cmds));
    let text = super::xml::encode(&root, false)?;
    let start = text.find("<SyncBody>").map(|i| i + "<SyncBody>".len());
    let end = text.rfind(WRAP_END);
    match (start, end) {
        (Some(s), Some(e)) if s <= e => Ok(text[s..e].to_string()),
        // An empty fragment is written as `<SyncBody/>`.
        _ => Ok(String::new()),
    }
}

/// One End Device's entry of the aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceResult {
    pub device_id: String,
    /// The DevResultXML value as sent (None: the device did not answer).
    pub dev_result_xml: Option<String>,
    /// It parsed: the device's Status/Results commands, or why it does not parse.
    pub dev_result: Option<Result<Vec<Command>, String>>,
}

impl DeviceResult {
    /// The codes of the device's Statuses for the commands it was given (not the Status of the
    /// gateway's SyncHdr), in order; empty without a readable result.
    pub fn status_codes(&self) -> Vec<u16> {
        let Some(Ok(cmds)) = &self.dev_result else { return Vec::new() };
        cmds.iter()
            .filter_map(|c| match c {
                Command::Status(s) if s.cmd != "SyncHdr" && s.cmd_ref != "0" => s.data.trim().parse().ok(),
                _ => None,
            })
            .collect()
    }

    /// The device answered, and every command it was given succeeded (2xx).
    pub fn succeeded(&self) -> bool {
        matches!(&self.dev_result, Some(Ok(_))) && self.status_codes().iter().all(|c| (200..300).contains(c))
    }
}

/// `uri` without a `./` prefix or a trailing `/`.
fn norm(uri: &str) -> &str {
    uri.trim().trim_start_matches("./").trim_end_matches('/')
}

/// The Items of a Fanout alert for `results` (DeviceID, DevResultXML if the device answered),
/// entry r (from 1) under `<fanout>Results/<r>/`, each with Meta Type `alert_type`.
pub fn aggregate_items(fanout: &str, alert_type: &str, results: &[(String, Option<String>)]) -> Vec<Item> {
    let base = format!("{}/{RESULTS}", fanout.trim_end_matches('/'));
    let item = |leaf: &str, r: usize, format: &str, data: &str| Item {
        source: Some(LocRef::uri(format!("{base}/{r}/{leaf}"))),
        meta: Some(Meta { r#type: Some(alert_type.into()), format: Some(format.into()), ..Meta::default() }),
        data: Some(Data::Text(data.into())),
        ..Item::default()
    };
    let mut out = Vec::with_capacity(results.len() * 2);
    for (r, (id, xml)) in results.iter().enumerate() {
        out.push(item(DEVICE_ID, r + 1, "chr", id));
        if let Some(x) = xml {
            out.push(item(DEV_RESULT_XML, r + 1, "xml", x));
        }
    }
    out
}

/// The aggregate the Items of a Fanout alert carry, given as (Source LocURI, Data) pairs: the
/// entries under `<fanout>Results/`, in the order their DeviceIDs come. Items elsewhere are
/// not part of it. An error names the item (from 1) and what was expected.
pub fn parse_aggregate<'a>(
    items: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
    fanout: &str,
) -> Result<Vec<DeviceResult>, String> {
    let base = format!("{}/{RESULTS}/", norm(fanout));
    // Entry name → (DeviceID, DevResultXML, DevResultWBXML seen).
    let mut entries: Vec<(String, Option<String>, Option<String>, bool)> = Vec::new();
    let mut any = false;
    for (n, (source, data)) in items.into_iter().enumerate() {
        let n = n + 1;
        let Some(rest) = source.map(norm).and_then(|s| s.strip_prefix(base.as_str())) else { continue };
        any = true;
        let Some((entry, leaf)) = rest.split_once('/') else {
            return Err(format!(
                "item {n}: Source {base}<r>/{DEVICE_ID} or {base}<r>/{DEV_RESULT_XML}; got {:?}",
                source.unwrap_or_default()
            ));
        };
        let at = match entries.iter().position(|e| e.0 == entry) {
            Some(i) => i,
            None => {
                entries.push((entry.to_string(), None, None, false));
                entries.len() - 1
            }
        };
        let e = &mut entries[at];
        match leaf {
            DEVICE_ID => match data.map(str::trim).filter(|d| !d.is_empty()) {
                Some(d) => e.1 = Some(d.to_string()),
                None => return Err(format!("item {n} ({base}{entry}/{DEVICE_ID}): Data the DeviceID; got none")),
            },
            DEV_RESULT_XML => e.2 = Some(data.unwrap_or_default().to_string()),
            DEV_RESULT_WBXML => e.3 = true,
            other => {
                return Err(format!(
                    "item {n}: the leaf {DEVICE_ID}, {DEV_RESULT_XML} or {DEV_RESULT_WBXML} of {base}{entry}/; got {other:?}"
                ))
            }
        }
    }
    if !any {
        return Err(format!("Items whose Source is under {base} (the Fanout job's Results); got none"));
    }
    entries
        .into_iter()
        .map(|(entry, id, xml, wbxml)| {
            let Some(device_id) = id else {
                return Err(format!("a {DEVICE_ID} item for the result {base}{entry}/; got none"));
            };
            let dev_result = match (&xml, wbxml) {
                (Some(x), _) => Some(parse_dm_commands(x).map_err(|e| e.to_string())),
                (None, true) => Some(Err(format!(
                    "{DEV_RESULT_WBXML} is not decoded by this suite (send {DEV_RESULT_XML}; docs/gwmo.md)"
                ))),
                (None, false) => None,
            };
            Ok(DeviceResult { device_id, dev_result_xml: xml, dev_result })
        })
        .collect()
}

/// The LocalImageURI an Image Ready alert's Item Data carries: an http(s) URL.
pub fn local_image_uri_of(data: Option<&str>) -> Option<&str> {
    let d = data?.trim();
    (d.starts_with("http://") || d.starts_with("https://")).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::super::commands::{from_arrays, to_arrays, CmdIds};
    use super::super::message::Status;
    use super::*;

    /// The seed's example (seed 000 step 5), its malformed comments left out.
    const SEED_FRAGMENT: &str = r#"
      <Add><CmdID>1</CmdID><Item><Target><LocURI>./SCOMO/Download/Pkg1</LocURI></Target></Item></Add>
      <Add><CmdID>2</CmdID><Item><Target><LocURI>./SCOMO/Download/Pkg1/PkgID</LocURI></Target><Data>Package123</Data></Item></Add>
      <Add><CmdID>3</CmdID><Item><Target><LocURI>./SCOMO/Download/Pkg1/PkgURL</LocURI></Target>
        <Data>http://192.168.1.1/scomo/package123</Data><!-- Local URI --></Item></Add>"#;

    #[test]
    fn the_seeds_dmcommands_parse() {
        let cmds = parse_dm_commands(SEED_FRAGMENT).unwrap();
        assert_eq!(cmds.len(), 3);
        let a = to_arrays(&cmds);
        assert_eq!(a[2][0], "Add");
        assert_eq!(a[2][1], "./SCOMO/Download/Pkg1/PkgURL");
        assert_eq!(a[2][2], "http://192.168.1.1/scomo/package123");
    }

    #[test]
    fn a_fragment_round_trips() {
        let arrays: Vec<Vec<String>> = [
            vec!["Replace", "./SCOMO/Download/Pkg1/PkgURL", "http://gw.local/img/1?a=1&b=<2>"],
            vec!["Exec", "./SCOMO/Download/Pkg1/Operations/Download"],
        ]
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
        let cmds = from_arrays(&arrays, &mut CmdIds::starting_at(1)).unwrap();
        let text = fragment_xml(&cmds).unwrap();
        assert!(text.starts_with("<Replace><CmdID>1</CmdID>"), "{text}");
        assert!(!text.contains("<?xml") && !text.contains("SyncBody"), "{text}");
        assert_eq!(parse_dm_commands(&text).unwrap(), cmds);
    }

    #[test]
    fn bad_fragments_are_located_in_the_fragment() {
        let e = parse_dm_commands("<Replace><CmdID>1</CmdID></Replace>").unwrap_err();
        assert!(e.expected.contains("<Item>"), "{e}");
        let e = parse_dm_commands("  <Bogus/>").unwrap_err();
        assert_eq!(e.offset, 2, "{e}");
        assert!(parse_dm_commands("").unwrap_err().expected.contains("at least one"));
        assert!(parse_dm_commands("<Replace>").is_err());
        assert!(parse_dm_commands("not xml at all").is_err());
    }

    fn status(cmd_ref: &str, cmd: &str, code: &str) -> Command {
        Command::Status(Status {
            cmd_id: "1".into(),
            msg_ref: "1".into(),
            cmd_ref: cmd_ref.into(),
            cmd: cmd.into(),
            data: code.into(),
            ..Status::default()
        })
    }

    #[test]
    fn the_aggregate_round_trips_and_says_who_failed() {
        let ok = fragment_xml(&[status("0", "SyncHdr", "200"), status("3", "Exec", "200")]).unwrap();
        let bad = fragment_xml(&[status("0", "SyncHdr", "200"), status("3", "Exec", "500")]).unwrap();
        let results = vec![("ED-1".to_string(), Some(ok)), ("ED-2".to_string(), Some(bad)), ("ED-3".to_string(), None)];
        let items = aggregate_items("./GWMO/Fanout/fo1/", "urn:t", &results);
        assert_eq!(items.len(), 5);
        assert_eq!(items[0].source.as_ref().unwrap().loc_uri, "./GWMO/Fanout/fo1/Results/1/DeviceID");
        let pairs: Vec<(Option<String>, Option<String>)> = items
            .iter()
            .map(|i| {
                (i.source.as_ref().map(|s| s.loc_uri.clone()), i.data.as_ref().and_then(|d| d.text().map(String::from)))
            })
            .collect();
        let agg = parse_aggregate(pairs.iter().map(|(s, d)| (s.as_deref(), d.as_deref())), "GWMO/Fanout/fo1").unwrap();
        let ids: Vec<&str> = agg.iter().map(|r| r.device_id.as_str()).collect();
        assert_eq!(ids, ["ED-1", "ED-2", "ED-3"]);
        assert_eq!(agg[0].status_codes(), [200], "the SyncHdr status is not a command's");
        assert!(agg[0].succeeded());
        assert!(!agg[1].succeeded());
        assert!(!agg[2].succeeded() && agg[2].dev_result.is_none());
    }

    #[test]
    fn malformed_aggregates_are_refused_with_the_item() {
        let f = "./GWMO/Fanout/fo1/";
        let e = parse_aggregate([(Some("./Other/x"), Some("1"))], f).unwrap_err();
        assert!(e.contains("got none"), "{e}");
        let e =
            parse_aggregate([(Some("./GWMO/Fanout/fo1/Results/1/DevResultXML"), Some("<Status/>"))], f).unwrap_err();
        assert!(e.contains("DeviceID item"), "{e}");
        let e = parse_aggregate([(Some("./GWMO/Fanout/fo1/Results/1/Bogus"), Some("x"))], f).unwrap_err();
        assert!(e.contains("item 1") && e.contains("Bogus"), "{e}");
        let e = parse_aggregate([(Some("./GWMO/Fanout/fo1/Results/1/DeviceID"), None)], f).unwrap_err();
        assert!(e.contains("Data the DeviceID"), "{e}");
        let agg = parse_aggregate(
            [
                (Some("./GWMO/Fanout/fo1/Results/a/DeviceID"), Some("ED-1")),
                (Some("./GWMO/Fanout/fo1/Results/a/DevResultXML"), Some("garbage")),
            ],
            f,
        )
        .unwrap();
        assert!(matches!(agg[0].dev_result, Some(Err(_))) && !agg[0].succeeded());
    }

    #[test]
    fn the_local_image_uri_is_a_url() {
        assert_eq!(local_image_uri_of(Some(" http://gw/img/1 ")), Some("http://gw/img/1"));
        assert_eq!(local_image_uri_of(Some("/img/1")), None);
        assert_eq!(local_image_uri_of(None), None);
    }
}
