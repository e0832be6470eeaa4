//! The command-array form of DM 1.2 commands — how case files and the upper tester's
//! `commands.enqueue` write them (docs/dm12.md) — to and from typed [`Command`]s.
//!
//! `["Get", uri]`, `["Delete", uri]`, `["Add", uri]` (an interior node, Format `node`),
//! `["Add"|"Replace", uri, data, format?, type?, flags...]` (flags: `size=N` puts Meta Size on the
//! item, `more` adds MoreData: a Large Object chunk), `["Copy", target, source]`,
//! `["Exec", uri, data?, correlator?]`, `["Alert", code, item-data...]`, and
//! `["Atomic"|"Sequence", n]`: the next n commands are inside the container.
use super::message::{Alert, Command, Container, Data, Exec, Item, ItemCommand, LocRef, Meta};

/// CmdIDs handed out in order within one message.
#[derive(Debug, Clone)]
pub struct CmdIds(u32);

impl CmdIds {
    pub fn starting_at(n: u32) -> CmdIds {
        CmdIds(n)
    }
    pub fn next_id(&mut self) -> String {
        let id = self.0;
        self.0 += 1;
        id.to_string()
    }
}

fn meta_of(format: Option<&str>, r#type: Option<&str>, size: Option<&str>) -> Option<Meta> {
    let f = format.filter(|s| !s.is_empty()).map(str::to_string);
    let t = r#type.filter(|s| !s.is_empty()).map(str::to_string);
    let s = size.map(str::to_string);
    (f.is_some() || t.is_some() || s.is_some()).then(|| Meta { format: f, r#type: t, size: s, ..Meta::default() })
}

fn target_item(uri: &str) -> Item {
    Item { target: Some(LocRef::uri(uri)), ..Item::default() }
}

/// Typed commands from arrays; CmdIDs from `ids`. An error names the array and what was expected.
pub fn from_arrays(arrays: &[Vec<String>], ids: &mut CmdIds) -> Result<Vec<Command>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < arrays.len() {
        let (c, used) = one(arrays, i, ids)?;
        out.push(c);
        i += used;
    }
    Ok(out)
}

fn one(arrays: &[Vec<String>], at: usize, ids: &mut CmdIds) -> Result<(Command, usize), String> {
    let a = &arrays[at];
    let name = a.first().map(String::as_str).unwrap_or("");
    let p = |n: usize| a.get(n).map(String::as_str);
    let need = |n: usize, what: &str| -> Result<&str, String> {
        p(n).ok_or_else(|| format!("command {a:?}: parameter {n} ({what}) is missing"))
    };
    let cmd = match name {
        "Get" | "Delete" => {
            let c = ItemCommand { cmd_id: ids.next_id(), items: vec![target_item(need(1, "the target URI")?)], ..Default::default() };
            if name == "Get" {
                Command::Get(c)
            } else {
                Command::Delete(c)
            }
        }
        "Add" | "Replace" => {
            let uri = need(1, "the target URI")?;
            let mut item = target_item(uri);
            match p(2) {
                None if name == "Add" => item.meta = meta_of(Some("node"), None, None),
                None => return Err(format!("command {a:?}: Replace needs the data (parameter 2)")),
                Some(data) => {
                    let flags: Vec<&str> = a.iter().skip(5).map(String::as_str).collect();
                    let size = flags.iter().find_map(|f| f.strip_prefix("size="));
                    item.meta = meta_of(p(3).or(Some("chr")), p(4), size);
                    item.data = Some(Data::Text(data.to_string()));
                    item.more_data = flags.contains(&"more");
                    if let Some(bad) = flags.iter().find(|f| **f != "more" && !f.starts_with("size=")) {
                        return Err(format!("command {a:?}: unknown flag {bad:?} (expected size=N or more)"));
                    }
                }
            }
            let c = ItemCommand { cmd_id: ids.next_id(), items: vec![item], ..Default::default() };
            if name == "Add" {
                Command::Add(c)
            } else {
                Command::Replace(c)
            }
        }
        "Copy" => {
            let mut item = target_item(need(1, "the target URI")?);
            item.source = Some(LocRef::uri(need(2, "the source URI")?));
            Command::Copy(ItemCommand { cmd_id: ids.next_id(), items: vec![item], ..Default::default() })
        }
        "Exec" => {
            let mut item = target_item(need(1, "the target URI")?);
            if let Some(d) = p(2).filter(|d| !d.is_empty()) {
                item.data = Some(Data::Text(d.to_string()));
            }
            let correlator = p(3).filter(|c| !c.is_empty()).map(str::to_string);
            Command::Exec(Exec { cmd_id: ids.next_id(), correlator, items: vec![item], ..Default::default() })
        }
        "Alert" => {
            let code = need(1, "the alert code")?.to_string();
            let items = a.iter().skip(2).map(|d| Item { data: Some(Data::Text(d.clone())), ..Item::default() }).collect();
            Command::Alert(Alert { cmd_id: ids.next_id(), data: Some(code), items, ..Default::default() })
        }
        "Atomic" | "Sequence" => {
            let n: usize = need(1, "the number of commands inside")?
                .parse()
                .map_err(|_| format!("command {a:?}: parameter 1 must be the number of commands inside"))?;
            let cmd_id = ids.next_id();
            let mut inner = Vec::new();
            let mut used = 1;
            for _ in 0..n {
                if at + used >= arrays.len() {
                    return Err(format!("command {a:?}: {n} commands must follow, found {}", inner.len()));
                }
                let (c, u) = one(arrays, at + used, ids)?;
                inner.push(c);
                used += u;
            }
            let c = Container { cmd_id, commands: inner, ..Default::default() };
            return Ok((if name == "Atomic" { Command::Atomic(c) } else { Command::Sequence(c) }, used));
        }
        // A SyncML command DM does not use (digest §3.7): how a case sends a command the client
        // must refuse.
        other if super::message::OTHER_COMMANDS.contains(&other) => Command::Other { name: other.to_string(), cmd_id: Some(ids.next_id()) },
        other => {
            return Err(format!(
                "command {a:?}: unknown DM 1.2 command {other:?}; known: Get, Delete, Add, Replace, Copy, Exec, Alert, Atomic, Sequence"
            ))
        }
    };
    Ok((cmd, 1))
}

fn data_text(i: &Item) -> String {
    i.data.as_ref().map(|d| String::from_utf8_lossy(d.bytes()).into_owned()).unwrap_or_default()
}

fn uri(l: &Option<LocRef>) -> String {
    l.as_ref().map(|l| l.loc_uri.clone()).unwrap_or_default()
}

/// The arrays of commands as sent (Status and Results are not commands and are left out); a
/// command with several Items gives an array per Item.
pub fn to_arrays(commands: &[Command]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for c in commands {
        push_arrays(c, &mut out);
    }
    out
}

fn push_arrays(c: &Command, out: &mut Vec<Vec<String>>) {
    let s = |x: &str| x.to_string();
    match c {
        Command::Get(x) | Command::Delete(x) => {
            for i in &x.items {
                out.push(vec![s(c.name()), uri(&i.target)]);
            }
        }
        Command::Add(x) | Command::Replace(x) => {
            for i in &x.items {
                let m = i.meta.as_ref().or(x.meta.as_ref());
                let format = m.and_then(|m| m.format.clone()).unwrap_or_default();
                if c.name() == "Add" && i.data.is_none() && format == "node" {
                    out.push(vec![s("Add"), uri(&i.target)]);
                    continue;
                }
                let mut a = vec![
                    s(c.name()),
                    uri(&i.target),
                    data_text(i),
                    format,
                    m.and_then(|m| m.r#type.clone()).unwrap_or_default(),
                ];
                if let Some(size) = i.meta.as_ref().and_then(|m| m.size.clone()) {
                    a.push(format!("size={size}"));
                }
                if i.more_data {
                    a.push(s("more"));
                }
                out.push(a);
            }
        }
        Command::Copy(x) => {
            for i in &x.items {
                out.push(vec![s("Copy"), uri(&i.target), uri(&i.source)]);
            }
        }
        Command::Exec(x) => {
            for i in &x.items {
                out.push(vec![s("Exec"), uri(&i.target), data_text(i), x.correlator.clone().unwrap_or_default()]);
            }
        }
        Command::Alert(x) => {
            let mut a = vec![s("Alert"), x.data.clone().unwrap_or_default()];
            a.extend(x.items.iter().map(data_text));
            out.push(a);
        }
        Command::Atomic(x) | Command::Sequence(x) => {
            let mut inner = Vec::new();
            for ic in &x.commands {
                push_arrays(ic, &mut inner);
            }
            out.push(vec![s(c.name()), inner.len().to_string()]);
            out.extend(inner);
        }
        Command::Status(_) | Command::Results(_) => {}
        Command::Other { name, .. } => out.push(vec![name.clone()]),
    }
}

/// Binary data over XML: it MUST go as Format `b64` (T-TND 8.3.7.2, digest §10.6); over WBXML
/// Format `bin` is carried as OPAQUE bytes. Rewrites every Add/Replace Item (in containers too)
/// whose Format — its own Meta's, or its command's — is `bin` to `b64` with its data
/// base64-encoded, and a Large Object's Meta Size (the object's byte count) to the length of the
/// whole object's base64 text (digest §3 Meta Size: "for b64 data: length of the base64
/// text"). A chunk that is not the last is encoded on its own, so it must hold a multiple of
/// 3 bytes for the chunks' base64 texts to make the object's: otherwise an error.
pub fn binary_as_b64(commands: &mut [Command]) -> Result<(), String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let is_bin = |m: Option<&Meta>| m.and_then(|m| m.format.as_deref()) == Some("bin");
    for c in commands.iter_mut() {
        match c {
            Command::Add(x) | Command::Replace(x) => {
                let command_bin = is_bin(x.meta.as_ref());
                if command_bin {
                    if let Some(m) = x.meta.as_mut() {
                        m.format = Some("b64".into());
                    }
                }
                for i in &mut x.items {
                    let own = i.meta.as_ref().and_then(|m| m.format.as_deref());
                    if !(is_bin(i.meta.as_ref()) || (own.is_none() && command_bin)) {
                        continue;
                    }
                    let bytes = i.data.as_ref().map(|d| d.bytes().to_vec()).unwrap_or_default();
                    if i.more_data && bytes.len() % 3 != 0 {
                        return Err(format!(
                            "a Large Object chunk of Format bin goes over XML as b64, chunk by chunk: a chunk that \
                             is not the last must hold a multiple of 3 bytes (this one has {})",
                            bytes.len()
                        ));
                    }
                    i.data = Some(Data::Text(b64.encode(&bytes)));
                    if let Some(m) = i.meta.as_mut() {
                        if m.format.is_some() {
                            m.format = Some("b64".into());
                        }
                        if let Some(n) = m.size.as_deref().and_then(|s| s.trim().parse::<u64>().ok()) {
                            m.size = Some(n.div_ceil(3).saturating_mul(4).to_string());
                        }
                    }
                }
            }
            Command::Atomic(x) | Command::Sequence(x) => binary_as_b64(&mut x.commands)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrays(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter().map(|a| a.iter().map(|s| s.to_string()).collect()).collect()
    }

    #[test]
    fn arrays_round_trip_through_typed_commands() {
        let a = arrays(&[
            &["Get", "./DevInfo/Mod"],
            &["Atomic", "2"],
            &["Add", "./dmcts/N"],
            &["Replace", "./dmcts/Leaf", "two", "chr", "text/plain"],
            &["Exec", "./Vendor/Exec", "", "corr-1"],
            &["Alert", "1101", "MINDT=10", "Go?"],
            &["Replace", "./dmcts/Big", "abc", "b64", "application/octet-stream", "size=9", "more"],
        ]);
        let typed = from_arrays(&a, &mut CmdIds::starting_at(2)).unwrap();
        assert_eq!(typed.len(), 5);
        assert_eq!(typed[1].cmd_id(), Some("3"));
        let back = to_arrays(&typed);
        assert_eq!(back[0], a[0]);
        assert_eq!(back[1], a[1]);
        assert_eq!(back[2], a[2]);
        assert_eq!(back[3], a[3]);
        assert_eq!(back[4], a[4]);
        assert_eq!(back[5], a[5]);
        assert_eq!(back[6], a[6]);
    }

    #[test]
    fn binary_data_goes_as_b64_over_xml_with_the_object_size_of_its_base64_text() {
        let a = arrays(&[
            &["Replace", "./FUMO/Update/PkgData", "dmcts-fw-12:", "bin", "application/octet-stream", "size=27", "more"],
            &["Sequence", "1"],
            &["Add", "./SCOMO/Data", "xyz", "bin"],
            &["Replace", "./dmcts/Leaf", "two"],
        ]);
        let mut typed = from_arrays(&a, &mut CmdIds::starting_at(1)).unwrap();
        binary_as_b64(&mut typed).unwrap();
        let back = to_arrays(&typed);
        assert_eq!(
            back[0],
            [
                "Replace",
                "./FUMO/Update/PkgData",
                "ZG1jdHMtZnctMTI6",
                "b64",
                "application/octet-stream",
                "size=36",
                "more"
            ]
        );
        assert_eq!(back[2], ["Add", "./SCOMO/Data", "eHl6", "b64", ""]);
        assert_eq!(back[3], ["Replace", "./dmcts/Leaf", "two", "chr", ""], "chr data is left alone");
        let mut odd = from_arrays(
            &arrays(&[&["Replace", "./x", "ab", "bin", "", "size=5", "more"]]),
            &mut CmdIds::starting_at(1),
        )
        .unwrap();
        assert!(binary_as_b64(&mut odd).unwrap_err().contains("multiple of 3"));
    }

    #[test]
    fn bad_arrays_say_what_was_expected() {
        let e = from_arrays(&arrays(&[&["Atomic", "2"], &["Get", "./a"]]), &mut CmdIds::starting_at(1)).unwrap_err();
        assert!(e.contains("2 commands must follow"), "{e}");
        let e = from_arrays(&arrays(&[&["Frob", "./a"]]), &mut CmdIds::starting_at(1)).unwrap_err();
        assert!(e.contains("unknown DM 1.2 command"), "{e}");
    }
}
