//! report::ladder: a failed connection's record in (its kept packets, [`Connection::ladder`],
//! its verdict and findings); the rows of its ladder diagram out ([`view`]), and the compact
//! plain-text ladder the text report prints under the handshake ([`write_text`]). The HTML
//! report draws the same rows as SVG.
//!
//! A row is one packet: time since the connection's first packet, direction, flags, sequence
//! and acknowledgement numbers relative to each end's first, payload length, TTL, IP ID, the
//! TLS messages the packet completed, and the marks: the packet the verdict was judged on
//! (the first packet of the verdict's own finding), the other packets the verdict cites,
//! retransmissions, out-of-order segments and data never acknowledged.
//!
//! Deliberately not done: judging anything. Which packet was judged and why comes from the
//! diagnose stage's verdict and findings; this file only finds them among the packets.

use crate::ids::Side;
use crate::record::{Connection, Finding, Ladder, LadderPacket};
use crate::text::shown;
use std::fmt::Write as _;

/// One packet of a ladder, with its marks.
#[derive(Debug)]
pub struct Row<'a> {
    pub packet: &'a LadderPacket,
    /// Milliseconds since the connection's first packet.
    pub ms: f64,
    /// The packet the verdict was judged on.
    pub judged: bool,
    /// Another packet the verdict cites (the ClientHello, the packet a cut was compared with).
    pub cited: bool,
}

/// What a ladder diagram draws for one connection.
#[derive(Debug)]
pub struct View<'a> {
    pub rows: Vec<Row<'a>>,
    pub ladder: &'a Ladder,
    /// The finding behind the verdict, when there is one: its message, evidence and advice
    /// stand beside the judged packet.
    pub finding: Option<&'a Finding>,
    /// The round trip of the TCP handshake: the rows of the SYN and of the ACK that completed
    /// it, and its length in milliseconds.
    pub rtt: Option<(usize, usize, f64)>,
}

/// The finding that carries the verdict: the one with the verdict's id, else one that shows
/// every packet the verdict cites (`dropped-on-path` rests on `client-hello-dropped`).
pub fn verdict_finding(c: &Connection) -> Option<&Finding> {
    let v = &c.verdict;
    let id = v.id.as_str();
    c.findings.iter().find(|f| f.id.as_str() == id).or_else(|| {
        c.findings
            .iter()
            .find(|f| !v.frames.is_empty() && v.frames.iter().all(|fr| f.frames.contains(fr)))
    })
}

/// The ladder rows of `c`, when its packets were kept.
pub fn view(c: &Connection) -> Option<View<'_>> {
    let ladder = c.ladder.as_deref()?;
    let finding = verdict_finding(c);
    let has = |frame: &&u64| ladder.packets.iter().any(|p| p.frame == **frame);
    // The verdict's own finding names the packet it judged; else the verdict's last packet.
    let judged = finding
        .and_then(|f| f.frames.iter().find(has))
        .or_else(|| c.verdict.frames.iter().rev().find(has))
        .copied();
    let t0 = ladder.packets.first().map_or(0, |p| p.ns);
    let rows: Vec<Row<'_>> = ladder
        .packets
        .iter()
        .map(|p| Row {
            packet: p,
            ms: p.ns.saturating_sub(t0) as f64 / 1e6,
            judged: Some(p.frame) == judged,
            cited: Some(p.frame) != judged && c.verdict.frames.contains(&p.frame),
        })
        .collect();
    Some(View {
        rtt: rtt_rows(&rows)
            .zip(c.tcp.rtt_ms)
            .map(|((a, b), ms)| (a, b, ms)),
        rows,
        ladder,
        finding,
    })
}

/// The rows of the client's SYN and of its ACK that completed the three-way handshake (the
/// first client packet after a SYN-ACK that acknowledges it, relative ack 1).
fn rtt_rows(rows: &[Row<'_>]) -> Option<(usize, usize)> {
    let is =
        |r: &Row<'_>, side: Side, flags: &str| r.packet.from == side && r.packet.flags == flags;
    let syn = rows.iter().position(|r| is(r, Side::Client, "SYN"))?;
    let syn_ack = syn
        + rows
            .get(syn..)?
            .iter()
            .position(|r| is(r, Side::Server, "SYN+ACK"))?;
    let ack = syn_ack
        + rows.get(syn_ack..)?.iter().position(|r| {
            r.packet.from == Side::Client
                && r.packet.ack == Some(1)
                && !r.packet.flags.contains("SYN")
        })?;
    Some((syn, ack))
}

impl Row<'_> {
    /// The marks after the message names: retransmission, out of order, never acknowledged.
    pub fn marks(&self) -> Vec<&'static str> {
        let p = self.packet;
        let mut m = Vec::new();
        if p.retransmission {
            m.push("retransmission");
        }
        if p.out_of_order {
            m.push("out of order");
        }
        if p.unacked {
            m.push("never acknowledged");
        }
        m
    }
}

/// Where the capture was taken, in words, when the TTLs say so.
pub fn capture_point_words(l: &Ladder) -> Option<String> {
    l.capture_point.map(|(at, here, there)| {
        format!(
            "capture taken at the {at} (its packets carry TTL {here}, unrouted; the {}'s arrive with {there})",
            at.other()
        )
    })
}

/// The plain-text ladder of `c` under its failed block: a header line, then one line per
/// packet. Nothing when its packets were not kept.
pub fn write_text(out: &mut String, c: &Connection) {
    let Some(v) = view(c) else {
        return;
    };
    if v.rows.is_empty() {
        return;
    }
    let rtt = v
        .rtt
        .map(|(_, _, ms)| format!("; RTT {ms} ms"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  ladder (ms since the first packet, seq/ack relative{rtt}):"
    );
    if let Some(words) = capture_point_words(v.ladder) {
        let _ = writeln!(out, "  {words}");
    }
    let _ = writeln!(
        out,
        "    {:>10}  {:>6}  {:<6}  {:<11} {:>6} {:>6} {:>5} {:>4} {:>6}  what",
        "ms", "frame", "dir", "flags", "seq", "ack", "len", "ttl", "ip id"
    );
    for r in &v.rows {
        let p = r.packet;
        let dir = match p.from {
            Side::Client => "C -> S",
            Side::Server => "C <- S",
        };
        let mut what: Vec<String> = Vec::new();
        if !p.messages.is_empty() {
            what.push(shown(&p.messages.join(", ")).into_owned());
        }
        what.extend(r.marks().iter().map(|m| format!("[{m}]")));
        if r.judged {
            what.push(format!("<< judged: {}", c.verdict.id));
        } else if r.cited {
            what.push("< cited by the verdict".into());
        }
        let line = format!(
            "    {:>10.3}  {:>6}  {:<6}  {:<11} {:>6} {:>6} {:>5} {:>4} {:>6}  {}",
            r.ms,
            p.frame,
            dir,
            p.flags,
            p.seq,
            p.ack.map_or_else(|| "-".to_string(), |a| a.to_string()),
            p.payload_len,
            p.ttl,
            p.ip_id.map_or_else(|| "-".to_string(), |i| i.to_string()),
            what.join(" ")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if v.ladder.cut_short {
        let _ = writeln!(
            out,
            "    (the first {} packets of the handshake; later ones were not kept)",
            v.rows.len()
        );
    }
}
