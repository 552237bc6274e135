//! starttls: the plaintext phase of one TCP connection in; the in-protocol TLS upgrade it was,
//! if any, out.
//!
//! Takes what the TLS stage kept of each direction before its first TLS record
//! ([`crate::proto::tls::Direction::plaintext`], at most [`crate::proto::tls::MAX_PLAINTEXT`] bytes, with the
//! frame each chunk started in) and recognises, by content and not by port, the upgrade
//! dialogues of SMTP and NNTP (`STARTTLS`, RFC 3207 / RFC 4642), IMAP (`tag STARTTLS`, RFC 9051
//! §6.2.1), POP3 (`STLS`, RFC 2595 §4), FTP (`AUTH TLS`, RFC 4217 §4), XMPP (`<starttls/>`, RFC
//! 6120 §5.4), LDAP (ExtendedRequest 1.3.6.1.4.1.1466.20037, RFC 4511 §4.14), PostgreSQL
//! (SSLRequest) and MySQL (SSL request packet after a greeting offering `CLIENT_SSL`). It says
//! which frame carried the client's request, which carried the server's answer, what a refusal
//! said, and whether TLS followed, so that "the server said yes and then spoke no TLS" can be a
//! finding. [`protocol_guess`] names the plaintext protocol even without an upgrade (an HTTP
//! request sent to a TLS port).
//!
//! Everything here is a pure function over borrowed bytes: no allocation beyond small lists
//! of line and message positions, no panics on any input (every read is `get` or a checked
//! split). It does not follow the conversation after TLS starts, does not judge whether the
//! upgrade was wise (opportunistic vs required), and does not look for STARTTLS command
//! injection beyond noticing TLS bytes glued to the command.

use crate::proto::tls::{looks_like_record_start, PlaintextChunk};

/// One direction's plaintext phase, as the TLS stage kept it.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// Bytes seen before the first TLS record of this direction.
    pub bytes: &'a [u8],
    /// Where each delivered chunk of `bytes` starts, with its frame, in stream order.
    pub chunks: &'a [PlaintextChunk],
    /// TLS records were seen in this direction (after the plaintext).
    pub saw_tls: bool,
}

/// An in-protocol upgrade to TLS, as seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Upgrade {
    /// "smtp", "nntp", "imap", "pop3", "ftp", "xmpp", "ldap", "postgresql" or "mysql".
    pub protocol: &'static str,
    /// Frame of the client's upgrade request, when the client side was seen.
    pub command_frame: Option<u64>,
    /// Frame of the server's positive answer (for MySQL, the greeting offering `CLIENT_SSL`:
    /// the server does not answer the SSL request, it starts TLS).
    pub accepted_frame: Option<u64>,
    /// The server's negative answer as it said it ("454 TLS not available", "N").
    pub refused: Option<String>,
    /// TLS records followed, in either direction (or were glued to the client's request).
    pub tls_followed: bool,
}

impl Upgrade {
    /// The server agreed to upgrade and no TLS followed: a finding.
    pub fn accepted_without_tls(&self) -> bool {
        self.accepted_frame.is_some() && !self.tls_followed
    }
}

/// Longest refusal text kept.
const MAX_REFUSAL: usize = 200;

/// What the plaintext phase of a connection was, if it is a known upgrade dialogue.
///
/// `client` and `server` are the two directions once roles are known (the SYN sender, or the
/// side that sent the ClientHello). Either may be empty (a one-sided capture): a request with
/// no answer gives `accepted_frame` and `refused` both `None`.
pub fn detect(client: Side<'_>, server: Side<'_>) -> Option<Upgrade> {
    let (c, s) = (&client, &server);
    smtp(c, s)
        .or_else(|| imap(c, s))
        .or_else(|| pop3(c, s))
        .or_else(|| ftp(c, s))
        .or_else(|| xmpp(c, s))
        .or_else(|| ldap(c, s))
        .or_else(|| postgresql(c, s))
        .or_else(|| mysql(c, s))
}

