//! Unit tests of the verdict rules: facts built directly, no pcap; each rule firing and not.
use super::*;
use crate::judge::forensics::tests::{ev, handshake, tcp};
use crate::judge::path::tests::icmp_at;

fn hello() -> ClientHello {
    ClientHello {
        legacy_version: 0x0303,
        supported_versions: vec![0x0a0a, 0x0304, 0x0303],
        cipher_suites: vec![0x1301, 0x1302, 0xc02f],
        supported_groups: vec![29, 23],
        ..ClientHello::default()
    }
}

fn server_hello(version: u16) -> ServerHello {
    ServerHello {
        version,
        ..ServerHello::default()
    }
}

fn alert_from(from: Side, frame: u64, description: u8) -> AlertOut {
    AlertOut {
        frame,
        from,
        level: Some(2),
        description: Some(description),
        description_name: alert_name(description),
        encrypted: false,
        decrypted: false,
    }
}

/// A TCP connection, seen at the client, whose ClientHello (frame 4) got nothing yet.
fn facts<'a>(timeline: &'a [TcpEvent], ch: &'a ClientHello) -> Facts<'a> {
    Facts {
        udp: false,
        client_hello: Some((4, Timestamp(42_000_000), ch)),
        server_hello: None,
        handshake_over: None,
        tls13_rejection: None,
        fatal: None,
        not_tls: None,
        server_not_tls: false,
        chain_cause: None,
        certificate_hidden: false,
        tcp: tcp(timeline, &[]),
        server_first_data: None,
        server_payload_bytes: 0,
        mid_stream: false,
        lacking: false,
        icmp: &[],
        dh: None,
    }
}

fn id(d: &Decision) -> VerdictId {
    d.0.id
}

#[test]
fn hellos_and_encryption_both_ways_are_complete() {
    let (t, ch, sh) = (handshake(), hello(), server_hello(0x0304));
    let mut f = facts(&t, &ch);
    f.server_hello = Some((6, &sh));
    assert_eq!(complete(&f), None, "no encrypted data yet");
    f.handshake_over = Some(9);
    let (v, _) = decide(&f);
    assert_eq!((v.id, v.frames), (VerdictId::Complete, vec![4, 6, 9]));
    f.client_hello = None;
    assert_eq!(complete(&f), None, "no ClientHello");
}

#[test]
fn a_forged_rst_after_the_client_hello_is_a_cut_by_a_middlebox() {
    let mut t = handshake();
    let mut rst = ev(5, 1, 45, flags::RST | flags::ACK);
    rst.ip.ttl = 240;
    t.push(rst);
    let ch = hello();
    let resets = [rst];
    let mut f = facts(&t, &ch);
    f.tcp.resets = &resets;
    let (v, finding) = decide(&f);
    assert_eq!(
        (v.id, v.by),
        (VerdictId::RstAfterClientHello, Some(Culprit::Middlebox))
    );
    // The ClientHello, the cut, and the server's SYN-ACK it was compared with.
    assert_eq!(v.frames, vec![2, 4, 5]);
    let finding = finding.expect("the cut's finding");
    assert_eq!(
        (finding.id, finding.severity, finding.frames),
        (FindingId::RstAfterClientHello, Severity::High, vec![5])
    );
    assert!(finding
        .evidence
        .iter()
        .any(|e| e.starts_with("ttl-mismatch")));
}

#[test]
fn a_rst_after_encryption_started_both_ways_is_no_cut() {
    let mut t = handshake();
    let rst = ev(9, 1, 200, flags::RST);
    t.push(rst);
    let ch = hello();
    let resets = [rst];
    let mut f = facts(&t, &ch);
    f.tcp.resets = &resets;
    f.handshake_over = Some(8);
    assert_eq!(cut(&f), None);
}

#[test]
fn a_server_fin_counts_only_before_the_server_spoke() {
    let mut t = handshake();
    let fin = ev(6, 1, 90, flags::FIN | flags::ACK);
    t.push(fin);
    let ch = hello();
    let fins = [fin];
    let mut f = facts(&t, &ch);
    f.tcp.fins = &fins;
    assert_eq!(
        cut(&f).map(|d| d.0.id),
        Some(VerdictId::FinAfterClientHello)
    );
    f.server_first_data = Some(5);
    assert_eq!(
        cut(&f),
        None,
        "the server had answered: its FIN closes, it does not cut"
    );
}

