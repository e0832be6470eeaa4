//! The management commands a test queues for a device (`commands.enqueue`), in the DM 1.2
//! command-array form of PLAN-dm12.md, and how each becomes a SyncML command (digest §4):
//! Meta Format/Type whenever not the defaults `chr`/`text/plain` (digest §3.6), Format `node`
//! for an interior Add and an explicit Format for every Add (digest §4.1), large-object chunks
//! with `Size` and `MoreData` (digest §5.7).
use crate::wire::dm12::{Alert, Command, Container, Data, Exec, Item, ItemCommand, LocRef, Meta};

/// One queued command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Queued {
    /// Add, Replace, Get, Delete, Copy.
    Item(ItemCmd),
    Exec {
        target: String,
        data: Option<String>,
        correlator: Option<String>,
    },
    /// Each further string is one Item's Data (a UI alert: options, then text, then choices).
    Alert {
        code: String,
        items: Vec<String>,
    },
    /// Atomic (`atomic`) or Sequence.
    Container {
        atomic: bool,
        commands: Vec<Queued>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ItemCmd {
    /// `Add`, `Replace`, `Get`, `Delete`, `Copy`.
    pub name: &'static str,
    pub target: String,
    /// Copy's origin.
    pub source: Option<String>,
    pub data: Option<String>,
    pub format: Option<String>,
    pub r#type: Option<String>,
    /// Meta `Size` (first chunk of a large object).
    pub size: Option<String>,
    /// `MoreData`: a chunk that is not the last one.
    pub more: bool,
}

impl Queued {
    /// A large-object chunk after which the server's package goes on in another message.
    pub fn is_open_chunk(&self) -> bool {
        matches!(self, Queued::Item(c) if c.more)
    }

    /// The SyncML command, CmdIDs drawn from `next_id` (nested commands included: one CmdID
    /// space per message, digest §3.3). `format_meta` false drops every non-`chr` Format (the
    /// `no-format-meta` fault).
    pub fn to_wire(&self, next_id: &mut impl FnMut() -> String, format_meta: bool) -> Command {
        match self {
            Queued::Item(c) => {
                let format = c.format.clone().filter(|f| format_meta || f == "chr");
                let meta = Meta { format, r#type: c.r#type.clone(), size: c.size.clone(), ..Meta::default() };
                let empty = meta == Meta::default();
                let item = Item {
                    target: Some(LocRef::uri(&c.target)),
                    source: c.source.as_ref().map(LocRef::uri),
                    meta: (!empty).then_some(meta),
                    data: c.data.as_deref().map(Data::from),
                    more_data: c.more,
                };
                let cmd = ItemCommand { cmd_id: next_id(), items: vec![item], ..ItemCommand::default() };
                match c.name {
                    "Add" => Command::Add(cmd),
                    "Replace" => Command::Replace(cmd),
                    "Get" => Command::Get(cmd),
                    "Delete" => Command::Delete(cmd),
                    _ => Command::Copy(cmd),
                }
            }
            Queued::Exec { target, data, correlator } => Command::Exec(Exec {
                cmd_id: next_id(),
                correlator: correlator.clone(),
                items: vec![Item {
                    target: Some(LocRef::uri(target)),
                    data: data.as_deref().map(Data::from),
                    ..Item::default()
                }],
                ..Exec::default()
            }),
            Queued::Alert { code, items } => Command::Alert(Alert {
                cmd_id: next_id(),
                data: Some(code.clone()),
                items: items.iter().map(|d| Item { data: Some(Data::from(d.as_str())), ..Item::default() }).collect(),
                ..Alert::default()
            }),
            Queued::Container { atomic, commands } => {
                let cmd_id = next_id();
                let commands = commands.iter().map(|c| c.to_wire(next_id, format_meta)).collect();
                let c = Container { cmd_id, commands, ..Container::default() };
                if *atomic {
                    Command::Atomic(c)
                } else {
                    Command::Sequence(c)
                }
            }
        }
    }
}

/// Parses `commands` (the value of `args.commands`); errors carry the JSON pointer under
/// `args` (`/commands/3/1: …`).
pub(super) fn parse(commands: Option<&serde_json::Value>) -> Result<Vec<Queued>, String> {
    let Some(commands) = commands else {
        return Err("/commands: expected an array of command arrays, found nothing".into());
    };
    let Some(arrays) = commands.as_array() else {
        return Err(format!("/commands: expected an array of command arrays, found {commands}"));
    };
    let mut rows = Vec::with_capacity(arrays.len());
    for (i, c) in arrays.iter().enumerate() {
        let p = format!("/commands/{i}");
        let Some(arr) = c.as_array() else { return Err(format!("{p}: expected a command array, found {c}")) };
        let mut strs = Vec::with_capacity(arr.len());
        for (j, s) in arr.iter().enumerate() {
            match s.as_str() {
                Some(s) => strs.push(s.to_string()),
                None => return Err(format!("{p}/{j}: expected a string, found {s}")),
            }
        }
        rows.push((p, strs));
    }
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        out.push(parse_one(&mut rows, None)?);
    }
    Ok(out)
}

type Rows = std::iter::Peekable<std::vec::IntoIter<(String, Vec<String>)>>;

/// One command (a container with its members). `inside_atomic`: the pointer of the enclosing
/// Atomic, where Get and Exec are not allowed (digest §4.3, S-015).
fn parse_one(rows: &mut Rows, inside_atomic: Option<&str>) -> Result<Queued, String> {
    let (p, a) = rows.next().expect("caller peeked");
    let arity = |ok: bool, form: &str| if ok { Ok(()) } else { Err(format!("{p}: expected {form}, found {a:?}")) };
    let name = a.first().map(String::as_str).unwrap_or("");
    let cmd = match name {
        "Get" | "Delete" => {
            arity(a.len() == 2, &format!("[\"{name}\", uri]"))?;
            Queued::Item(item(name, &a[1], None, None))
        }
        "Add" => {
            arity(a.len() == 2 || a.len() == 3 || a.len() >= 5, "[\"Add\", uri] (interior node), [\"Add\", uri, data] or [\"Add\", uri, data, format, type, (\"size=N\"), (\"more\")]")?;
            let mut c = match a.len() {
                2 => ItemCmd { format: Some("node".into()), ..item("Add", &a[1], None, None) },
                _ => ItemCmd { format: Some("chr".into()), ..item("Add", &a[1], None, Some(&a[2])) },
            };
            if a.len() >= 5 {
                explicit_meta(&mut c, &a[3], &a[4]);
                chunk_flags(&mut c, &a[5..], &p, 5)?;
            }
            Queued::Item(c)
        }
        "Replace" => {
            arity(
                a.len() == 3 || a.len() >= 5,
                "[\"Replace\", uri, data] or [\"Replace\", uri, data, format, type, (\"size=N\"), (\"more\")]",
            )?;
            let mut c = item("Replace", &a[1], None, Some(&a[2]));
            if a.len() >= 5 {
                explicit_meta(&mut c, &a[3], &a[4]);
                chunk_flags(&mut c, &a[5..], &p, 5)?;
            }
            Queued::Item(c)
        }
        "Copy" => {
            arity(a.len() == 3, "[\"Copy\", target_uri, source_uri]")?;
            Queued::Item(ItemCmd { source: Some(a[2].clone()), ..item("Copy", &a[1], None, None) })
        }
        "Exec" => {
            arity(
                (2..=4).contains(&a.len()),
                "[\"Exec\", uri], [\"Exec\", uri, data] or [\"Exec\", uri, data, correlator]",
            )?;
            Queued::Exec {
                target: a[1].clone(),
                data: a.get(2).filter(|d| !d.is_empty()).cloned(),
                correlator: a.get(3).filter(|c| !c.is_empty()).cloned(),
            }
        }
        "Alert" => {
            arity(a.len() >= 2, "[\"Alert\", code, item data...]")?;
            if a[1].len() != 4 || !a[1].bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{p}/1: expected a four-digit alert code, found {:?}", a[1]));
            }
            Queued::Alert { code: a[1].clone(), items: a[2..].to_vec() }
        }
        "Atomic" | "Sequence" => {
            arity(a.len() == 2, &format!("[\"{name}\", \"n\"] (the next n commands inside)"))?;
            let n: usize = match a[1].parse() {
                Ok(n) if n >= 1 => n,
                _ => return Err(format!("{p}/1: expected the number of commands inside (≥ 1), found {:?}", a[1])),
            };
            let atomic = name == "Atomic";
            let inner_atomic = if atomic { Some(p.as_str()) } else { inside_atomic };
            let mut commands = Vec::with_capacity(n);
            for k in 0..n {
                if rows.peek().is_none() {
                    return Err(format!("{p}: {name} of {n} commands, but only {k} follow"));
                }
                commands.push(parse_one(rows, inner_atomic)?);
            }
            Queued::Container { atomic, commands }
        }
        _ => {
            return Err(format!(
                "{p}/0: expected Add, Replace, Get, Delete, Copy, Exec, Alert, Atomic or Sequence, found {name:?}"
            ))
        }
    };
    if let (Some(atomic), "Get" | "Exec") = (inside_atomic, name) {
        return Err(format!("{p}: {name} is not allowed inside an Atomic ({atomic}; digest §4.3)"));
    }
    Ok(cmd)
}

