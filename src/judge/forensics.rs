//! forensics: the TCP facts of a handshake cut by a RST or FIN in; who most likely sent it,
//! with scored evidence, out.
//!
//! A forged packet claims to come from one end (its addresses and ports say so) but was sent
//! by a device on the path. The signals compare the packet with what the claimed sender did
//! before, as seen from the same capture point (Weaver, Sommer, Paxson, "Detecting Forged TCP
//! Reset Packets", NDSS 2009; Clayton, Murdoch, Watson, "Ignoring the Great Firewall of China",
//! 2006; gfw.report on SNI-based RST injection):
//!
//! - timing: a RST from the far end sooner than one round trip after the ClientHello left;
//! - TTL / hop limit different from the claimed sender's earlier packets;
//! - IP ID out of the claimed sender's sequence;
//! - the race: the claimed sender goes on talking after its "RST";
//! - bursts: several RSTs with different seq/ack, RST and RST+ACK mixed;
//! - RSTs toward both ends;
//! - TCP timestamps: missing on a flow that uses them, or a TSval that does not continue the
//!   sender's clock;
//! - payload in a RST.
//!
//! Each signal carries its values and a weight (positive: forged; negative: genuine). The cut
//! is called `middlebox` only when the score is high *and* at least two independent signals
//! agree; a genuine end's packet (same TTL, TSval continuing, IP ID in sequence) comes out as
//! that end. Known blind spots: an injector next to the server defeats timing and may copy the
//! TTL; a dropped ClientHello leaves no packet to judge (that is `no-server-response`).

use crate::capture::Timestamp;
use crate::flow::{Flow, TcpEvent};
use crate::net::flags;
use crate::text::ms;
use serde::Serialize;

/// One piece of evidence, with both sides of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// Positive: points to a forged packet; negative: to the genuine end.
    pub weight: f64,
    /// The comparison in words, with its values.
    pub detail: String,
}

/// Who sent the packet that cut the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Culprit {
    Middlebox,
    Server,
    Client,
    Unknown,
}