#[test]
fn an_alert_before_the_cut_is_judged_instead_of_the_cut() {
    let mut t = handshake();
    let rst = ev(6, 1, 90, flags::RST);
    t.push(rst);
    let ch = hello();
    let resets = [rst];
    let a = alert_from(Side::Server, 5, 40);
    let mut f = facts(&t, &ch);
    f.tcp.resets = &resets;
    f.fatal = Some(&a);
    assert_eq!(cut(&f), None);
    assert_eq!(id(&decide(&f)), VerdictId::NoSharedCipher);
}

#[test]
fn the_client_alert_names_the_chains_most_telling_problem() {
    let t = handshake();
    let ch = hello();
    let a = alert_from(Side::Client, 7, 48);
    let cause = Finding::new(FindingId::IncompleteChain, "server chain: gap").advice("fix");
    let mut f = facts(&t, &ch);
    f.fatal = Some(&a);
    assert_eq!(chain_rejected(&f), None, "no cause in the chain");
    f.chain_cause = Some(&cause);
    let (v, extra) = decide(&f);
    assert_eq!(v.id, VerdictId::Rejected(FindingId::IncompleteChain));
    assert!(v.summary.contains("unknown_ca alert"), "{}", v.summary);
    assert!(extra.is_none(), "the chain finding is already there");
    let server_alert = alert_from(Side::Server, 7, 48);
    f.fatal = Some(&server_alert);
    assert_eq!(
        chain_rejected(&f),
        None,
        "only the client rejects a server chain"
    );
}

#[test]
fn protocol_version_alerts_are_version_mismatches_from_either_side() {
    let t = handshake();
    let ch = hello();
    let sh = server_hello(0x0301);
    let mut f = facts(&t, &ch);
    let server = alert_from(Side::Server, 5, 70);
    f.fatal = Some(&server);
    let (v, finding) = decide(&f);
    assert_eq!(v.id, VerdictId::VersionMismatch);
    assert!(v.summary.contains("TLS 1.3, TLS 1.2"), "{}", v.summary);
    assert_eq!(finding.map(|x| x.frames), Some(vec![5]));
    let client = alert_from(Side::Client, 6, 70);
    f.fatal = Some(&client);
    f.server_hello = Some((6, &sh));
    assert!(decide(&f).0.summary.contains("TLS 1.0"));
    // A server's protocol_version after its own ServerHello is no mismatch of hellos.
    f.fatal = Some(&server);
    assert_eq!(mismatch(&f), None);
}

#[test]
fn a_certificate_alert_under_tls13_is_a_likely_rejection_only_when_the_chain_was_hidden() {
    let t = handshake();
    let ch = hello();
    let a = alert_from(Side::Client, 8, 42);
    let mut f = facts(&t, &ch);
    f.fatal = Some(&a);
    assert_eq!(id(&decide(&f)), VerdictId::Alert);
    f.certificate_hidden = true;
    let (v, finding) = decide(&f);
    assert_eq!(v.id, VerdictId::ClientRejectedLikely);
    assert_eq!(finding.and_then(|x| x.side), Some(Side::Server));
    let other = alert_from(Side::Client, 8, 80);
    f.fatal = Some(&other);
    assert_eq!(
        id(&decide(&f)),
        VerdictId::Alert,
        "internal_error is no certificate alert"
    );
}

#[test]
fn an_alert_sized_last_record_under_tls13_wins_over_everything() {
    let t = handshake();
    let ch = hello();
    let a = alert_from(Side::Server, 5, 40);
    let mut f = facts(&t, &ch);
    f.fatal = Some(&a);
    f.tls13_rejection = Some(9);
    assert_eq!(id(&decide(&f)), VerdictId::ClientRejectedLikely);
}

