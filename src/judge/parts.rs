//! parts: a finished flow's facts in; the record's descriptive parts (hellos with their
//! fingerprints, TCP facts and packets, QUIC facts, the packets a ladder diagram draws), out.
//! Nothing here judges.

use crate::flow::{Flow, TcpEvent, MAX_TIMELINE};
use crate::ids::Side;
use crate::net::flags;
use crate::proto::codepoints::{alert_name, handshake_name, version_name};
use crate::proto::conversation::{Conversation, Datagrams};
use crate::proto::fingerprint;
use crate::proto::tls::{ClientHello, Event, ServerHello};
use crate::record::{
    ClientHelloOut, Ladder, LadderPacket, QuicOut, ServerHelloOut, TcpOut, TcpPacketOut,
};
use crate::text::{hex, ms, rfc3339};

/// Which end sent the event's packet, given the client's side index.
pub(super) fn who(side: usize, client: usize) -> Side {
    if side == client {
        Side::Client
    } else {
        Side::Server
    }
}

fn packet_out(e: &TcpEvent, client: usize) -> TcpPacketOut {
    TcpPacketOut {
        frame: e.frame,
        time: rfc3339(e.ts),
        from: who(e.side, client),
        flags: flag_string(e.flags),
        seq: e.seq,
        ack: e.ack,
        window: e.window,
        ttl: e.ip.ttl,
        ip_id: e.ip.ip_id,
        tsval: e.options.timestamps.map(|t| t.0),
        tsecr: e.options.timestamps.map(|t| t.1),
        payload_len: e.payload_len,
    }
}

fn flag_string(f: u8) -> String {
    let names = [
        (flags::SYN, "SYN"),
        (flags::ACK, "ACK"),
        (flags::FIN, "FIN"),
        (flags::RST, "RST"),
        (flags::PSH, "PSH"),
        (flags::URG, "URG"),
    ];
    names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("+")
}

pub(super) fn ch_out(
    frame: u64,
    ch: &ClientHello,
    transport: fingerprint::Transport,
    fingerprints: &mut fingerprint::Cache,
) -> ClientHelloOut {
    let (ja3, ja4) = fingerprints.client(ch, transport);
    ClientHelloOut {
        frame,
        sni: ch.sni.clone(),
        alpn: ch.alpn.clone(),
        legacy_version: ch.legacy_version,
        cipher_suites: ch.cipher_suites.clone(),
        supported_versions: ch.supported_versions.clone(),
        extensions: ch.extensions.clone(),
        supported_groups: ch.supported_groups.clone(),
        ec_point_formats: ch.ec_point_formats.clone(),
        signature_algorithms: ch.signature_algorithms.clone(),
        key_share_groups: ch.key_share_groups.clone(),
        compression_methods: ch.compression_methods.clone(),
        session_id_length: ch.session_id.len(),
        psk: ch.psk,
        early_data: ch.early_data,
        ech: ch.ech,
        sslv2: ch.sslv2,
        sslv2_cipher_specs: ch.sslv2_cipher_specs.clone(),
        ja3: ja3.as_ref().map(|j| j.md5.clone()),
        ja3_full: ja3.map(|j| j.full),
        ja4,
    }
}

pub(super) fn sh_out(
    frame: u64,
    sh: &ServerHello,
    fingerprints: &mut fingerprint::Cache,
) -> ServerHelloOut {
    let ja3s = fingerprints.server(sh);
    ServerHelloOut {
        frame,
        version: sh.version,
        version_name: version_name(sh.version),
        legacy_version: sh.legacy_version,
        cipher_suite: sh.cipher_suite,
        cipher_suite_name: tls_parser::TlsCipherSuiteID(sh.cipher_suite)
            .get_ciphersuite()
            .map(|c| c.name),
        alpn: sh.alpn.clone(),
        extensions: sh.extensions.clone(),
        key_share_group: sh.key_share_group,
        compression_method: sh.compression_method,
        session_id_length: sh.session_id.len(),
        hello_retry_request: sh.hello_retry_request,
        ja3s: ja3s.as_ref().map(|j| j.md5.clone()),
        ja3s_full: ja3s.map(|j| j.full),
    }
}

pub(super) fn quic_out(flow: &Flow<Conversation>) -> Option<QuicOut> {
    match &flow.app.udp {
        Datagrams::Quic {
            conn,
            other_connections,
            ..
        } => Some(QuicOut {
            version: conn.version,
            dcid: hex(&conn.client_dcid),
            client_scid: hex(&conn.client_scid),
            server_scid: hex(&conn.server_scid),
            retry: conn.retry,
            version_negotiation: conn.version_negotiation.clone(),
            other_connection_packets: *other_connections,
        }),
        _ => None,
    }
}

pub(super) fn tcp_out(f: &Flow<Conversation>, client: usize) -> TcpOut {
    let (c, s) = (&f.sides[client], &f.sides[1 - client]);
    let packet = |e: &TcpEvent| packet_out(e, client);
    let syn_to_sa = match (f.syn(), f.syn_ack()) {
        (Some(a), Some(b)) => Some(ms(b.ts.0.saturating_sub(a.ts.0))),
        _ => None,
    };
    let sa_to_ack = match (f.syn_ack(), f.handshake_ack()) {
        (Some(a), Some(b)) => Some(ms(b.ts.0.saturating_sub(a.ts.0))),
        _ => None,
    };
    TcpOut {
        syn: f.syn().is_some(),
        syn_ack: f.syn_ack().is_some(),
        rtt_ms: f.rtt_ns().map(ms),
        syn_to_syn_ack_ms: syn_to_sa,
        syn_ack_to_ack_ms: sa_to_ack,
        client_syn: f.syn().map(packet),
        server_syn_ack: f.syn_ack().map(packet),
        resets: f.resets.iter().map(packet).collect(),
        fins: f.fins.iter().map(packet).collect(),
        client_packets: c.packets,
        server_packets: s.packets,
        client_bytes: c.payload_bytes,
        server_bytes: s.payload_bytes,
        missing_bytes: c.stream.stats.missing_bytes + s.stream.stats.missing_bytes,
        retransmissions: c.stream.stats.retransmissions + s.stream.stats.retransmissions,
        out_of_order: c.stream.stats.out_of_order + s.stream.stats.out_of_order,
    }
}