/// Names the plaintext protocol the two directions spoke, upgrade or not: "http", "ssh",
/// "rdp", or one of [`detect`]'s protocols. `None` when nothing is recognised or the bytes
/// fit more than one (a bare "220" greeting could be SMTP or FTP).
pub fn protocol_guess(client: &[u8], server: &[u8]) -> Option<&'static str> {
    let empty = |bytes| Side {
        bytes,
        chunks: &[],
        saw_tls: false,
    };
    if is_http_request(client)
        || starts_with_ci(server, b"HTTP/1.")
        || server.starts_with(b"HTTP/2")
    {
        return Some("http");
    }
    if client.starts_with(b"SSH-") || server.starts_with(b"SSH-") {
        return Some("ssh");
    }
    if let Some(u) = detect(empty(client), empty(server)) {
        return Some(u.protocol);
    }
    if is_x224_connection_request(client) {
        return Some("rdp");
    }
    if mysql_greeting(server).is_some() {
        return Some("mysql");
    }
    if pg_startup_or_request(client) {
        return Some("postgresql");
    }
    if ldap_messages(client)
        .first()
        .is_some_and(|m| (0x60..=0x78).contains(&m.op))
    {
        return Some("ldap");
    }
    if contains_ci(client, b"<stream:stream") || contains_ci(server, b"<stream:stream") {
        return Some("xmpp");
    }
    let first_server = lines(server).next().map(|(_, l)| l).unwrap_or_default();
    let first_client = lines(client).next().map(|(_, l)| l).unwrap_or_default();
    let client_word = first_client
        .split(|&b| b == b' ')
        .next()
        .unwrap_or_default();
    if starts_with_ci(first_server, b"* OK")
        || starts_with_ci(first_server, b"* PREAUTH")
        || starts_with_ci(first_server, b"* BYE")
    {
        return Some("imap");
    }
    if starts_with_ci(first_server, b"+OK") || starts_with_ci(first_server, b"-ERR") {
        return Some("pop3");
    }
    let code = reply_code(first_server);
    let is_one_of = |words: &[&[u8]]| words.iter().any(|w| client_word.eq_ignore_ascii_case(w));
    if is_one_of(&[b"EHLO", b"HELO", b"LHLO"]) {
        return Some("smtp");
    }
    if is_one_of(&[b"USER", b"FEAT", b"SYST", b"PASV", b"EPSV"]) && code != Some(200) {
        return Some("ftp");
    }
    match code {
        Some(220) if contains_ci(first_server, b"FTP") => Some("ftp"),
        Some(220) if contains_ci(first_server, b"SMTP") => Some("smtp"),
        Some(200 | 201)
            if contains_ci(first_server, b"NNTP") || contains_ci(first_server, b"news") =>
        {
            Some("nntp")
        }
        _ => None,
    }
}

impl Side<'_> {
    /// Frame of the chunk holding stream position `pos` (the last chunk starting at or before
    /// it). `None` when no chunk was recorded.
    fn frame_at(&self, pos: usize) -> Option<u64> {
        let i = self.chunks.partition_point(|c| c.offset <= pos);
        self.chunks.get(i.checked_sub(1)?).map(|c| c.frame)
    }

    /// Bytes that follow the request look like a TLS record although the TLS stage, which
    /// looks only at chunk starts, did not see one: the client sent its ClientHello in the same
    /// segment as the request.
    fn tls_glued_at(&self, end: usize) -> bool {
        self.bytes
            .get(end..)
            .is_some_and(|rest| rest.len() >= 5 && looks_like_record_start(rest))
    }
}

/// The server's answer as judged by a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Refused(String),
}

/// The client's upgrade request: where it starts and ends, and how many requests before it
/// expect a reply of the same kind (used to pair request and reply when frames are unknown).
#[derive(Debug, Clone, Copy)]
struct Request {
    pos: usize,
    end: usize,
    earlier: usize,
}