#[test]
fn udp_flows_are_judged_by_hellos_and_alerts_alone() {
    let t = handshake();
    let ch = hello();
    let sh = server_hello(0x0304);
    let mut f = facts(&t, &ch);
    f.udp = true;
    assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
    f.server_hello = Some((6, &sh));
    assert_eq!(id(&decide(&f)), VerdictId::Complete);
    let a = alert_from(Side::Client, 5, 48);
    f.fatal = Some(&a);
    assert_eq!(id(&decide(&f)), VerdictId::Alert);
    f.fatal = None;
    f.client_hello = None;
    assert_eq!(id(&decide(&f)), VerdictId::Incomplete);
}

#[test]
fn a_server_that_answers_in_plaintext_is_not_tls_even_when_a_rst_follows() {
    let mut t = handshake();
    let rst = ev(6, 1, 90, flags::RST);
    t.push(rst);
    let ch = hello();
    let resets = [rst];
    let mut f = facts(&t, &ch);
    f.tcp.resets = &resets;
    f.server_not_tls = true;
    f.not_tls = Some(NotTls {
        side: Side::Server,
        frame: 6,
        head: b"HTTP/1.1 400",
        looks_like: Some("HTTP"),
    });
    let (v, _) = decide(&f);
    assert_eq!(v.id, VerdictId::NotTls);
    assert!(v.summary.ends_with("(it looks like HTTP)"), "{}", v.summary);
}

#[test]
fn a_silent_server_is_no_server_response_and_a_talking_one_is_incomplete() {
    let t = handshake();
    let ch = hello();
    let mut f = facts(&t, &ch);
    assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
    f.server_payload_bytes = 100;
    assert_eq!(id(&decide(&f)), VerdictId::Incomplete);
    f.lacking = true;
    assert_eq!(id(&decide(&f)), VerdictId::Inconclusive);
}

#[test]
fn without_a_client_hello_the_tcp_handshake_is_judged() {
    let syn = [ev(1, 0, 0, flags::SYN)];
    let refused = [
        ev(1, 0, 0, flags::SYN),
        ev(2, 1, 40, flags::RST | flags::ACK),
    ];
    let ch = hello();
    let mut f = facts(&syn, &ch);
    f.client_hello = None;
    assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
    assert_eq!(decide(&f).0.summary, "the SYN got no answer");
    let resets = [refused[1]];
    let mut f = facts(&refused, &ch);
    f.client_hello = None;
    f.tcp.syn_ack = None;
    f.tcp.resets = &resets;
    assert_eq!(id(&decide(&f)), VerdictId::ConnectionRefused);
    let t = handshake();
    let mut f = facts(&t, &ch);
    f.client_hello = None;
    assert_eq!(id(&decide(&f)), VerdictId::NoClientHello);
    f.mid_stream = true;
    assert_eq!(id(&decide(&f)), VerdictId::Incomplete);
    f.lacking = true;
    assert_eq!(id(&decide(&f)), VerdictId::Inconclusive);
}

#[test]
fn the_rules_that_need_a_client_hello_pass_without_one_and_vice_versa() {
    let t = handshake();
    let ch = hello();
    let mut f = facts(&t, &ch);
    assert_eq!(no_client_hello(&f), None);
    assert_eq!(syn_unanswered(&f), None);
    f.client_hello = None;
    assert_eq!(no_server_response(&f), None);
    assert_eq!(cut(&f), None);
    assert_eq!(mismatch(&f), None);
}

/// The client's ClientHello (frame 4, 517 bytes at seq 1001) sent `copies` more times,
/// 200 ms apart, with no answer.
fn unanswered_hello(copies: u64) -> Vec<TcpEvent> {
    let mut t = handshake();
    t[3].seq = 1001;
    for k in 0..copies {
        let mut again = t[3];
        again.frame = 5 + k;
        again.ts = Timestamp(t[3].ts.0 + 200_000_000 * (k as i64 + 1));
        t.push(again);
    }
    t
}

#[test]
fn a_client_hello_sent_three_times_and_never_acknowledged_was_dropped_on_the_path() {
    let t = unanswered_hello(2);
    let ch = hello();
    let mut f = facts(&t, &ch);
    f.tcp.acked = [Some(1001), None];
    let (v, finding) = decide(&f);
    assert_eq!(
        (v.id, v.by),
        (VerdictId::DroppedOnPath, Some(Culprit::Middlebox))
    );
    let finding = finding.expect("the drop's finding");
    assert_eq!(finding.id, FindingId::ClientHelloDropped);
    assert_eq!(finding.frames, vec![4, 5, 6]);
    assert!(
        finding.evidence[0].contains("sent 3 times"),
        "{:?}",
        finding.evidence
    );
}

