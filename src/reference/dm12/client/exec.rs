//! Executing the commands of one server message against the tree (digest §4, §6.3, §5.7):
//! a Status per Item (digest §4 proposal) with MsgRef/CmdRef/Cmd/TargetRef, Results after the
//! Status of a Get, Atomic all-or-nothing, Sequence in order, the user-interaction alerts, and
//! large-object reception across messages.
use super::enablers;
use super::tree::{path_of, Tree};
use super::Faults;
use crate::wire::dm12::{Alert, Command, Container, Data, Item, ItemCommand, LocRef, Meta, Results, Status};

/// How the user answers the next 1101 (upper tester `ui.answer`; default yes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UiAnswer {
    #[default]
    Yes,
    No,
    Cancel,
    Timeout,
}

impl UiAnswer {
    pub fn parse(s: &str) -> Option<UiAnswer> {
        Some(match s {
            "yes" => UiAnswer::Yes,
            "no" => UiAnswer::No,
            "cancel" => UiAnswer::Cancel,
            "timeout" => UiAnswer::Timeout,
            _ => return None,
        })
    }

    /// The Status code of a 1101 answered so (digest §6.3).
    fn code(self) -> u16 {
        match self {
            UiAnswer::Yes => 200,
            UiAnswer::No => 304,
            UiAnswer::Cancel => 214,
            UiAnswer::Timeout => 408,
        }
    }
}

/// A large object being received (digest §5.7): the chunks so far of one Add/Replace Item.
#[derive(Debug, Clone)]
pub struct LargeObject {
    cmd: String,
    uri: String,
    format: Option<String>,
    r#type: Option<String>,
    /// Meta Size of the first chunk.
    size: Option<usize>,
    data: Vec<u8>,
}

/// Executes one server message's commands; the reply parts accumulate in `out` and `alerts`.
pub struct Executor<'a> {
    pub tree: &'a mut Tree,
    pub faults: &'a Faults,
    /// The server message's MsgID.
    pub msg_ref: String,
    /// The answer to the next 1101 (taken when used).
    pub ui: &'a mut Option<UiAnswer>,
    pub lo: &'a mut Option<LargeObject>,
    /// Statuses and Results in reply order (CmdIDs are given when the message is built).
    pub out: Vec<Command>,
    /// Alerts after the Statuses (1225 for an interrupted large object).
    pub alerts: Vec<Command>,
    /// Exec'd asynchronously: (node URI, Correlator).
    pub async_execs: Vec<(String, String)>,
    /// FUMO/SCOMO operations accepted, to run after the session.
    pub enabler_jobs: Vec<enablers::Job>,
    /// The server sent 1223: the session ends, nothing is answered (digest §5.8).
    pub aborted: bool,
    /// A UI alert was cancelled: the rest of the message is not executed (215, digest §6.3).
    stopped: bool,
    /// CmdID of the command executed before (the fault `status-no-cmdref`).
    prev_cmd_id: String,
}

fn success(code: u16) -> bool {
    (200..300).contains(&code) && !matches!(code, 214..=216)
}

fn status(msg_ref: &str, cmd: &str, cmd_ref: &str, item: Option<&Item>, code: u16) -> Status {
    Status {
        msg_ref: msg_ref.into(),
        cmd_ref: cmd_ref.into(),
        cmd: cmd.into(),
        target_refs: item.and_then(|i| i.target.as_ref()).map(|t| t.loc_uri.clone()).into_iter().collect(),
        source_refs: item.and_then(|i| i.source.as_ref()).map(|t| t.loc_uri.clone()).into_iter().collect(),
        data: code.to_string(),
        ..Status::default()
    }
}

/// Item Meta wins over command Meta (digest §3.6).
fn meta_field<'m>(
    item: &'m Item,
    cmd: Option<&'m Meta>,
    f: impl Fn(&'m Meta) -> Option<&'m String>,
) -> Option<&'m str> {
    item.meta.as_ref().and_then(&f).or_else(|| cmd.and_then(&f)).map(String::as_str)
}

fn data_of(item: &Item) -> Vec<u8> {
    item.data.as_ref().map(|d| d.bytes().to_vec()).unwrap_or_default()
}