/// Builds the record for a request and the server's candidate replies.
///
/// The answer is the first reply that began in a later frame than the request and that
/// `judge` takes as an answer to it (a reply it does not recognise, such as a pipelined
/// `250` in SMTP, is skipped). When frames are unknown (no chunks recorded) replies are paired
/// by count: the `earlier + greeting`-th reply onwards.
fn build<R>(
    protocol: &'static str,
    c: &Side<'_>,
    s: &Side<'_>,
    req: Request,
    replies: &[(usize, R)],
    greeting: usize,
    judge: impl Fn(&R) -> Option<Verdict>,
) -> Upgrade {
    let command_frame = c.frame_at(req.pos);
    let candidates: Box<dyn Iterator<Item = &(usize, R)>> = match command_frame {
        Some(f) if !s.chunks.is_empty() => Box::new(
            replies
                .iter()
                .filter(move |(pos, _)| s.frame_at(*pos).is_some_and(|g| g > f)),
        ),
        _ => Box::new(replies.iter().skip(req.earlier + greeting)),
    };
    let answer = candidates
        .filter_map(|(pos, r)| judge(r).map(|v| (*pos, v)))
        .next();
    let (accepted_frame, refused) = match answer {
        Some((pos, Verdict::Accepted)) => (s.frame_at(pos), None),
        Some((_, Verdict::Refused(text))) => (None, Some(text)),
        None => (None, None),
    };
    Upgrade {
        protocol,
        command_frame,
        accepted_frame,
        refused,
        tls_followed: c.saw_tls || s.saw_tls || c.tls_glued_at(req.end),
    }
}

// ---- line-based protocols ----

/// Complete lines (ending in LF; a CR before it is dropped) with their start positions. A
/// last line cut by the capture or by the plaintext cap is not returned.
fn lines(b: &[u8]) -> impl Iterator<Item = (usize, &[u8])> + '_ {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let rest = b.get(pos..)?;
        let nl = rest.iter().position(|&c| c == b'\n')?;
        let line = rest.get(..nl)?;
        let start = pos;
        pos = pos.checked_add(nl + 1)?;
        Some((start, line.strip_suffix(b"\r").unwrap_or(line)))
    })
}

fn trim_end(mut l: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = l {
        l = rest;
    }
    l
}

fn starts_with_ci(b: &[u8], prefix: &[u8]) -> bool {
    b.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = hay.get(from..)?;
    if needle.is_empty() || rest.len() < needle.len() {
        return None;
    }
    rest.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    find_ci(hay, needle, 0).is_some()
}

/// A server's words as a bounded, printable string.
fn text(b: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REFUSAL)
        .collect();
    s.trim().to_string()
}

/// The first client line for which `is_request` holds, with the number of lines before it.
fn request_line(c: &[u8], is_request: impl Fn(&[u8]) -> bool) -> Option<Request> {
    lines(c)
        .enumerate()
        .find(|(_, (_, l))| is_request(trim_end(l)))
        .map(|(earlier, (pos, l))| Request {
            pos,
            // The line, its LF, and the CR if there was one.
            end: pos + l.len() + 1 + usize::from(c.get(pos + l.len()) == Some(&b'\r')),
            earlier,
        })
}