#[test]
fn a_client_hello_sent_twice_or_acknowledged_is_not_dropped() {
    let ch = hello();
    let t = unanswered_hello(1);
    let mut f = facts(&t, &ch);
    f.tcp.acked = [Some(1001), None];
    assert_eq!(dropped_on_path(&f), None, "one retransmission says little");
    let t = unanswered_hello(4);
    let mut f = facts(&t, &ch);
    f.tcp.acked = [Some(1518), None];
    assert_eq!(
        dropped_on_path(&f),
        None,
        "the server acknowledged it: a silent server"
    );
    assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
    f.tcp.acked = [Some(1001), None];
    f.server_payload_bytes = 50;
    assert_eq!(dropped_on_path(&f), None, "the server answered");
}

#[test]
fn the_servers_fin_after_it_timed_out_is_no_refusal_when_the_hello_was_lost() {
    let mut t = unanswered_hello(3);
    let fin = ev(20, 1, 15_000, flags::FIN | flags::ACK);
    t.push(fin);
    let ch = hello();
    let fins = [fin];
    let mut f = facts(&t, &ch);
    f.tcp.fins = &fins;
    f.tcp.acked = [Some(1001), None];
    let (v, finding) = decide(&f);
    assert_eq!(v.id, VerdictId::DroppedOnPath);
    assert!(finding.is_some_and(|x| x.evidence.iter().any(|e| e.contains("handshake timeout"))));
}

#[test]
fn the_servers_fin_that_answers_the_clients_is_no_cut() {
    let mut t = handshake();
    let client_fin = ev(5, 0, 1042, flags::FIN | flags::ACK);
    let server_fin = ev(6, 1, 1082, flags::FIN | flags::ACK);
    t.extend([client_fin, server_fin]);
    let ch = hello();
    let fins = [client_fin, server_fin];
    let mut f = facts(&t, &ch);
    f.tcp.fins = &fins;
    assert_eq!(cut(&f), None);
    let (v, _) = decide(&f);
    assert_eq!(v.id, VerdictId::NoServerResponse);
    assert!(
        v.summary
            .ends_with("the client gave up after 1 s (FIN in frame 5)"),
        "{}",
        v.summary
    );
    // The server's FIN first is a cut.
    let mut early = server_fin;
    early.frame = 5;
    let mut late = client_fin;
    late.frame = 6;
    let both = [early, late];
    f.tcp.fins = &both;
    assert_eq!(
        cut(&f).map(|d| d.0.id),
        Some(VerdictId::FinAfterClientHello)
    );
}

#[test]
fn a_syn_refused_before_a_raw_client_sent_its_hello_is_connection_refused() {
    let mut t = vec![
        ev(1, 0, 0, flags::SYN),
        ev(2, 1, 40, flags::RST | flags::ACK),
    ];
    let mut ch_packet = ev(3, 0, 50, flags::ACK | flags::PSH);
    ch_packet.payload_len = 517;
    t.push(ch_packet);
    let ch = hello();
    let resets = [t[1]];
    let mut f = facts(&t, &ch);
    f.client_hello = Some((3, Timestamp(50_000_000), &ch));
    f.tcp.syn_ack = None;
    f.tcp.resets = &resets;
    assert_eq!(id(&decide(&f)), VerdictId::ConnectionRefused);
    // A RST after the hello is a cut, not a refusal.
    f.client_hello = Some((1, Timestamp(0), &ch));
    assert_eq!(refused_before_hello(&f), None);
}

