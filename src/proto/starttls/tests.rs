//! Unit tests of the STARTTLS detection: plaintext directions built from (frame, bytes) chunks
//! in, the [`Upgrade`] (or `None`) and [`protocol_guess`] checked. Each protocol's upgrade is
//! tried, most of them accepted, refused and unanswered, some without frames, plus the
//! look-alikes that must not count (pipelined replies, other LDAP operations, a full MySQL
//! handshake response, HTTP), TLS glued to the request, a one-sided capture, and garbage,
//! which must not panic.
//! The last tests run a few captures of the shared corpus through the real flow table: the
//! upgrade and its frames, checked against Wireshark's numbering, and the guess for a
//! ClientHello sent to a plain SMTP server.

use super::*;
use crate::capture::Timestamp;

/// One direction built from (frame, bytes) chunks, as the TLS stage would keep it.
struct Dir {
    bytes: Vec<u8>,
    chunks: Vec<PlaintextChunk>,
    saw_tls: bool,
}

impl Dir {
    fn new(parts: &[(u64, &[u8])], saw_tls: bool) -> Dir {
        let mut d = Dir {
            bytes: Vec::new(),
            chunks: Vec::new(),
            saw_tls,
        };
        for (frame, b) in parts {
            d.chunks.push(PlaintextChunk {
                frame: *frame,
                ts: Timestamp(0),
                offset: d.bytes.len(),
            });
            d.bytes.extend_from_slice(b);
        }
        d
    }

    fn side(&self) -> Side<'_> {
        Side {
            bytes: &self.bytes,
            chunks: &self.chunks,
            saw_tls: self.saw_tls,
        }
    }
}

fn run(c: &[(u64, &[u8])], s: &[(u64, &[u8])], tls: bool) -> Option<Upgrade> {
    let (c, s) = (Dir::new(c, tls), Dir::new(s, tls));
    detect(c.side(), s.side())
}

fn up(
    protocol: &'static str,
    command: u64,
    accepted: Option<u64>,
    refused: Option<&str>,
    tls: bool,
) -> Option<Upgrade> {
    Some(Upgrade {
        protocol,
        command_frame: Some(command),
        accepted_frame: accepted,
        refused: refused.map(str::to_string),
        tls_followed: tls,
    })
}

const SMTP_SERVER_HEAD: [(u64, &[u8]); 2] = [
    (1, b"220 mx.example ESMTP\r\n"),
    (3, b"250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n"),
];

#[test]
fn smtp_starttls_accepted_then_tls() {
    let c: &[(u64, &[u8])] = &[(2, b"EHLO client.example\r\n"), (4, b"STARTTLS\r\n")];
    let s = [
        SMTP_SERVER_HEAD.as_slice(),
        &[(5, b"220 2.0.0 Ready to start TLS\r\n")],
    ]
    .concat();
    assert_eq!(run(c, &s, true), up("smtp", 4, Some(5), None, true));
}

#[test]
fn smtp_starttls_refused_keeps_the_servers_words() {
    let c: &[(u64, &[u8])] = &[
        (2, b"ehlo client.example\r\n"),
        (4, b"starttls\r\n"),
        (6, b"QUIT\r\n"),
    ];
    let s = [
        SMTP_SERVER_HEAD.as_slice(),
        &[
            (5, b"454 4.7.0 TLS not available due to local problem\r\n"),
            (7, b"221 Bye\r\n"),
        ],
    ]
    .concat();
    assert_eq!(
        run(c, &s, false),
        up(
            "smtp",
            4,
            None,
            Some("454 4.7.0 TLS not available due to local problem"),
            false
        )
    );
}

#[test]
fn smtp_server_that_says_ready_and_sends_no_tls_is_accepted_without_tls() {
    let c: &[(u64, &[u8])] = &[(2, b"EHLO c\r\n"), (4, b"StartTLS\r\n")];
    let s = [SMTP_SERVER_HEAD.as_slice(), &[(5, b"220 Go ahead\r\n")]].concat();
    let u = run(c, &s, false);
    assert_eq!(u, up("smtp", 4, Some(5), None, false));
    assert!(u.is_some_and(|u| u.accepted_without_tls()));
}