/// The three-digit code of an SMTP/FTP/NNTP reply line ("250-…", "220 …" or "220").
fn reply_code(l: &[u8]) -> Option<u16> {
    match l {
        [a, b, c, rest @ ..]
            if (b'1'..=b'5').contains(a)
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && matches!(rest.first(), None | Some(b' ' | b'-')) =>
        {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// A numbered reply: its code and first line.
#[derive(Debug)]
struct Numbered<'a> {
    code: u16,
    first: &'a [u8],
}

/// Complete replies (RFC 5321 §4.2.1, RFC 959 §4.2: "ddd-" lines continue, "ddd " ends),
/// each at the position of its first line. Lines that are not part of a reply (a capture that
/// starts mid-reply) are skipped.
fn numbered_replies(b: &[u8]) -> Vec<(usize, Numbered<'_>)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Numbered<'_>)> = None;
    for (pos, l) in lines(b) {
        let code = reply_code(l);
        match open.take() {
            Some((start, r)) => {
                // FTP lets continuation lines say anything; only "code SP" ends the reply.
                if code == Some(r.code) && l.get(3) != Some(&b'-') {
                    out.push((start, r));
                } else {
                    open = Some((start, r));
                }
            }
            None => {
                if let Some(code) = code {
                    let r = Numbered { code, first: l };
                    if l.get(3) == Some(&b'-') {
                        open = Some((pos, r));
                    } else {
                        out.push((pos, r));
                    }
                }
            }
        }
    }
    out
}

/// SMTP `STARTTLS` (RFC 3207 §4: 220 to go ahead, 454 or 501 to refuse) and NNTP `STARTTLS`
/// (RFC 4642 §2.2: 382 to go ahead, 580 or 502 to refuse), told apart by the greeting.
fn smtp(c: &Side<'_>, s: &Side<'_>) -> Option<Upgrade> {
    let req = request_line(c.bytes, |l| l.eq_ignore_ascii_case(b"STARTTLS"))?;
    let replies = numbered_replies(s.bytes);
    if !s.bytes.is_empty() && replies.is_empty() {
        // The server speaks something else (ManageSieve answers "OK").
        return None;
    }
    let greeting = replies
        .first()
        .filter(|(pos, r)| *pos == 0 && matches!(r.code, 220 | 200 | 201));
    let nntp =
        greeting.is_some_and(|(_, r)| r.code != 220) || replies.iter().any(|(_, r)| r.code == 382);
    let go = if nntp { 382 } else { 220 };
    Some(build(
        if nntp { "nntp" } else { "smtp" },
        c,
        s,
        req,
        &replies,
        usize::from(greeting.is_some()),
        |r| match r.code {
            code if code == go => Some(Verdict::Accepted),
            400.. => Some(Verdict::Refused(text(r.first))),
            _ => None,
        },
    ))
}

/// FTP `AUTH TLS` (RFC 4217 §4: 234 to go ahead; 334 from servers of the draft era, RFC 2228
/// §3) and the older `AUTH SSL`, `AUTH TLS-C`, `AUTH TLS-P`.
fn ftp(c: &Side<'_>, s: &Side<'_>) -> Option<Upgrade> {
    let req = request_line(c.bytes, |l| {
        let mut words = l.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let (Some(auth), Some(mech), None) = (words.next(), words.next(), words.next()) else {
            return false;
        };
        auth.eq_ignore_ascii_case(b"AUTH")
            && [&b"TLS"[..], b"SSL", b"TLS-C", b"TLS-P"]
                .iter()
                .any(|m| mech.eq_ignore_ascii_case(m))
    })?;
    let replies = numbered_replies(s.bytes);
    if !s.bytes.is_empty() && replies.is_empty() {
        return None;
    }
    let greeting = replies
        .first()
        .is_some_and(|(pos, r)| *pos == 0 && r.code == 220);
    Some(build(
        "ftp",
        c,
        s,
        req,
        &replies,
        usize::from(greeting),
        |r| match r.code {
            234 | 334 => Some(Verdict::Accepted),
            400.. => Some(Verdict::Refused(text(r.first))),
            _ => None,
        },
    ))
}

/// POP3 `STLS` (RFC 2595 §4: "+OK" to go ahead, "-ERR" to refuse).
fn pop3(c: &Side<'_>, s: &Side<'_>) -> Option<Upgrade> {
    let req = request_line(c.bytes, |l| l.eq_ignore_ascii_case(b"STLS"))?;
    let status: Vec<(usize, &[u8])> = lines(s.bytes)
        .filter(|(_, l)| starts_with_ci(l, b"+OK") || starts_with_ci(l, b"-ERR"))
        .collect();
    if !s.bytes.is_empty() && status.is_empty() {
        return None;
    }
    let greeting = status.first().is_some_and(|(pos, _)| *pos == 0);
    Some(build(
        "pop3",
        c,
        s,
        req,
        &status,
        usize::from(greeting),
        |l| {
            Some(if starts_with_ci(l, b"+OK") {
                Verdict::Accepted
            } else {
                Verdict::Refused(text(l))
            })
        },
    ))
}

/// An IMAP tag: ASTRING-CHARs except "+" (RFC 9051 §9), bounded.
fn is_imap_tag(t: &[u8]) -> bool {
    (1..=64).contains(&t.len())
        && t.iter().all(|&b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// IMAP `tag STARTTLS` (RFC 9051 §6.2.1: "tag OK" to go ahead, "tag BAD"/"tag NO" to
/// refuse), paired by tag.
fn imap(c: &Side<'_>, s: &Side<'_>) -> Option<Upgrade> {
    let mut req = request_line(c.bytes, |l| {
        imap_split(l)
            .is_some_and(|(tag, rest)| is_imap_tag(tag) && rest.eq_ignore_ascii_case(b"STARTTLS"))
    })?;
    let line = lines(c.bytes).find(|(pos, _)| *pos == req.pos)?.1;
    let (tag, _) = imap_split(line)?;
    // Tags need not be unique ("." for every command): pairing by order counts only earlier
    // commands with the same tag.
    req.earlier = lines(c.bytes)
        .take_while(|(pos, _)| *pos < req.pos)
        .filter(|(_, l)| imap_split(l).is_some_and(|(t, _)| t == tag))
        .count();
    let tagged: Vec<(usize, (bool, &[u8]))> = lines(s.bytes)
        .filter_map(|(pos, l)| {
            let (t, rest) = imap_split(l)?;
            let word = rest.split(|&b| b == b' ').next()?;
            let ok = word.eq_ignore_ascii_case(b"OK");
            let no = word.eq_ignore_ascii_case(b"NO") || word.eq_ignore_ascii_case(b"BAD");
            (t == tag && (ok || no)).then_some((pos, (ok, l)))
        })
        .collect();
    let untagged = lines(s.bytes).any(|(_, l)| l.starts_with(b"* "));
    if !s.bytes.is_empty() && tagged.is_empty() && !untagged {
        return None;
    }
    Some(build("imap", c, s, req, &tagged, 0, |&(ok, l)| {
        Some(if ok {
            Verdict::Accepted
        } else {
            Verdict::Refused(text(l))
        })
    }))
}

/// An IMAP line's tag and the rest after one space.
fn imap_split(l: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = l.iter().position(|&b| b == b' ')?;
    let (tag, rest) = l.split_at_checked(sp)?;
    Some((tag, rest.get(1..)?))
}

// ---- XMPP ----

const XMPP_TLS_NS: &[u8] = b"urn:ietf:params:xml:ns:xmpp-tls";

/// Start and end of the element `<name …>` at or after `from` whose name is exactly `name`
/// (followed by space, "/" or ">"), and its text up to the ">".
fn xml_element(b: &[u8], name: &[u8], mut from: usize) -> Option<(usize, usize)> {
    loop {
        let at = find_ci(b, name, from)?;
        let after = at + name.len();
        if matches!(
            b.get(after),
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>')
        ) {
            let close = b.get(after..)?.iter().position(|&c| c == b'>')?;
            return Some((at, after + close + 1));
        }
        from = after;
    }
}

/// XMPP `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` (RFC 6120 §5.4.2: `<proceed/>`
/// to go ahead, `<failure/>` in the same namespace to refuse).
fn xmpp(c: &Side<'_>, s: &Side<'_>) -> Option<Upgrade> {
    let mut from = 0;
    let req = loop {
        let (at, end) = xml_element(c.bytes, b"<starttls", from)?;
        if contains_ci(c.bytes.get(at..end)?, XMPP_TLS_NS) {
            break Request {
                pos: at,
                end,
                earlier: 0,
            };
        }
        from = end;
    };
    // The request must sit in an XMPP stream: after the client's stream header, at the start
    // of what was captured, or facing a server that spoke XMPP (not in an HTTP body).
    let before = c.bytes.get(..req.pos).unwrap_or_default();
    if !(contains_ci(before, b"<stream:stream")
        || before.iter().all(u8::is_ascii_whitespace)
        || contains_ci(s.bytes, b"<stream:"))
    {
        return None;
    }
    let mut answers: Vec<(usize, Option<&[u8]>)> = Vec::new();
    let mut from = 0;
    while let Some((at, end)) = xml_element(s.bytes, b"<proceed", from) {
        answers.push((at, None));
        from = end;
    }
    let mut from = 0;
    while let Some((at, end)) = xml_element(s.bytes, b"<failure", from) {
        let element = s.bytes.get(at..end).unwrap_or_default();
        // A SASL <failure/> is another namespace; only the TLS one refuses the upgrade.
        if contains_ci(element, XMPP_TLS_NS) {
            answers.push((at, Some(element)));
        }
        from = end;
    }
    answers.sort_by_key(|(at, _)| *at);
    Some(build("xmpp", c, s, req, &answers, 0, |a| {
        Some(match a {
            None => Verdict::Accepted,
            Some(element) => Verdict::Refused(text(element)),
        })
    }))
}

// ---- LDAP (BER) ----

/// The StartTLS extended operation (RFC 4511 §4.14.1).
const LDAP_STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
const LDAP_EXTENDED_REQUEST: u8 = 0x77;
const LDAP_EXTENDED_RESPONSE: u8 = 0x78;

/// One BER TLV with a one-byte tag and a definite length of at most 4 length bytes:
/// (tag, content, rest).
fn ber(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (lb, rest) = rest.split_at_checked(n)?;
        (
            lb.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x)),
            rest,
        )
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// One LDAPMessage (RFC 4511 §4.2): messageID and protocolOp.
#[derive(Debug)]
struct LdapMessage<'a> {
    pos: usize,
    end: usize,
    id: u32,
    op: u8,
    body: &'a [u8],
}

/// The whole LDAPMessages at the start of `b`, in order; stops at the first that does not
/// parse (LDAP cannot be resynchronised, so a capture starting mid-message gives none).
fn ldap_messages(b: &[u8]) -> Vec<LdapMessage<'_>> {
    let mut out = Vec::new();
    let mut rest = b;
    while let Some((0x30, content, next)) = ber(rest) {
        let pos = b.len() - rest.len();
        let Some((0x02, id, after)) = ber(content) else {
            break;
        };
        if id.is_empty() || id.len() > 4 {
            break;
        }
        let Some((op, body, _)) = ber(after) else {
            break;
        };
        out.push(LdapMessage {
            pos,
            end: b.len() - next.len(),
            id: id.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)),
            op,
            body,
        });
        rest = next;
    }
    out
}