fn item(name: &str, target: &str, source: Option<&str>, data: Option<&str>) -> ItemCmd {
    let name = match name {
        "Add" => "Add",
        "Replace" => "Replace",
        "Get" => "Get",
        "Delete" => "Delete",
        _ => "Copy",
    };
    ItemCmd {
        name,
        target: target.to_string(),
        source: source.map(str::to_string),
        data: data.map(str::to_string),
        format: None,
        r#type: None,
        size: None,
        more: false,
    }
}

/// Explicit Format/Type (empty strings: none; `chr` and `text/plain` are still written, as asked).
fn explicit_meta(c: &mut ItemCmd, format: &str, r#type: &str) {
    c.format = (!format.is_empty()).then(|| format.to_string()).or(c.format.take());
    c.r#type = (!r#type.is_empty()).then(|| r#type.to_string());
}

/// The `"size=N"` and `"more"` flags of a chunk.
fn chunk_flags(c: &mut ItemCmd, flags: &[String], p: &str, first: usize) -> Result<(), String> {
    for (k, f) in flags.iter().enumerate() {
        if f == "more" {
            c.more = true;
        } else if let Some(n) = f.strip_prefix("size=").filter(|n| n.parse::<u64>().is_ok()) {
            c.size = Some(n.to_string());
        } else {
            return Err(format!("{p}/{}: expected \"size=N\" or \"more\", found {f:?}", first + k));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            n.to_string()
        }
    }

    #[test]
    fn arrays_become_commands_with_meta_where_not_default() {
        let q = parse(Some(
            &json!({"c": [
                ["Add", "./A"], ["Add", "./A/B", "x"], ["Replace", "./A/B", "eA==", "b64", "application/octet-stream"],
                ["Atomic", "2"], ["Delete", "./A/B"], ["Copy", "./C", "./D"], ["Get", "./A"]
            ]})["c"],
        ))
        .unwrap();
        assert_eq!(q.len(), 5);
        let mut next = ids();
        let wire: Vec<Command> = q.iter().map(|c| c.to_wire(&mut next, true)).collect();
        let Command::Add(a) = &wire[0] else { panic!() };
        assert_eq!(a.items[0].meta.as_ref().unwrap().format.as_deref(), Some("node"));
        assert!(a.items[0].data.is_none());
        let Command::Replace(r) = &wire[2] else { panic!() };
        let m = r.items[0].meta.as_ref().unwrap();
        assert_eq!((m.format.as_deref(), m.r#type.as_deref()), (Some("b64"), Some("application/octet-stream")));
        let Command::Atomic(c) = &wire[3] else { panic!() };
        assert_eq!((c.cmd_id.as_str(), c.commands.len(), c.commands[1].cmd_id()), ("4", 2, Some("6")));
        let mut next = ids();
        let Command::Replace(r) = q[2].to_wire(&mut next, false) else { panic!() };
        assert_eq!(r.items[0].meta.as_ref().unwrap().format, None, "no-format-meta drops b64");
    }

    #[test]
    fn errors_carry_the_pointer() {
        let e = parse(Some(&json!([["Get", "./A"], ["Get"]]))).unwrap_err();
        assert!(e.starts_with("/commands/1:"), "{e}");
        let e = parse(Some(&json!([["Atomic", "2"], ["Get", "./A"], ["Add", "./B"]]))).unwrap_err();
        assert!(e.contains("not allowed inside an Atomic"), "{e}");
        let e = parse(Some(&json!([["Sequence", "3"], ["Get", "./A"]]))).unwrap_err();
        assert!(e.contains("only 1 follow"), "{e}");
        let e = parse(Some(&json!([["Replace", "./A", "x", "b64", "t", "sise=3"]]))).unwrap_err();
        assert!(e.starts_with("/commands/0/5"), "{e}");
        let e = parse(Some(&json!([["Alert", "11x1"]]))).unwrap_err();
        assert!(e.starts_with("/commands/0/1"), "{e}");
        let q = parse(Some(&json!([["Replace", "./A", "x", "b64", "", "size=9", "more"]]))).unwrap();
        assert!(q[0].is_open_chunk());
    }
}