#[test]
fn smtp_pipelined_reply_to_an_earlier_command_is_not_taken_as_the_answer() {
    let c: &[(u64, &[u8])] = &[(2, b"EHLO c\r\nNOOP\r\nSTARTTLS\r\n")];
    let s: &[(u64, &[u8])] = &[
        (1, b"220 mx ESMTP\r\n"),
        (3, b"250 mx\r\n"),
        (4, b"250 OK\r\n"),
        (5, b"220 Ready\r\n"),
    ];
    assert_eq!(run(c, s, true), up("smtp", 2, Some(5), None, true));
}

#[test]
fn smtp_without_frames_pairs_replies_by_order() {
    let c = b"EHLO c\r\nSTARTTLS\r\n";
    let s = b"220 mx ESMTP\r\n250 mx\r\n454 no TLS\r\n";
    let side = |bytes| Side {
        bytes,
        chunks: &[],
        saw_tls: false,
    };
    let u = detect(side(c), side(s)).expect("smtp");
    assert_eq!(u.refused.as_deref(), Some("454 no TLS"));
    assert_eq!(u.command_frame, None);
}

#[test]
fn nntp_starttls_is_told_from_smtp_by_the_greeting() {
    let c: &[(u64, &[u8])] = &[(2, b"STARTTLS\r\n")];
    let s: &[(u64, &[u8])] = &[
        (1, b"200 news.example NNTP ready\r\n"),
        (3, b"382 Continue\r\n"),
    ];
    assert_eq!(run(c, s, true), up("nntp", 2, Some(3), None, true));
    let s: &[(u64, &[u8])] = &[(1, b"200 news.example\r\n"), (3, b"580 Can not\r\n")];
    assert_eq!(
        run(c, s, false),
        up("nntp", 2, None, Some("580 Can not"), false)
    );
}

#[test]
fn imap_starttls_is_paired_by_tag() {
    let c: &[(u64, &[u8])] = &[(2, b". CAPABILITY\r\n"), (4, b". STARTTLS\r\n")];
    let s: &[(u64, &[u8])] = &[
        (1, b"* OK IMAP4rev1 ready\r\n"),
        (
            3,
            b"* CAPABILITY IMAP4rev1 STARTTLS\r\n. OK CAPABILITY completed\r\n",
        ),
        (5, b". OK Begin TLS negotiation now\r\n"),
    ];
    assert_eq!(run(c, s, true), up("imap", 4, Some(5), None, true));
    // Accepted and no TLS.
    assert_eq!(run(c, s, false), up("imap", 4, Some(5), None, false));
    let s: &[(u64, &[u8])] = &[
        (1, b"* OK ready\r\n"),
        (3, b". OK done\r\n"),
        (5, b". BAD STARTTLS not available\r\n"),
    ];
    assert_eq!(
        run(c, s, false),
        up("imap", 4, None, Some(". BAD STARTTLS not available"), false)
    );
}

#[test]
fn imap_without_frames_counts_only_same_tag_replies() {
    let c = b"a1 CAPABILITY\r\na2 starttls\r\n";
    let s = b"* OK ready\r\na1 OK done\r\na2 NO not now\r\n";
    let side = |bytes| Side {
        bytes,
        chunks: &[],
        saw_tls: false,
    };
    let u = detect(side(c), side(s)).expect("imap");
    assert_eq!(u.refused.as_deref(), Some("a2 NO not now"));
}

