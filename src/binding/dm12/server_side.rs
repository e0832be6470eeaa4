//! The suite as DM 1.2 server of a client IUT: each answer echoes the client's SessionID, counts
//! its own MsgIDs, gives the client's SyncHdr and each of its commands a Status, then carries
//! the case's commands (digest §3.3, §3.4, §5.3).
use super::{encode, is_pseudo, media_type, Dm12};
use crate::peers::{HttpAnswer, Incoming};
use crate::wire::dm12::commands::{self, CmdIds};
use crate::wire::dm12::{Chal, Command, Encoding, Item, LocRef, Message, Meta, Status, SyncBody, SyncHdr};

/// The server side's record of the session.
#[derive(Debug, Default)]
pub struct State {
    /// The client's last message (and its encoding), or why it did not decode.
    pub inbound: Option<Result<(Message, Encoding), String>>,
    /// The suite's message the current inbound one answers.
    pub answered: Option<Message>,
    /// The suite's message built for the current inbound one, and the nonce it issues: both
    /// take effect when the client's next message arrives (the checks of the current one are
    /// judged after its answer is built).
    pending: Option<(Message, Option<Vec<u8>>)>,
    session_id: Option<String>,
    msg_id: u32,
    /// The nonce of the last Chal the suite sent (bytes), what the client's md5 Cred must use.
    pub nonce_issued: Option<Vec<u8>>,
    /// Every nonce the suite issued in this case, oldest first.
    pub nonces: Vec<Vec<u8>>,
}

impl State {
    /// A request arrived: what the suite built for the one before is what this one answers.
    pub fn observe(&mut self, _headers: &[(String, String)], body: &[u8]) {
        if let Some((m, nonce)) = self.pending.take() {
            self.answered = Some(m);
            if let Some(n) = nonce {
                self.nonce_issued = Some(n.clone());
                self.nonces.push(n);
            }
        }
        self.inbound = Some(super::decode_any(body).map_err(|e| e.to_string()));
    }

    /// The answer to the current inbound message carrying `cmds` (and the case's pseudo-commands).
    pub fn answer(&mut self, b: &Dm12, cmds: &[Vec<String>]) -> HttpAnswer {
        let (inbound, encoding) = match &self.inbound {
            Some(Ok((m, e))) => (m.clone(), *e),
            Some(Err(why)) => return undecodable(why),
            None => return undecodable("no SyncML DM 1.2 message from the client to answer"),
        };
        if inbound.hdr.msg_id == "1" || self.session_id.as_deref() != Some(inbound.hdr.session_id.as_str()) {
            self.session_id = Some(inbound.hdr.session_id.clone());
            self.msg_id = 0;
        }
        self.msg_id += 1;
        let mut directives = Directives::default();
        let mut real = Vec::new();
        for c in cmds {
            if is_pseudo(c) {
                directives.take(c);
            } else {
                real.push(c.clone());
            }
        }
        let nonce = directives.wants_nonce().then(fresh_nonce);
        match build(b, &inbound, encoding, self.msg_id, &real, &directives, nonce.as_deref()) {
            Ok(m) => {
                let answer = http_answer(&m, encoding);
                self.pending = Some((m, nonce));
                answer
            }
            Err(e) => HttpAnswer {
                status: 500,
                headers: vec![("Content-Type".into(), "text/plain".into())],
                body: format!("dmcts: case defect: {e}").into_bytes(),
            },
        }
    }
}

fn undecodable(why: &str) -> HttpAnswer {
    HttpAnswer {
        status: 400,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("dmcts: the request is no SyncML DM 1.2 message: {why}").into_bytes(),
    }
}

/// A fresh 16-byte nonce.
pub fn fresh_nonce() -> Vec<u8> {
    // Unpredictable enough for a test peer: a digest of time, process and a counter.
    use sha2::Digest;
    sha2::Sha256::digest(crate::wire::http_auth::fresh_nonce().as_bytes())[..16].to_vec()
}

/// What the case's pseudo-commands ask of the header.
#[derive(Debug, Default)]
pub struct Directives {
    /// SyncHdr Status code and the Chal type: `@challenge`.
    challenge: Option<(String, String)>,
    next_nonce: bool,
    /// HMAC in use: SyncHdr status 200 with a syncml:auth-MAC Chal and a fresh NextNonce.
    mac_nonce: bool,
    resp_uri: Option<String>,
    no_final: bool,
}

impl Directives {
    fn take(&mut self, c: &[String]) {
        match c[0].as_str() {
            "@challenge" => {
                let code = c.get(1).cloned().unwrap_or_else(|| "407".into());
                let t = c.get(2).cloned().unwrap_or_default();
                self.challenge = Some((code, t));
            }
            "@next-nonce" => self.next_nonce = true,
            "@mac-nonce" => self.mac_nonce = true,
            "@resp-uri" => self.resp_uri = c.get(1).cloned(),
            "@no-final" => self.no_final = true,
            _ => {}
        }
    }

    fn wants_nonce(&self) -> bool {
        self.challenge.is_some() || self.next_nonce || self.mac_nonce
    }
}

/// The pseudo-commands a case may write (validated by the catalog).
pub const PSEUDO: &[&str] = &["@challenge", "@next-nonce", "@mac-nonce", "@resp-uri", "@no-final"];