fn ldap_result_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        12 => "unavailableCriticalExtension",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "unknown",
    }
}

/// LDAP StartTLS (RFC 4511 §4.14: an ExtendedResponse with resultCode success to go ahead,
/// any other resultCode to refuse), paired by messageID.
fn ldap(c: &Side<'_>, s: &Side<'_>) -> Option<Upgrade> {
    let msgs = ldap_messages(c.bytes);
    let (earlier, m) = msgs.iter().enumerate().find(|(_, m)| {
        m.op == LDAP_EXTENDED_REQUEST
            && matches!(ber(m.body), Some((0x80, name, _)) if name == LDAP_STARTTLS_OID)
    })?;
    let req = Request {
        pos: m.pos,
        end: m.end,
        earlier,
    };
    let responses: Vec<(usize, &[u8])> = ldap_messages(s.bytes)
        .into_iter()
        .filter(|r| r.op == LDAP_EXTENDED_RESPONSE && r.id == m.id)
        .map(|r| (r.pos, r.body))
        .collect();
    if !s.bytes.is_empty() && responses.is_empty() && ldap_messages(s.bytes).is_empty() {
        return None;
    }
    Some(build("ldap", c, s, req, &responses, 0, |body| {
        let (0x0a, code, rest) = ber(body)? else {
            return None;
        };
        if code.is_empty() || code.len() > 4 {
            return None;
        }
        let code = code.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x));
        if code == 0 {
            return Some(Verdict::Accepted);
        }
        // matchedDN, then diagnosticMessage.
        let diag = ber(rest)
            .and_then(|(_, _, rest)| ber(rest))
            .filter(|(tag, _, _)| *tag == 0x04)
            .map(|(_, d, _)| text(d))
            .filter(|d| !d.is_empty());
        let name = ldap_result_name(code);
        Some(Verdict::Refused(match diag {
            Some(d) => format!("{name} ({code}): {d}"),
            None => format!("{name} ({code})"),
        }))
    }))
}