#[test]
fn pop3_stls_accepted_refused_and_silent() {
    let c: &[(u64, &[u8])] = &[(2, b"CAPA\r\n"), (4, b"STLS\r\n")];
    let s: &[(u64, &[u8])] = &[
        (1, b"+OK POP3 ready\r\n"),
        (3, b"+OK Capability list follows\r\nSTLS\r\nUSER\r\n.\r\n"),
        (5, b"+OK Begin TLS negotiation\r\n"),
    ];
    assert_eq!(run(c, s, true), up("pop3", 4, Some(5), None, true));
    assert_eq!(run(c, s, false), up("pop3", 4, Some(5), None, false));
    let s: &[(u64, &[u8])] = &[
        (1, b"+OK POP3 ready\r\n"),
        (3, b"+OK\r\nUSER\r\n.\r\n"),
        (5, b"-ERR TLS not supported\r\n"),
    ];
    assert_eq!(
        run(c, s, false),
        up("pop3", 4, None, Some("-ERR TLS not supported"), false)
    );
}

#[test]
fn ftp_auth_tls_accepted_refused_and_silent() {
    let c: &[(u64, &[u8])] = &[(2, b"FEAT\r\n"), (4, b"AUTH TLS\r\n")];
    let s: &[(u64, &[u8])] = &[
        (1, b"220 ProFTPD Server\r\n"),
        (
            3,
            b"211-Features:\r\n AUTH TLS\r\n 220 looks like a code\r\n211 End\r\n",
        ),
        (5, b"234 AUTH TLS successful\r\n"),
    ];
    assert_eq!(run(c, s, true), up("ftp", 4, Some(5), None, true));
    assert_eq!(run(c, s, false), up("ftp", 4, Some(5), None, false));
    let c: &[(u64, &[u8])] = &[(2, b"auth ssl\r\n")];
    let s: &[(u64, &[u8])] = &[(1, b"220 FTP\r\n"), (3, b"504 Unknown AUTH type\r\n")];
    assert_eq!(
        run(c, s, false),
        up("ftp", 2, None, Some("504 Unknown AUTH type"), false)
    );
}