/// Statuses for the client's message: the SyncHdr first, then each command (Results get none
/// when all went well, digest §4.9; Status gets none).
fn statuses_for(inbound: &Message, header_code: &str, chal: Option<Chal>, ids: &mut CmdIds) -> Vec<Command> {
    let h = &inbound.hdr;
    let mut out = vec![Command::Status(Status {
        cmd_id: ids.next_id(),
        msg_ref: h.msg_id.clone(),
        cmd_ref: "0".into(),
        cmd: "SyncHdr".into(),
        target_refs: vec![h.target.loc_uri.clone()],
        source_refs: vec![h.source.loc_uri.clone()],
        chal,
        data: header_code.into(),
        ..Status::default()
    })];
    for c in &inbound.body.commands {
        let Some(cmd_ref) = c.cmd_id() else { continue };
        let (name, code) = match c {
            Command::Status(_) | Command::Results(_) => continue,
            Command::Other { name, .. } => (name.clone(), "406"),
            Command::Alert(a) => (
                "Alert".to_string(),
                match a.data.as_deref() {
                    Some("1200" | "1201" | "1222" | "1223" | "1224" | "1226") => "200",
                    _ => "406",
                },
            ),
            other => (other.name().to_string(), "200"),
        };
        out.push(Command::Status(Status {
            cmd_id: ids.next_id(),
            msg_ref: h.msg_id.clone(),
            cmd_ref: cmd_ref.to_string(),
            cmd: name,
            data: code.into(),
            ..Status::default()
        }));
    }
    out
}

fn build(
    b: &Dm12,
    inbound: &Message,
    encoding: Encoding,
    msg_id: u32,
    cmds: &[Vec<String>],
    d: &Directives,
    nonce: Option<&[u8]>,
) -> Result<Message, String> {
    let has_cred = inbound.hdr.cred.is_some();
    let chal_type = |t: &str| if t.is_empty() { b.profile.auth_type.clone() } else { t.to_string() };
    let (code, chal) = match &d.challenge {
        Some((code, t)) => (code.clone(), Some(chal(&chal_type(t), nonce))),
        None if d.next_nonce => ("212".to_string(), Some(chal(&b.profile.auth_type, nonce))),
        // With HMAC every SyncHdr status is 200 and carries the next nonce (digest §8.6).
        None if d.mac_nonce => ("200".to_string(), Some(chal(crate::wire::dm12::auth::AUTH_MAC, nonce))),
        None if has_cred => ("212".to_string(), None),
        None => ("200".to_string(), None),
    };
    let mut ids = CmdIds::starting_at(1);
    let mut body = statuses_for(inbound, &code, chal, &mut ids);
    let mut cmds = commands::from_arrays(cmds, &mut ids)?;
    if encoding == Encoding::Xml {
        // A case writes binary data as `bin`; over XML it MUST go as b64 (digest §10.6).
        commands::binary_as_b64(&mut cmds)?;
    }
    body.extend(cmds);
    Ok(Message {
        hdr: SyncHdr {
            ver_dtd: "1.2".into(),
            ver_proto: "DM/1.2".into(),
            session_id: inbound.hdr.session_id.clone(),
            msg_id: msg_id.to_string(),
            target: LocRef::uri(inbound.hdr.source.loc_uri.clone()),
            source: LocRef::uri(inbound.hdr.target.loc_uri.clone()),
            resp_uri: d.resp_uri.clone(),
            meta: Some(Meta { max_msg_size: Some(b.profile.max_msg_size.to_string()), ..Meta::default() }),
            ..SyncHdr::default()
        },
        body: SyncBody { commands: body, r#final: !d.no_final },
    })
}

/// A Chal of `auth_type` (md5 with a NextNonce).
fn chal(auth_type: &str, nonce: Option<&[u8]>) -> Chal {
    Chal {
        meta: Meta {
            r#type: Some(auth_type.to_string()),
            format: Some("b64".into()),
            next_nonce: nonce.map(crate::wire::dm12::auth::encode_nonce),
            ..Meta::default()
        },
    }
}

fn http_answer(m: &Message, e: Encoding) -> HttpAnswer {
    match encode(m, e) {
        Ok(body) => HttpAnswer { status: 200, headers: vec![("Content-Type".into(), media_type(e).into())], body },
        Err(why) => HttpAnswer {
            status: 500,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: format!("dmcts: cannot encode the answer: {why}").into_bytes(),
        },
    }
}

/// The answer to a message that arrives when its case has ended (or between cases): statuses
/// only, which ends the client's session (digest §5.5). Built from the request alone, so
/// stray traffic never changes a case's bookkeeping.
pub fn late_answer(b: &Dm12, inc: &Incoming) -> HttpAnswer {
    match super::decode_any(&inc.body) {
        Ok((m, e)) => {
            let msg_id = m.hdr.msg_id.parse::<u32>().unwrap_or(1);
            match build(b, &m, e, msg_id, &[], &Directives::default(), None) {
                Ok(out) => http_answer(&out, e),
                Err(e) => undecodable(&e),
            }
        }
        Err(e) => undecodable(&e.to_string()),
    }
}

/// The item a Status or Results refers to: its Target (or Source) LocURI.
pub fn item_uri(i: &Item) -> Option<&str> {
    i.target.as_ref().or(i.source.as_ref()).map(|l| l.loc_uri.as_str())
}