impl Culprit {
    pub fn as_str(self) -> &'static str {
        match self {
            Culprit::Middlebox => "middlebox",
            Culprit::Server => "server",
            Culprit::Client => "client",
            Culprit::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub by: Culprit,
    pub confidence: f64,
    pub score: f64,
    pub signals: Vec<Signal>,
    /// The packet judged.
    pub frame: u64,
}

/// Score at or above which (with two independent positive signals) the cut is forged.
const FORGED_SCORE: f64 = 3.0;
/// A round trip shorter than this says nothing about where a packet came from.
const MIN_USEFUL_RTT_NS: i64 = 2_000_000;

/// Judges `cut`, the RST or FIN that ended a handshake whose ClientHello left at `ch_ts`.
/// `client` is the client side index.
pub fn judge(
    flow: &Flow<impl crate::flow::FlowApp>,
    client: usize,
    ch_ts: Timestamp,
    cut: &TcpEvent,
) -> Judgement {
    let claimed = cut.side;
    let server = 1 - client;
    let mut signals = Vec::new();
    // The claimed sender's earlier packets, as seen here.
    let before: Vec<&TcpEvent> = flow
        .timeline
        .iter()
        .filter(|e| e.side == claimed && e.frame < cut.frame && e.flags & flags::RST == 0)
        .collect();
    let baseline = before.last().copied().or(flow.sides[claimed]
        .first
        .as_ref()
        .filter(|e| e.frame < cut.frame));

    // Where was the capture taken? Near the client when SYN → SYN-ACK holds the round trip.
    let near_client = match (flow.syn, flow.syn_ack, flow.handshake_ack) {
        (Some(s), Some(sa), Some(a)) => (sa.ts.0 - s.ts.0) > (a.ts.0 - sa.ts.0),
        (Some(_), Some(_), None) => true,
        _ => false,
    };
    let rtt = flow.rtt_ns().or_else(|| match (flow.syn, flow.syn_ack) {
        (Some(s), Some(sa)) => Some(sa.ts.0 - s.ts.0),
        _ => None,
    });
    let far_end = if near_client { server } else { client };

    // Timing: a packet from the far end cannot arrive sooner than a round trip after ours left.
    if let Some(rtt) = rtt {
        let since_ch = cut.ts.0 - ch_ts.0;
        if claimed == far_end && claimed == server && rtt >= MIN_USEFUL_RTT_NS {
            if since_ch * 2 < rtt {
                signals.push(Signal {
                    id: "sooner-than-rtt",
                    weight: 2.0,
                    detail: format!(
                        "arrived {} ms after the ClientHello; the round trip is {} ms",
                        ms(since_ch),
                        ms(rtt)
                    ),
                });
            } else if since_ch * 10 >= rtt * 8 {
                signals.push(Signal {
                    id: "timing-consistent",
                    weight: -0.5,
                    detail: format!(
                        "arrived {} ms after the ClientHello; the round trip is {} ms",
                        ms(since_ch),
                        ms(rtt)
                    ),
                });
            }
        }
    }

    // TTL / hop limit against the claimed sender's earlier packets.
    if let Some(b) = baseline {
        let diff = i16::from(cut.ip.ttl) - i16::from(b.ip.ttl);
        if diff != 0 {
            // From one capture point, one host's packets arrive with one TTL: even a difference
            // of one hop means another sender (or a route change, hence the lower weight).
            signals.push(Signal {
                id: "ttl-mismatch",
                weight: if diff.abs() >= 2 { 2.0 } else { 1.5 },
                detail: format!(
                    "TTL {}, the {}'s earlier packet (frame {}) had {}",
                    cut.ip.ttl,
                    who(claimed, client),
                    b.frame,
                    b.ip.ttl
                ),
            });
        } else {
            signals.push(Signal {
                id: "ttl-match",
                weight: -1.5,
                detail: format!(
                    "TTL {} as the {}'s earlier packet (frame {}, TTL {})",
                    cut.ip.ttl,
                    who(claimed, client),
                    b.frame,
                    b.ip.ttl
                ),
            });
        }
        // IP ID against the sender's sequence (IPv4).
        if let (Some(id), Some(prev)) = (cut.ip.ip_id, b.ip.ip_id) {
            let ahead = id.wrapping_sub(prev);
            let ids_used = before.iter().any(|e| e.ip.ip_id.is_some_and(|x| x != 0));
            if ids_used && ahead > 0 && ahead <= 64 {
                signals.push(Signal {
                    id: "ip-id-in-sequence",
                    weight: -1.0,
                    detail: format!("IP ID {id} follows the {}'s {prev}", who(claimed, client)),
                });
            } else if ids_used && (ahead == 0 || ahead > 64)
                || (!ids_used && id != 0 && prev == 0 && before.len() >= 2)
            {
                signals.push(Signal {
                    id: "ip-id-out-of-sequence",
                    weight: 1.0,
                    detail: format!("IP ID {id}; the {}'s last was {prev}", who(claimed, client)),
                });
            }
        }
        // TCP timestamps: the flow uses them (the claimed sender sent TSval before).
        if let Some((prev_ts, _)) = b.options.timestamps {
            match cut.options.timestamps {
                None => signals.push(Signal {
                    id: "timestamp-missing",
                    weight: 1.0,
                    detail: format!(
                        "no TCP timestamp option, though the {} sent them (TSval {prev_ts})",
                        who(claimed, client)
                    ),
                }),
                Some((tsval, _)) => {
                    let elapsed_ms = (cut.ts.0 - b.ts.0).max(0) / 1_000_000;
                    let step = tsval.wrapping_sub(prev_ts);
                    // Clocks tick at 1–1000 Hz (RFC 7323 §5.4): allow a generous window.
                    if step < 0x8000_0000 && i64::from(step) <= elapsed_ms * 2 + 1000 {
                        signals.push(Signal {
                            id: "timestamp-continues",
                            weight: -1.5,
                            detail: format!(
                                "TSval {tsval} continues the {}'s {prev_ts}",
                                who(claimed, client)
                            ),
                        });
                    } else {
                        signals.push(Signal {
                            id: "timestamp-jumps",
                            weight: 2.0,
                            detail: format!(
                                "TSval {tsval} does not continue the {}'s {prev_ts}",
                                who(claimed, client)
                            ),
                        });
                    }
                }
            }
        }
    }

    // The race: the claimed sender keeps talking after its RST.
    if cut.flags & flags::RST != 0 {
        if let Some(after) = flow
            .timeline
            .iter()
            .find(|e| e.side == claimed && e.frame > cut.frame && e.flags & flags::RST == 0)
        {
            signals.push(Signal {
                id: "sender-alive-after-rst",
                weight: 3.0,
                detail: format!(
                    "the {} went on after the RST: frame {} ({} bytes, {})",
                    who(claimed, client),
                    after.frame,
                    after.payload_len,
                    crate_flags(after.flags)
                ),
            });
        }
        // Bursts.
        let rsts: Vec<&TcpEvent> = flow
            .resets
            .iter()
            .filter(|e| e.frame >= cut.frame && e.side == claimed)
            .collect();
        if rsts.len() >= 2 {
            let seqs: std::collections::BTreeSet<u32> = rsts.iter().map(|e| e.seq).collect();
            let kinds: std::collections::BTreeSet<u8> = rsts
                .iter()
                .map(|e| e.flags & (flags::RST | flags::ACK))
                .collect();
            if seqs.len() > 1 || kinds.len() > 1 {
                signals.push(Signal {
                    id: "rst-burst",
                    weight: 2.0,
                    detail: format!(
                        "{} RSTs from the {}'s address with {} different sequence numbers{}",
                        rsts.len(),
                        who(claimed, client),
                        seqs.len(),
                        if kinds.len() > 1 {
                            ", RST and RST+ACK mixed"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        // Both ends reset within a moment, back to back: nobody resets its own and the peer's
        // side at once. A reset that answers the claimed sender's later packets (the client
        // resetting a ServerHello that arrived after the forged RST) does not count.
        let answered = |other: &TcpEvent| {
            flow.timeline.iter().any(|e| {
                e.side == claimed
                    && e.flags & flags::RST == 0
                    && e.frame > cut.frame.min(other.frame)
                    && e.frame < cut.frame.max(other.frame)
            })
        };
        if let Some(other) = flow.resets.iter().find(|e| {
            e.side != claimed && (e.ts.0 - cut.ts.0).abs() < 1_000_000_000 && !answered(e)
        }) {
            signals.push(Signal {
                id: "rst-both-directions",
                weight: 2.0,
                detail: format!(
                    "RSTs toward both ends: frames {} and {}",
                    cut.frame, other.frame
                ),
            });
        }
    }
    if cut.payload_len > 0 {
        signals.push(Signal {
            id: "payload-in-rst",
            weight: 1.0,
            detail: format!(
                "the {} carries {} payload bytes",
                crate_flags(cut.flags),
                cut.payload_len
            ),
        });
    }

    let score: f64 = signals.iter().map(|s| s.weight).sum();
    let positive = signals.iter().filter(|s| s.weight > 0.0).count();
    let has = |id: &str| signals.iter().any(|s| s.id == id);
    let strong_positive = signals.iter().any(|s| s.weight >= 2.0);
    let by = if score >= FORGED_SCORE && positive >= 2 {
        Culprit::Middlebox
    } else if (score <= 0.0 && signals.iter().any(|s| s.weight < 0.0))
        || (has("ttl-match") && !strong_positive && !has("sooner-than-rtt"))
    {
        // Same path length as the end it claims to be, and nothing strong against it: a host
        // firewall's reject or the application itself.
        if claimed == client {
            Culprit::Client
        } else {
            Culprit::Server
        }
    } else {
        Culprit::Unknown
    };
    let confidence = match by {
        Culprit::Unknown => 0.0,
        // 1 - e^(-|score|/3): 3 points ≈ 0.63, 6 ≈ 0.86, 9 ≈ 0.95.
        _ => ((1.0 - (-score.abs() / 3.0).exp()) * 100.0).round() / 100.0,
    };
    Judgement {
        by,
        confidence,
        score,
        signals,
        frame: cut.frame,
    }
}

fn who(side: usize, client: usize) -> &'static str {
    if side == client {
        "client"
    } else {
        "server"
    }
}

fn crate_flags(f: u8) -> &'static str {
    match (
        f & flags::RST != 0,
        f & flags::FIN != 0,
        f & flags::ACK != 0,
    ) {
        (true, _, true) => "RST+ACK",
        (true, _, false) => "RST",
        (false, true, _) => "FIN",
        _ => "packet",
    }
}