const XMPP_CLIENT: [(u64, &[u8]); 2] = [
    (
        2,
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='ex' version='1.0'>",
    ),
    (6, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
];

#[test]
fn xmpp_starttls_proceed_failure_and_silent() {
    let s: &[(u64, &[u8])] = &[
        (3, b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='1' version='1.0'>"),
        (4, b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"),
        (7, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
    ];
    assert_eq!(
        run(&XMPP_CLIENT, s, true),
        up("xmpp", 6, Some(7), None, true)
    );
    assert_eq!(
        run(&XMPP_CLIENT, s, false),
        up("xmpp", 6, Some(7), None, false)
    );
    let s: &[(u64, &[u8])] = &[
        (
            3,
            b"<stream:stream xmlns='jabber:client'><stream:features/>",
        ),
        (5, b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"),
        (
            7,
            b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>",
        ),
    ];
    assert_eq!(
        run(&XMPP_CLIENT, s, false),
        up(
            "xmpp",
            6,
            None,
            Some("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
            false
        )
    );
}

/// LDAPMessage { id, ExtendedRequest { requestName } }.
fn ldap_request(id: u8, oid: &[u8]) -> Vec<u8> {
    let mut op = vec![0x80, oid.len() as u8];
    op.extend_from_slice(oid);
    let mut msg = vec![0x02, 1, id, LDAP_EXTENDED_REQUEST, op.len() as u8];
    msg.extend_from_slice(&op);
    let mut out = vec![0x30, msg.len() as u8];
    out.extend_from_slice(&msg);
    out
}

/// LDAPMessage { id, ExtendedResponse { resultCode, matchedDN "", diagnosticMessage } },
/// with a long-form outer length as Active Directory sends.
fn ldap_response(id: u8, code: u8, diag: &[u8]) -> Vec<u8> {
    let mut op = vec![0x0a, 1, code, 0x04, 0, 0x04, diag.len() as u8];
    op.extend_from_slice(diag);
    let mut msg = vec![0x02, 1, id, LDAP_EXTENDED_RESPONSE, op.len() as u8];
    msg.extend_from_slice(&op);
    let mut out = vec![0x30, 0x84, 0, 0, 0, msg.len() as u8];
    out.extend_from_slice(&msg);
    out
}

#[test]
fn ldap_starttls_accepted_refused_and_silent() {
    let req = ldap_request(1, LDAP_STARTTLS_OID);
    let c: &[(u64, &[u8])] = &[(2, &req)];
    let ok = ldap_response(1, 0, b"");
    assert_eq!(
        run(c, &[(3, &ok)], true),
        up("ldap", 2, Some(3), None, true)
    );
    assert_eq!(
        run(c, &[(3, &ok)], false),
        up("ldap", 2, Some(3), None, false)
    );
    let no = ldap_response(1, 2, b"TLS already started");
    assert_eq!(
        run(c, &[(3, &no)], false),
        up(
            "ldap",
            2,
            None,
            Some("protocolError (2): TLS already started"),
            false
        )
    );
    // Another message's response does not answer ours.
    let other = ldap_response(7, 0, b"");
    assert_eq!(
        run(c, &[(3, &other)], false),
        up("ldap", 2, None, None, false)
    );
}

#[test]
fn ldap_other_extended_operations_are_not_starttls() {
    let req = ldap_request(1, b"1.3.6.1.4.1.4203.1.11.3");
    assert_eq!(run(&[(2, &req)], &[], false), None);
}

#[test]
fn postgresql_ssl_request_accepted_refused_and_silent() {
    let c: &[(u64, &[u8])] = &[(4, &PG_SSL_REQUEST)];
    assert_eq!(
        run(c, &[(5, b"S")], true),
        up("postgresql", 4, Some(5), None, true)
    );
    assert_eq!(
        run(c, &[(5, b"S")], false),
        up("postgresql", 4, Some(5), None, false)
    );
    let startup = b"\0\0\0\x09\0\x03\0\0\0";
    let c_refused: &[(u64, &[u8])] = &[(4, &PG_SSL_REQUEST), (6, startup)];
    assert_eq!(
        run(c_refused, &[(5, b"N"), (7, b"R\0\0\0\x08\0\0\0\0")], false),
        up("postgresql", 4, None, Some("N"), false)
    );
}

#[test]
fn postgresql_gssenc_refusal_before_ssl_request_is_skipped() {
    let c: &[(u64, &[u8])] = &[(4, &PG_GSSENC_REQUEST), (6, &PG_SSL_REQUEST)];
    let s: &[(u64, &[u8])] = &[(5, b"N"), (7, b"S")];
    assert_eq!(run(c, s, true), up("postgresql", 6, Some(7), None, true));
}

fn mysql_greeting_bytes(caps_low: u16) -> Vec<u8> {
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.28\0");
    p.extend_from_slice(&[1, 0, 0, 0]); // thread id
    p.extend_from_slice(b"abcdefgh\0"); // auth data 1 + filler
    p.extend_from_slice(&caps_low.to_le_bytes());
    p.extend_from_slice(&[0xff, 2, 0, 0xff, 0xdf, 21]);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"0123456789ab\0mysql_native_password\0");
    let mut out = vec![p.len() as u8, 0, 0, 0];
    out.extend_from_slice(&p);
    out
}

fn mysql_ssl_request() -> Vec<u8> {
    let mut out = vec![32, 0, 0, 1, 0x85, 0xae, 0xff, 0x20, 0, 0, 0, 1, 0x21];
    out.extend_from_slice(&[0; 23]);
    out
}

#[test]
fn mysql_ssl_request_after_a_greeting_offering_client_ssl() {
    let g = mysql_greeting_bytes(0xffff);
    let r = mysql_ssl_request();
    assert_eq!(
        run(&[(5, &r)], &[(4, &g)], true),
        up("mysql", 5, Some(4), None, true)
    );
    assert_eq!(
        run(&[(5, &r)], &[(4, &g)], false),
        up("mysql", 5, Some(4), None, false)
    );
    let no_ssl = mysql_greeting_bytes(0xf7ff);
    assert_eq!(
        run(&[(5, &r)], &[(4, &no_ssl)], false),
        up(
            "mysql",
            5,
            None,
            Some("server greeting does not offer CLIENT_SSL"),
            false
        )
    );
    assert_eq!(protocol_guess(&[], &g), Some("mysql"));
}

#[test]
fn mysql_full_handshake_response_is_not_an_upgrade() {
    let g = mysql_greeting_bytes(0xffff);
    let mut resp = vec![0x40, 0, 0, 1, 0x05, 0xa6, 0x0f, 0, 0, 0, 0, 1, 0x21];
    resp.extend_from_slice(&[0; 23]);
    resp.extend_from_slice(b"root\0\x14aaaaaaaaaaaaaaaaaaaa\0\0\0\0\0\0\0\0");
    assert_eq!(run(&[(5, &resp)], &[(4, &g)], false), None);
}

#[test]
fn tls_glued_to_the_request_counts_as_tls_following() {
    let c: &[(u64, &[u8])] = &[
        (2, b"EHLO c\r\n"),
        (4, b"STARTTLS\r\n\x16\x03\x01\x00\x30\x01\x00\x00\x2c"),
    ];
    let s: &[(u64, &[u8])] = &[(1, b"220 mx\r\n"), (3, b"250 mx\r\n"), (5, b"220 go\r\n")];
    assert_eq!(run(c, s, false), up("smtp", 4, Some(5), None, true));
}

#[test]
fn one_sided_capture_gives_the_request_and_no_answer() {
    assert_eq!(
        run(&[(2, b"a STARTTLS\r\n")], &[], true),
        up("imap", 2, None, None, true)
    );
}

#[test]
fn http_and_random_text_are_not_upgrades() {
    let http: &[(u64, &[u8])] = &[(
        1,
        b"POST /starttls HTTP/1.1\r\nHost: x\r\nContent-Length: 52\r\n\r\n<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    )];
    let reply: &[(u64, &[u8])] = &[(
        2,
        b"HTTP/1.1 200 OK\r\n\r\nSTARTTLS\r\nSTLS\r\nAUTH TLS\r\n",
    )];
    assert_eq!(run(http, reply, false), None);
    let chatter: &[(u64, &[u8])] = &[(
        1,
        b"please STARTTLS now\r\nstarttls is nice\r\nAUTH TLS please\r\n",
    )];
    assert_eq!(run(chatter, &[(2, b"sure\r\n")], false), None);
    // A bare STARTTLS line to a server that answers in another protocol's words.
    assert_eq!(
        run(&[(1, b"STARTTLS\r\n")], &[(2, b"OK Begin TLS\r\n")], false),
        None
    );
}

#[test]
fn protocol_guess_names_plaintext_protocols() {
    assert_eq!(
        protocol_guess(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b""),
        Some("http")
    );
    assert_eq!(
        protocol_guess(b"\x16\x03\x01", b"HTTP/1.1 400 Bad Request\r\n"),
        Some("http")
    );
    assert_eq!(
        protocol_guess(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b""),
        Some("http")
    );
    assert_eq!(protocol_guess(b"SSH-2.0-OpenSSH_9.6\r\n", b""), Some("ssh"));
    assert_eq!(
        protocol_guess(b"", b"220 mx.example ESMTP Postfix\r\n"),
        Some("smtp")
    );
    assert_eq!(protocol_guess(b"EHLO a\r\n", b""), Some("smtp"));
    assert_eq!(
        protocol_guess(b"", b"220 ProFTPD 1.3 Server\r\n"),
        Some("ftp")
    );
    assert_eq!(
        protocol_guess(b"USER anonymous\r\n", b"220 welcome\r\n"),
        Some("ftp")
    );
    assert_eq!(protocol_guess(b"", b"220 welcome\r\n"), None);
    assert_eq!(
        protocol_guess(b"", b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
        Some("imap")
    );
    assert_eq!(protocol_guess(b"", b"+OK POP3 ready\r\n"), Some("pop3"));
    assert_eq!(
        protocol_guess(b"", b"200 news.example NNTP ready\r\n"),
        Some("nntp")
    );
    assert_eq!(
        protocol_guess(b"<?xml version='1.0'?><stream:stream to='a'>", b""),
        Some("xmpp")
    );
    assert_eq!(
        protocol_guess(b"\0\0\0\x09\0\x03\0\0\0", b""),
        Some("postgresql")
    );
    assert_eq!(protocol_guess(&PG_SSL_REQUEST, b"S"), Some("postgresql"));
    assert_eq!(
        protocol_guess(&ldap_request(1, b"1.2.3"), b""),
        Some("ldap")
    );
    assert_eq!(
        protocol_guess(b"\x03\0\0\x13\x0e\xe0\0\0\0\0\0\x01\0\x08\0\x03\0\0\0", b""),
        Some("rdp")
    );
    assert_eq!(protocol_guess(b"hello there\r\n", b"who are you\r\n"), None);
    assert_eq!(protocol_guess(b"GET", b""), None);
}

#[test]
fn truncated_and_garbage_inputs_never_panic() {
    let samples: Vec<Vec<u8>> = vec![
        [SMTP_SERVER_HEAD[0].1, SMTP_SERVER_HEAD[1].1].concat(),
        b"a1 STARTTLS\r\n".to_vec(),
        XMPP_CLIENT[1].1.to_vec(),
        ldap_request(1, LDAP_STARTTLS_OID),
        ldap_response(1, 52, b"busy"),
        PG_SSL_REQUEST.to_vec(),
        mysql_greeting_bytes(0xffff),
        mysql_ssl_request(),
        b"\x30\x84\xff\xff\xff\xff\x02\x01".to_vec(),
        b"\x30\x85\0\0\0\0\x01".to_vec(),
        b"\xff\xff\xff\x00\x0a".to_vec(),
        b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'".to_vec(),
        b"<proceed".to_vec(),
        b"999-\r\n999\r\n".to_vec(),
    ];
    // Chunks whose offsets run past the bytes must not trip the frame lookup either.
    let odd_chunks = [
        PlaintextChunk {
            frame: 9,
            ts: Timestamp(0),
            offset: 0,
        },
        PlaintextChunk {
            frame: 3,
            ts: Timestamp(0),
            offset: usize::MAX,
        },
    ];
    for a in &samples {
        for b in &samples {
            for cut_a in 0..=a.len() {
                let ca = &a[..cut_a];
                let side = |bytes, chunks| Side {
                    bytes,
                    chunks,
                    saw_tls: false,
                };
                let _ = detect(side(ca, &[]), side(b, &odd_chunks));
                let _ = detect(side(b, &odd_chunks), side(ca, &[]));
                let _ = protocol_guess(ca, b);
                let _ = protocol_guess(b, ca);
            }
        }
    }
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..2000 {
        let bytes: Vec<u8> = (0..64)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let side = Side {
            bytes: &bytes,
            chunks: &odd_chunks,
            saw_tls: true,
        };
        assert_eq!(detect(side, side), None);
        let _ = protocol_guess(&bytes, &bytes);
    }
}

/// Drives the real pipeline over one capture (as `lib.rs` `work` does) and returns its
/// flows with each one's (client, server) direction indices.
fn corpus_flows(
    file: &str,
) -> Vec<(
    crate::flow::Flow<crate::proto::conversation::Conversation>,
    usize,
    usize,
)> {
    use crate::flow::{Flow, FlowTable};
    use crate::proto::conversation::Conversation;
    let path = format!("{}/../shared/corpus/{file}", env!("CARGO_MANIFEST_DIR"));
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut table: FlowTable<Conversation> = FlowTable::new(Default::default());
    let mut flows: Vec<Flow<Conversation>> = Vec::new();
    crate::capture::read_bytes(file, &data, &mut |frame| {
        if let Ok(pkt) = crate::net::decode(frame.link_type, frame.data) {
            table.packet(&pkt, frame.number, frame.ts);
            table.drain_finished(&mut |f| flows.push(*f));
        }
    })
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    table.finish_all(&mut |f| flows.push(*f));
    flows.sort_by_key(|f| f.first_frame);
    flows
        .into_iter()
        .map(|f| {
            let client = f.client_side().unwrap_or(0);
            (f, client, 1 - client)
        })
        .collect()
}

fn side_of(d: &crate::proto::tls::Direction) -> Side<'_> {
    Side {
        bytes: &d.plaintext,
        chunks: &d.plaintext_chunks,
        saw_tls: d.saw_tls,
    }
}

/// The upgrade of the first flow in a capture that has one.
fn corpus_upgrade(file: &str) -> Option<Upgrade> {
    corpus_flows(file)
        .iter()
        .find_map(|(f, c, s)| detect(side_of(&f.app.dirs[*c]), side_of(&f.app.dirs[*s])))
}

/// Frames are Wireshark's numbers, checked with `tshark -qz follow,tcp,ascii,0` and
/// `-Y tls.handshake.type==1` (the ClientHello follows the accepted frame). Every capture
/// here starts at the SYN and holds both directions.
#[test]
fn corpus_starttls_captures_are_recognised_with_their_frames() {
    let cases: &[(&str, &str, u64, u64)] = &[
        ("suricata-verify/smtp-startssl__input.pcap", "smtp", 10, 12),
        (
            "suricata-verify/pgsql__pgsql-upgrade-tls__input.pcap",
            "postgresql",
            4,
            6,
        ),
        ("zeek/ldap__ldap-starttls.pcap", "ldap", 4, 6),
        ("zeek/mysql__encrypted.pcap", "mysql", 6, 4),
        ("zeek/mysql__tls-13-amazon-rds.pcap", "mysql", 6, 4),
        (
            "zeek/postgresql__psql-aws-ssl-require.pcap",
            "postgresql",
            4,
            6,
        ),
        ("zeek/tls__imap-starttls.pcap", "imap", 10, 11),
        ("zeek/tls__pop3-starttls.pcap", "pop3", 7, 9),
        ("zeek/tls__smtp-starttls.pcap", "smtp", 10, 11),
        ("zeek/tls__xmpp-starttls.pcap", "xmpp", 10, 11),
    ];
    for &(file, protocol, command, accepted) in cases {
        let u = corpus_upgrade(file).unwrap_or_else(|| panic!("{file}: no upgrade found"));
        assert_eq!(u.protocol, protocol, "{file}");
        assert!(u.tls_followed, "{file}: {u:?}");
        assert_eq!(u.refused, None, "{file}");
        assert_eq!(
            (u.command_frame, u.accepted_frame),
            (Some(command), Some(accepted)),
            "{file}"
        );
    }
}

/// A ClientHello sent to port 465 of a server that greets in SMTP: no upgrade, but the
/// guess names what the server spoke (the not-TLS verdict).
#[test]
fn corpus_tls_to_a_plain_smtp_server_is_guessed_as_smtp() {
    let flows = corpus_flows("suricata-verify/smtp-tls-protodetect__input.pcap");
    let (f, c, s) = flows.first().expect("one flow");
    let (c, s) = (&f.app.dirs[*c], &f.app.dirs[*s]);
    assert!(c.saw_tls && !s.saw_tls);
    assert_eq!(detect(side_of(c), side_of(s)), None);
    assert_eq!(protocol_guess(&c.plaintext, &s.plaintext), Some("smtp"));
}