// ---- PostgreSQL ----

/// SSLRequest: length 8, code 80877103 (PostgreSQL protocol §55.2.10).
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// GSSENCRequest: length 8, code 80877104; a client may try it before SSLRequest.
const PG_GSSENC_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];

/// A PostgreSQL client's first bytes: SSLRequest, GSSENCRequest, or a StartupMessage for
/// protocol 3.x.
fn pg_startup_or_request(c: &[u8]) -> bool {
    if c.starts_with(&PG_SSL_REQUEST) || c.starts_with(&PG_GSSENC_REQUEST) {
        return true;
    }
    match c {
        [a, b, cc, d, 0, 3, 0, _, ..] => {
            let len = u32::from_be_bytes([*a, *b, *cc, *d]);
            (9..=10_000).contains(&len)
        }
        _ => false,
    }
}

/// PostgreSQL SSLRequest: the server answers one byte, 'S' to go ahead or 'N' to refuse
/// (an 'E' ErrorResponse from servers too old to know the request).
fn postgresql(c: &Side<'_>, s: &Side<'_>) -> Option<Upgrade> {
    // A GSSENCRequest the server refused may come first; each gets one answer byte.
    let earlier = usize::from(c.bytes.starts_with(&PG_GSSENC_REQUEST));
    let pos = earlier * 8;
    if c.bytes.get(pos..pos + 8)? != PG_SSL_REQUEST {
        return None;
    }
    let req = Request {
        pos,
        end: pos + 8,
        earlier,
    };
    // Each request gets one answer byte, in order (an 'E' is a whole ErrorResponse); frames
    // are not needed to pair them.
    let (accepted_frame, refused) = match s.bytes.get(earlier) {
        Some(b'S') => (s.frame_at(earlier), None),
        Some(b'N') => (None, Some("N".to_string())),
        Some(b'E') => {
            let msg = s.bytes.get(earlier..).unwrap_or_default();
            (None, Some(format!("E {}", text(pg_error_message(msg)))))
        }
        Some(_) => return None,
        None => (None, None),
    };
    Some(Upgrade {
        protocol: "postgresql",
        command_frame: c.frame_at(req.pos),
        accepted_frame,
        refused,
        tls_followed: c.saw_tls || s.saw_tls || c.tls_glued_at(req.end),
    })
}