/// TLS messages named on one packet of a ladder; more are counted as "…".
const MAX_NAMES_PER_PACKET: usize = 6;

/// What a TLS event is called on a ladder's arrow.
fn event_name(e: &Event) -> String {
    match e {
        Event::ClientHello(_) => "ClientHello".into(),
        Event::ServerHello(sh) if sh.hello_retry_request => "HelloRetryRequest".into(),
        Event::ServerHello(_) => "ServerHello".into(),
        Event::Certificate(ders) => match ders.len() {
            1 => "Certificate (1 cert)".into(),
            n => format!("Certificate ({n} certs)"),
        },
        Event::CertificateRequest(_) => "CertificateRequest".into(),
        Event::CertificateStatus { .. } => "CertificateStatus".into(),
        Event::ServerKeyExchange { .. } => "ServerKeyExchange".into(),
        Event::Handshake(t) => {
            handshake_name(*t).map_or_else(|| format!("handshake {t}"), str::to_string)
        }
        Event::ChangeCipherSpec => "ChangeCipherSpec".into(),
        Event::Alert {
            encrypted: true, ..
        } => "encrypted Alert".into(),
        Event::Alert {
            level, description, ..
        } => {
            let level = match level {
                Some(1) => "warning",
                Some(2) => "fatal",
                _ => "level ?",
            };
            let what = description.map_or_else(
                || "?".to_string(),
                |d| alert_name(d).map_or_else(|| d.to_string(), str::to_string),
            );
            format!("Alert ({level}, {what})")
        }
        Event::DecryptedAlert { level, description } => {
            let level = if *level == 2 { "fatal" } else { "warning" };
            let what =
                alert_name(*description).map_or_else(|| description.to_string(), str::to_string);
            format!("Alert ({level}, {what}, decrypted)")
        }
        Event::EncryptedExtensions(_) => "EncryptedExtensions".into(),
        Event::CertificateVerify { .. } => "CertificateVerify".into(),
        Event::ApplicationPhase => "application data".into(),
        Event::KeysDoNotDecrypt(_) => "not decrypted with the keys given".into(),
        Event::EncryptionStarted { .. } => "encrypted records".into(),
        Event::NotTls(_) => "not TLS".into(),
        Event::Malformed(what) => format!("malformed: {what}"),
    }
}

/// The flow's first packets (its timeline) as a ladder diagram draws them: sequence numbers
/// relative to each sender's first, the TLS messages each packet completed, and which data
/// was sent again, came out of order, or was never acknowledged.
pub(super) fn ladder(
    f: &Flow<Conversation>,
    client: usize,
    capture_point: Option<(Side, u8, u8)>,
) -> Ladder {
    // Each side's first sequence number: its ISN when its SYN or SYN-ACK was seen.
    let base = |side: usize| {
        [f.syn(), f.syn_ack()]
            .into_iter()
            .flatten()
            .find(|e| e.side == side)
            .or(f.first(side))
            .map_or(0, |e| e.seq)
    };
    let bases = [base(0), base(1)];
    // Byte ranges (relative) each side already sent, to tell a retransmission from a segment
    // that merely arrived out of order.
    let mut sent: [Vec<(u32, u32)>; 2] = [Vec::new(), Vec::new()];
    let mut packets: Vec<LadderPacket> = Vec::with_capacity(f.timeline.len());
    for e in &f.timeline {
        let side = e.side.min(1);
        let seq = e.seq.wrapping_sub(bases[side]);
        let data = super::path::is_data(e);
        let (start, end) = (seq, seq.saturating_add(e.payload_len));
        let ranges = &mut sent[side];
        let retransmission = data && ranges.iter().any(|&(a, b)| start < b && a < end);
        let out_of_order = data && !retransmission && ranges.iter().any(|&(_, b)| start < b);
        if data {
            ranges.push((start, end));
        }
        packets.push(LadderPacket {
            frame: e.frame,
            ns: e.ts.0,
            from: who(side, client),
            flags: flag_string(e.flags),
            seq,
            ack: (e.flags & flags::ACK != 0).then(|| e.ack.wrapping_sub(bases[1 - side])),
            payload_len: e.payload_len,
            ttl: e.ip.ttl,
            ip_id: e.ip.ip_id,
            window: e.window,
            messages: Vec::new(),
            retransmission,
            out_of_order,
            unacked: data && super::path::never_acked(e, f.sides[side].acked_by_peer),
        });
    }
    // Name the messages on the packets that completed them (the timeline is in frame order).
    for dir in &f.app.dirs {
        for ev in &dir.events {
            let Ok(i) = packets.binary_search_by_key(&ev.frame, |p| p.frame) else {
                continue;
            };
            let Some(p) = packets.get_mut(i) else {
                continue;
            };
            if p.messages.len() < MAX_NAMES_PER_PACKET {
                p.messages.push(event_name(&ev.event));
            } else if p.messages.len() == MAX_NAMES_PER_PACKET {
                p.messages.push("…".into());
            }
        }
    }
    Ladder {
        cut_short: f.timeline.len() >= MAX_TIMELINE,
        packets,
        capture_point,
    }
}