fn as_data(bytes: &[u8]) -> Data {
    match std::str::from_utf8(bytes) {
        Ok(t) => Data::Text(t.to_string()),
        Err(_) => Data::Opaque(bytes.to_vec()),
    }
}

impl<'a> Executor<'a> {
    pub fn new(
        tree: &'a mut Tree,
        faults: &'a Faults,
        msg_ref: String,
        ui: &'a mut Option<UiAnswer>,
        lo: &'a mut Option<LargeObject>,
    ) -> Executor<'a> {
        Executor {
            tree,
            faults,
            msg_ref,
            ui,
            lo,
            out: vec![],
            alerts: vec![],
            async_execs: vec![],
            enabler_jobs: vec![],
            aborted: false,
            stopped: false,
            prev_cmd_id: "0".into(),
        }
    }

    /// Executes the commands of a message body, in order.
    pub fn run_all(&mut self, commands: &[Command]) {
        for c in commands {
            if self.aborted {
                return;
            }
            if self.stopped {
                self.skip(c, 215, 215);
            } else {
                self.run(c);
            }
        }
    }

    /// Answers every command with `code` without executing it (a server not authenticated,
    /// digest §8.5).
    pub fn refuse_all(&mut self, commands: &[Command], code: u16) {
        for c in commands {
            self.skip(c, code, code);
        }
    }

    fn push_status(&mut self, cmd: &str, cmd_ref: &str, item: Option<&Item>, code: u16) {
        self.out.push(Command::Status(status(&self.msg_ref, cmd, cmd_ref, item, code)));
    }

    /// Statuses for a command that is not executed: `code` for it (per Item), `inner` for the
    /// commands of a container.
    fn skip(&mut self, c: &Command, code: u16, inner: u16) {
        let name = c.name().to_string();
        let id = c.cmd_id().unwrap_or_default().to_string();
        match c {
            Command::Status(_) | Command::Results(_) => {}
            Command::Add(x) | Command::Copy(x) | Command::Delete(x) | Command::Get(x) | Command::Replace(x) => {
                self.item_statuses(&name, &id, &x.items, code)
            }
            Command::Exec(x) => self.item_statuses(&name, &id, &x.items, code),
            Command::Atomic(x) | Command::Sequence(x) => {
                self.push_status(&name, &id, None, code);
                for m in &x.commands {
                    self.skip(m, inner, inner);
                }
            }
            Command::Alert(_) | Command::Other { .. } => self.push_status(&name, &id, None, code),
        }
    }

    fn item_statuses(&mut self, name: &str, id: &str, items: &[Item], code: u16) {
        if items.is_empty() {
            self.push_status(name, id, None, code);
        }
        for i in items {
            self.push_status(name, id, Some(i), code);
        }
    }

    /// Executes one command; returns its overall code (the first failing Item's, else the
    /// first Item's).
    fn run(&mut self, c: &Command) -> u16 {
        if !matches!(c, Command::Add(_) | Command::Replace(_) | Command::Status(_) | Command::Results(_)) {
            self.interrupt_large_object();
        }
        let code = match c {
            Command::Add(x) => self.items(c.name(), x, |e, i, cmd| e.add_or_replace("Add", i, cmd)),
            Command::Replace(x) => self.items(c.name(), x, |e, i, cmd| e.add_or_replace("Replace", i, cmd)),
            Command::Delete(x) => self.items(c.name(), x, |e, i, _| e.delete(i)),
            Command::Copy(x) => self.items(c.name(), x, |e, i, _| e.copy(i)),
            Command::Get(x) => self.get(x),
            Command::Exec(x) => {
                let item = x.items.first();
                let code = self.exec(item, x.correlator.as_deref());
                self.push_status("Exec", &x.cmd_id, item, code);
                code
            }
            Command::Alert(x) => self.alert(x),
            Command::Atomic(x) => self.atomic(x),
            Command::Sequence(x) => self.sequence(x),
            Command::Status(_) | Command::Results(_) => 200,
            Command::Other { name, cmd_id } => {
                // A SyncML command DM does not use (digest §3.7): 406, the session goes on.
                let code = if self.faults.has("dm12-unknown-command-200") { 200 } else { 406 };
                self.push_status(name, cmd_id.as_deref().unwrap_or_default(), None, code);
                code
            }
        };
        if let Some(id) = c.cmd_id() {
            self.prev_cmd_id = id.to_string();
        }
        code
    }

    fn items(&mut self, name: &str, x: &ItemCommand, f: impl Fn(&mut Self, &Item, &ItemCommand) -> u16) -> u16 {
        if x.items.is_empty() {
            self.push_status(name, &x.cmd_id, None, 412);
            return 412;
        }
        let mut overall = None;
        for i in &x.items {
            let code = f(self, i, x);
            self.push_status(name, &x.cmd_id, Some(i), code);
            overall = match overall {
                Some(o) if !success(o) => Some(o),
                Some(o) if success(code) => Some(o),
                _ => Some(code),
            };
        }
        overall.unwrap_or(200)
    }

    fn target_path(item: &Item) -> Result<(String, String), u16> {
        let uri = item.target.as_ref().map(|t| t.loc_uri.clone()).ok_or(412u16)?;
        Ok((path_of(&uri)?, uri))
    }

    fn add_or_replace(&mut self, name: &str, item: &Item, cmd: &ItemCommand) -> u16 {
        let (path, uri) = match Self::target_path(item) {
            Ok(p) => p,
            Err(code) => return code,
        };
        let meta = cmd.meta.as_ref();
        let mut format = meta_field(item, meta, |m| m.format.as_ref()).map(str::to_string);
        let mut r#type = meta_field(item, meta, |m| m.r#type.as_ref()).map(str::to_string);
        let mut data = data_of(item);
        // A large object: chunks with MoreData, the last one without (digest §5.7).
        if let Some(lo) = self.lo.take() {
            if lo.cmd == name && lo.uri == uri {
                let mut lo = lo;
                lo.data.extend_from_slice(&data);
                if item.more_data {
                    *self.lo = Some(lo);
                    return if self.faults.has("dm12-lo-no-213") { 200 } else { 213 };
                }
                if lo.size.is_some_and(|s| s != lo.data.len()) {
                    return 424;
                }
                data = lo.data;
                format = format.or(lo.format);
                r#type = r#type.or(lo.r#type);
            } else {
                *self.lo = Some(lo);
                self.interrupt_large_object();
            }
        } else if item.more_data {
            let size = meta_field(item, meta, |m| m.size.as_ref()).and_then(|s| s.trim().parse().ok());
            *self.lo = Some(LargeObject { cmd: name.into(), uri, format, r#type, size, data });
            return if self.faults.has("dm12-lo-no-213") { 200 } else { 213 };
        }
        // Binary data that came as b64 (over XML it must) is stored decoded, as `bin` (digest
        // §11.4: "the receiver decodes it and stores Format bin"); text that is not base64 is
        // refused as malformed data.
        if format.as_deref() == Some("b64") {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(data.trim_ascii()) {
                Ok(bytes) => {
                    data = bytes;
                    format = Some("bin".into());
                }
                Err(_) => return 400,
            }
        }
        let interior = format.as_deref() == Some("node");
        let code = match name {
            "Add" => {
                let value = (!interior).then_some(data);
                if self.faults.has("dm12-add-existing-200") {
                    self.tree.put(&path, value, format.as_deref(), r#type.as_deref())
                } else {
                    self.tree.add(&path, value, format.as_deref(), r#type.as_deref())
                }
            }
            _ if interior => 405,
            _ => self.tree.replace(&path, data, format.as_deref(), r#type.as_deref()),
        };
        if success(code) {
            enablers::after_write(self.tree, &path, self.faults);
        }
        code
    }

    /// A new command before the last chunk: the object is dropped and Alert 1225 names it.
    fn interrupt_large_object(&mut self) {
        if let Some(lo) = self.lo.take() {
            self.alerts.push(Command::Alert(Alert {
                data: Some("1225".into()),
                items: vec![Item { target: Some(LocRef::uri(lo.uri)), ..Item::default() }],
                ..Alert::default()
            }));
        }
    }

    fn delete(&mut self, item: &Item) -> u16 {
        match Self::target_path(item) {
            Ok((path, _)) => self.tree.delete(&path, self.faults.has("dm12-delete-permanent-200")),
            Err(code) => code,
        }
    }

    fn copy(&mut self, item: &Item) -> u16 {
        let source = match item.source.as_ref().map(|s| path_of(&s.loc_uri)) {
            Some(Ok(p)) => p,
            Some(Err(code)) => return code,
            None => return 412,
        };
        match Self::target_path(item) {
            Ok((target, _)) => self.tree.copy(&target, &source),
            Err(code) => code,
        }
    }

    fn get(&mut self, x: &ItemCommand) -> u16 {
        // The fault: the Status of a Get names the command before it.
        let cmd_ref =
            if self.faults.has("dm12-status-no-cmdref") { self.prev_cmd_id.clone() } else { x.cmd_id.clone() };
        if x.items.is_empty() {
            self.push_status("Get", &cmd_ref, None, 412);
            return 412;
        }
        let mut overall = 200;
        for i in &x.items {
            let (code, result) = self.get_item(i);
            self.push_status("Get", &cmd_ref, Some(i), code);
            if let Some(item) = result.filter(|_| !self.faults.has("dm12-get-no-results")) {
                self.out.push(Command::Results(Results {
                    msg_ref: Some(self.msg_ref.clone()),
                    cmd_ref: x.cmd_id.clone(),
                    items: vec![item],
                    ..Results::default()
                }));
            }
            if success(overall) && !success(code) {
                overall = code;
            }
        }
        overall
    }

    fn get_item(&self, i: &Item) -> (u16, Option<Item>) {
        if let Some((node_uri, property)) =
            i.target.as_ref().and_then(|t| t.loc_uri.split_once("?prop=")).map(|(u, p)| (u.to_string(), p.to_string()))
        {
            return self.get_property(i, &node_uri, &property);
        }
        let (path, uri) = match Self::target_path(i) {
            Ok(p) => p,
            Err(code) => return (code, None),
        };
        let source = Some(LocRef::uri(uri));
        let Some(node) = self.tree.get(&path) else {
            return match self.faults.has("dm12-missing-node-200") {
                true => (200, Some(Item { source, ..Item::default() })),
                false => (404, None),
            };
        };
        let (format, data) = match &node.value {
            None => {
                let format = if self.faults.has("dm12-interior-get-wrong") { "chr" } else { "node" };
                (format.to_string(), Data::Text(self.tree.children(&path).join("/")))
            }
            Some(v) => (node.format.clone(), as_data(v)),
        };
        let meta = Meta { format: Some(format), r#type: node.r#type.clone(), ..Meta::default() };
        (200, Some(Item { source, meta: Some(meta), data: Some(data), ..Item::default() }))
    }

    /// Get of `<uri>?prop=<property>` (digest §11.4): Type (a leaf's MIME type, an MO root's
    /// MO identifier), Format, Name, Size (leaves) and ACL (empty: inherited); any other
    /// property 406. Results Source is the URI as addressed, Data the value, no Meta.
    fn get_property(&self, i: &Item, node_uri: &str, property: &str) -> (u16, Option<Item>) {
        let path = match path_of(node_uri) {
            Ok(p) => p,
            Err(code) => return (code, None),
        };
        let Some(node) = self.tree.get(&path) else { return (404, None) };
        let value = match property {
            "Type" => {
                let wrong = (path == enablers::FUMO && self.faults.has("fumo12-mo-type-wrong"))
                    || (path == enablers::SCOMO && self.faults.has("scomo12-mo-type-wrong"));
                match wrong {
                    true => "urn:oma:mo:oma-dm-vendor:1.0".to_string(),
                    false => node.r#type.clone().unwrap_or_default(),
                }
            }
            "Format" => node.format.clone(),
            "Name" => path.rsplit('/').next().unwrap_or_default().to_string(),
            "Size" => match &node.value {
                Some(v) => v.len().to_string(),
                None => return (406, None),
            },
            "ACL" => String::new(),
            _ => return (406, None),
        };
        let source = i.target.as_ref().map(|t| LocRef::uri(t.loc_uri.clone()));
        (200, Some(Item { source, data: Some(Data::Text(value)), ..Item::default() }))
    }

    fn exec(&mut self, item: Option<&Item>, correlator: Option<&str>) -> u16 {
        let Some(item) = item else { return 412 };
        let (path, uri) = match Self::target_path(item) {
            Ok(p) => p,
            Err(code) => return code,
        };
        match self.tree.get(&path) {
            None => 404,
            Some(n) if !n.executable => 405,
            Some(_) if enablers::exec(self.tree, &path, &uri, correlator).is_some() => {
                let job = enablers::exec(self.tree, &path, &uri, correlator).expect("just matched");
                let code = enablers::accepted_code(&job, self.faults);
                self.enabler_jobs.push(job);
                code
            }
            Some(_) => match correlator {
                // The result comes later, in a Generic Alert echoing the Correlator (§4.6).
                Some(c) => {
                    self.async_execs.push((uri, c.to_string()));
                    202
                }
                None => 200,
            },
        }
    }

    fn alert(&mut self, x: &Alert) -> u16 {
        let code_text = x.data.as_deref().unwrap_or_default().trim();
        let ui = matches!(code_text, "1100" | "1101" | "1102" | "1103" | "1104");
        let mut answer_item = None;
        let code = match code_text {
            // Every UI alert has two or more Items (options, text, …): else 412 (digest §6.3).
            _ if ui && x.items.len() < 2 => 412,
            "1100" => 200,
            "1101" => {
                let answer = self.ui.take().unwrap_or_default();
                if self.faults.has("dm12-ui-confirm-ignores-no") {
                    200
                } else {
                    answer.code()
                }
            }
            "1102" => {
                answer_item = Some("dmcts");
                200
            }
            "1103" | "1104" => {
                answer_item = Some("1");
                200
            }
            "1222" => 200,
            "1223" => {
                self.aborted = true;
                200
            }
            _ => 406,
        };
        if code == 214 {
            self.stopped = true;
        }
        let mut s = status(&self.msg_ref, "Alert", &x.cmd_id, None, code);
        if let Some(a) = answer_item {
            s.items = vec![Item { data: Some(a.into()), ..Item::default() }];
        }
        self.out.push(Command::Status(s));
        code
    }

    fn atomic(&mut self, x: &Container) -> u16 {
        let at = self.out.len();
        self.push_status("Atomic", &x.cmd_id, None, 200);
        let snapshot = self.tree.clone();
        let mut executed = vec![];
        let mut failed = false;
        for c in &x.commands {
            if failed || self.stopped {
                self.skip(c, 215, 215);
                continue;
            }
            let start = self.out.len();
            // Get, Exec and containers are not allowed inside Atomic (digest §4.3): 500.
            let code = match c {
                Command::Get(_) | Command::Exec(_) | Command::Atomic(_) | Command::Sequence(_) => {
                    self.skip(c, 500, 215);
                    500
                }
                _ => self.run(c),
            };
            if success(code) {
                executed.push(start..self.out.len());
            } else {
                failed = true;
            }
        }
        if !failed {
            return 200;
        }
        if !self.faults.has("dm12-atomic-no-rollback") {
            *self.tree = snapshot;
        }
        for r in executed {
            for c in &mut self.out[r] {
                if let Command::Status(s) = c {
                    s.data = "216".into();
                }
            }
        }
        if let Command::Status(s) = &mut self.out[at] {
            s.data = "507".into();
        }
        507
    }

    fn sequence(&mut self, x: &Container) -> u16 {
        self.push_status("Sequence", &x.cmd_id, None, 200);
        let mut order: Vec<usize> = (0..x.commands.len()).collect();
        if self.faults.has("dm12-sequence-reordered") {
            order.reverse();
        }
        let mut slots: Vec<Vec<Command>> = vec![vec![]; x.commands.len()];
        let mut declined = false;
        for i in order {
            let c = &x.commands[i];
            let saved = std::mem::take(&mut self.out);
            if declined || self.stopped || self.aborted {
                self.skip(c, 215, 215);
            } else {
                let code = self.run(c);
                // "No" or cancel to a 1101 skips the rest of the Sequence (digest §4.10, §6.3).
                declined = matches!(c, Command::Alert(_)) && matches!(code, 304 | 214);
                if declined {
                    enablers::declined(self.tree, self.faults);
                }
            }
            slots[i] = std::mem::replace(&mut self.out, saved);
        }
        self.out.extend(slots.into_iter().flatten());
        200
    }
}