/// The 'M' (message) field of an ErrorResponse, or the raw bytes when there is none.
fn pg_error_message(msg: &[u8]) -> &[u8] {
    let fields = msg.get(5..).unwrap_or_default();
    fields
        .split(|&b| b == 0)
        .find_map(|f| f.strip_prefix(b"M"))
        .unwrap_or(fields)
}

// ---- MySQL ----

/// `CLIENT_SSL` capability flag.
const MYSQL_CLIENT_SSL: u32 = 0x0800;

/// A MySQL packet at the start of `b`: (sequence id, payload, rest).
fn mysql_packet(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let [l0, l1, l2, seq, rest @ ..] = b else {
        return None;
    };
    let len = usize::from(*l0) | usize::from(*l1) << 8 | usize::from(*l2) << 16;
    let (payload, rest) = rest.split_at_checked(len)?;
    Some((*seq, payload, rest))
}

/// A protocol-10 server greeting (HandshakeV10) at the start of `s`: its capability flags.
fn mysql_greeting(s: &[u8]) -> Option<u32> {
    let (0, payload, _) = mysql_packet(s)? else {
        return None;
    };
    let (&10, rest) = payload.split_first()? else {
        return None;
    };
    // server_version: printable, NUL-terminated.
    let nul = rest.iter().position(|&b| b == 0)?;
    if nul == 0
        || !rest
            .get(..nul)?
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ')
    {
        return None;
    }
    // thread id (4), auth-plugin-data part 1 (8), filler (1), capability flags low (2),
    // charset (1), status (2), capability flags high (2).
    let f = rest.get(nul + 1..)?;
    let low = u32::from(u16::from_le_bytes([*f.get(13)?, *f.get(14)?]));
    let high = match (f.get(18), f.get(19)) {
        (Some(a), Some(b)) => u32::from(u16::from_le_bytes([*a, *b])),
        _ => 0,
    };
    Some(low | high << 16)
}