#[test]
fn a_syn_rejected_by_an_icmp_unreachable_is_connection_refused_and_names_the_router() {
    use crate::net::{IcmpKind, Unreachable};
    let t = [ev(1, 0, 0, flags::SYN)];
    let ch = hello();
    let icmp = [icmp_at(
        2,
        IcmpKind::Unreachable(Unreachable::Prohibited),
        1000,
    )];
    let mut f = facts(&t, &ch);
    f.client_hello = None;
    f.tcp.syn_ack = None;
    f.icmp = &icmp;
    let (v, _) = decide(&f);
    assert_eq!(v.id, VerdictId::ConnectionRefused);
    assert!(
        v.summary.contains("198.51.100.7") && v.summary.contains("a firewall rejected it"),
        "{}",
        v.summary
    );
    // A "too big" is path-MTU discovery, not a refusal.
    let icmp = [icmp_at(2, IcmpKind::TooBig { mtu: 1400 }, 1000)];
    f.icmp = &icmp;
    assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
}

#[test]
fn an_expired_hello_says_so_in_the_no_answer_verdict() {
    use crate::net::IcmpKind;
    let mut t = handshake();
    t[3].ip.ttl = 2;
    let ch = hello();
    let icmp = [icmp_at(5, IcmpKind::TimeExceeded, t[3].seq)];
    let mut f = facts(&t, &ch);
    f.icmp = &icmp;
    let (v, _) = decide(&f);
    assert_eq!(v.id, VerdictId::NoServerResponse);
    assert!(v.summary.ends_with("expired in transit 2 hop(s) out (ICMP time exceeded from 198.51.100.7; it was sent with TTL 2)"), "{}", v.summary);
}

#[test]
fn a_client_that_refuses_a_512_bit_dh_group_is_judged_on_the_group_not_the_chain() {
    let t = handshake();
    let ch = hello();
    let sh = server_hello(0x0303);
    let a = alert_from(Side::Client, 8, 71);
    let cause = Finding::new(FindingId::SelfSigned, "server chain: self-signed");
    let mut f = facts(&t, &ch);
    f.server_hello = Some((6, &sh));
    f.fatal = Some(&a);
    f.chain_cause = Some(&cause);
    f.dh = Some((6, 512));
    let (v, _) = decide(&f);
    assert_eq!(v.id, VerdictId::WeakDh);
    assert!(
        v.summary.contains("512-bit") && v.summary.contains("insufficient_security"),
        "{}",
        v.summary
    );
    // A 2048-bit group is no cause: the chain is.
    f.dh = Some((6, 2048));
    assert_eq!(id(&decide(&f)), VerdictId::Rejected(FindingId::SelfSigned));
    // An alert before the ServerKeyExchange does not answer it.
    f.dh = Some((9, 512));
    assert_eq!(weak_dh_refused(&f), None);
}

#[test]
fn a_client_that_closes_after_a_small_dh_group_refused_it() {
    let mut t = handshake();
    let fin = ev(9, 0, 90, flags::FIN | flags::ACK);
    t.push(fin);
    let ch = hello();
    let fins = [fin];
    let mut f = facts(&t, &ch);
    f.tcp.fins = &fins;
    f.server_payload_bytes = 2000;
    f.server_first_data = Some(6);
    f.dh = Some((6, 768));
    let (v, _) = decide(&f);
    assert_eq!(v.id, VerdictId::WeakDh);
    assert!(v.summary.contains("FIN in frame 9"), "{}", v.summary);
    f.tcp.fins = &[];
    assert_eq!(weak_dh_refused(&f), None, "the client did not end it");
}

#[test]
fn a_hello_rejected_by_icmp_each_time_it_was_sent_was_rejected_on_the_path() {
    use crate::net::{IcmpKind, Unreachable};
    let t = unanswered_hello(2);
    let ch = hello();
    let icmp = [icmp_at(
        5,
        IcmpKind::Unreachable(Unreachable::Prohibited),
        1001,
    )];
    let mut f = facts(&t, &ch);
    f.tcp.acked = [Some(1001), None];
    f.icmp = &icmp;
    let (v, _) = decide(&f);
    assert_eq!(
        (v.id, v.by, v.confidence),
        (
            VerdictId::DroppedOnPath,
            Some(Culprit::Middlebox),
            Some(0.95)
        )
    );
    assert!(
        v.summary.starts_with(
            "the ClientHello was rejected on the path: it was rejected by 198.51.100.7"
        ),
        "{}",
        v.summary
    );
}