/// MySQL: after a greeting offering `CLIENT_SSL`, the client's SSLRequest packet (sequence 1,
/// a 32-byte HandshakeResponse41 prefix with `CLIENT_SSL` set) is the upgrade; the server
/// answers with TLS, not with a packet.
fn mysql(c: &Side<'_>, s: &Side<'_>) -> Option<Upgrade> {
    let (1, payload, _) = mysql_packet(c.bytes)? else {
        return None;
    };
    let caps = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
    let filler = payload.get(9..)?;
    if payload.len() != 32 || caps & MYSQL_CLIENT_SSL == 0 || filler.iter().any(|&b| b != 0) {
        return None;
    }
    let greeting = mysql_greeting(s.bytes);
    if !s.bytes.is_empty() && greeting.is_none() {
        return None;
    }
    let req = Request {
        pos: 0,
        end: 4 + payload.len(),
        earlier: 0,
    };
    let (accepted_frame, refused) = match greeting {
        Some(caps) if caps & MYSQL_CLIENT_SSL != 0 => (s.frame_at(0), None),
        Some(_) => (
            None,
            Some("server greeting does not offer CLIENT_SSL".into()),
        ),
        None => (None, None),
    };
    Some(Upgrade {
        protocol: "mysql",
        command_frame: c.frame_at(req.pos),
        accepted_frame,
        refused,
        tls_followed: c.saw_tls || s.saw_tls || c.tls_glued_at(req.end),
    })
}

// ---- other protocols, for the guess ----

const HTTP_METHODS: [&[u8]; 9] = [
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"PATCH", b"TRACE",
];

/// "METHOD SP target SP HTTP/1.x" on the first line, or the HTTP/2 connection preface.
fn is_http_request(c: &[u8]) -> bool {
    if c.starts_with(b"PRI * HTTP/2.0\r\n") {
        return true;
    }
    let line_end = c
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(c.len());
    let line = c.get(..line_end).unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let (Some(method), Some(_target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return false;
    };
    HTTP_METHODS.contains(&method) && version.starts_with(b"HTTP/")
}

/// TPKT (RFC 1006) carrying an X.224 Connection Request: how RDP starts.
fn is_x224_connection_request(c: &[u8]) -> bool {
    matches!(c, [3, 0, _, _, li, 0xe0, ..] if *li >= 6)
}

#[cfg(test)]
mod tests;
