//! conversation: one flow's deliveries in (the ordered bytes and gaps of each TCP direction, or
//! the datagrams of a UDP flow); both directions' handshake events out, in one shape.
//!
//! This is the per-flow state the flow table keeps ([`Conversation`], its [`FlowApp`]): it
//! feeds each TCP direction to its own [`Direction`], and on UDP decides from the first
//! datagrams what the flow carries ([`Datagrams`]): QUIC (the sender of the first Initial is the
//! client; a Version Negotiation names the server), DTLS (the sender of the first datagram that
//! looks like DTLS is taken as the client), or, after [`MAX_UDP_SNIFF`] datagrams that are
//! neither, nothing worth following. STUN and RTP datagrams (WebRTC puts them on the DTLS
//! 5-tuple, RFC 7983) are passed over, before and after DTLS is found. QUIC and DTLS events are copied into the two
//! [`Direction`]s, so every later stage reads TCP and UDP flows the same way. It also says which
//! side is the client: on TCP, the side whose first ClientHello came first.
//!
//! It guarantees that the UDP decision is made once per flow and never revisited, and that a
//! direction keeps at most [`MAX_EVENTS`] events whichever path filled it. It does not parse
//! TLS, QUIC or DTLS itself (that is [`crate::proto::tls`], [`quic`] and [`dtls`]), and it
//! follows one QUIC connection attempt per flow: a later one on the same 5-tuple is only
//! counted.

use crate::flow::reassembly::{Delivery, Origin};
use crate::flow::FlowApp;
use crate::keys::{KeyLog, KeySource, KeyStore};
use crate::proto::dtls::{self, DtlsConn};
use crate::proto::quic::{self, QuicConn};
use crate::proto::tls::decrypt::Session;
use crate::proto::tls::{Direction, Event, Located, Mode, MAX_EVENTS};
use std::sync::Arc;

/// Non-handshake datagrams looked at before a UDP flow is given up.
pub const MAX_UDP_SNIFF: u8 = 8;

/// What a UDP flow turned out to carry.
#[derive(Debug)]
pub enum Datagrams {
    /// Not decided yet: how many datagrams were neither QUIC nor DTLS.
    Unknown(u8),
    Quic {
        conn: Box<QuicConn>,
        client: usize,
        copied: [usize; 2],
        other_connections: u64,
    },
    Dtls {
        conn: Box<DtlsConn>,
        client: usize,
        copied: [usize; 2],
    },
    /// Neither.
    Other,
}

impl Default for Datagrams {
    fn default() -> Self {
        Datagrams::Unknown(0)
    }
}

/// What the conversations of one input share: the secrets of the key logs and of the
/// capture's Decryption Secrets Blocks, reaching each flow without a global.
#[derive(Debug, Default)]
pub struct Context {
    pub keys: Arc<KeyStore>,
}

impl Context {
    pub fn new(keylog: Arc<KeyLog>) -> Context {
        Context {
            keys: Arc::new(KeyStore::new(keylog)),
        }
    }
}

/// Both directions of one connection (TCP, or a UDP flow carrying QUIC or DTLS): the TLS
/// stage's state per flow. For UDP the QUIC/DTLS parsers' events are copied into `dirs` so
/// that every later stage reads one shape.
#[derive(Debug, Default)]
pub struct Conversation {
    /// Indexed by flow side (0 = the side that sent the flow's first packet).
    pub dirs: [Direction; 2],
    pub udp: Datagrams,
    /// Decryption facts both directions share; only when some secret is known.
    session: Option<Box<Session>>,
}

impl Conversation {
    fn first_client_hello_frame(&self, side: usize) -> Option<u64> {
        self.dirs
            .get(side)?
            .events
            .iter()
            .find(|e| matches!(e.event, Event::ClientHello(_)))
            .map(|e| e.frame)
    }

    /// Where the secrets of this connection came from, when the key logs had them.
    pub fn key_source(&self) -> Option<KeySource> {
        self.session.as_ref().and_then(|s| s.source)
    }

    fn stop(&mut self) {
        for d in &mut self.dirs {
            d.mode = Mode::Off;
        }
    }
}

/// STUN (first byte 0–3) or RTP/RTCP (128–191): what WebRTC multiplexes with DTLS on one
/// UDP 5-tuple, told apart by the first byte (RFC 7983 §7). DTLS is 20–63.
fn muxed_not_dtls(p: &[u8]) -> bool {
    matches!(p.first(), Some(0..=3 | 128..=191))
}

/// A QUIC long header with version 0 (RFC 9000 §17.2.1).
fn is_version_negotiation(p: &[u8]) -> bool {
    matches!(p, [h, 0, 0, 0, 0, ..] if h & 0x80 != 0)
}

/// Copies the events a QUIC/DTLS parser added since last time into the directions.
fn copy_events(
    dirs: &mut [Direction; 2],
    client: usize,
    copied: &mut [usize; 2],
    client_events: &[Located],
    server_events: &[Located],
) {
    for (i, (side, events)) in [(client, client_events), (1 - client, server_events)]
        .into_iter()
        .enumerate()
    {
        let (Some(d), Some(done)) = (dirs.get_mut(side), copied.get_mut(i)) else {
            continue;
        };
        for e in events.get(*done..).unwrap_or_default() {
            d.saw_tls = true;
            if d.events.len() < MAX_EVENTS {
                d.events.push(e.clone());
            }
        }
        *done = events.len();
    }
}

impl FlowApp for Conversation {
    type Context = Context;

    fn new(context: &Context) -> Self {
        Conversation {
            session: context
                .keys
                .has_any()
                .then(|| Box::new(Session::new(context.keys.clone()))),
            ..Conversation::default()
        }
    }

    fn deliver(&mut self, side: usize, delivery: Delivery<'_>) {
        let Some(d) = self.dirs.get_mut(side) else {
            return;
        };
        match delivery {
            Delivery::Data { bytes, origin } => {
                d.feed_keyed(bytes, origin, self.session.as_deref_mut());
            }
            Delivery::Gap { .. } => d.gap(),
        }
    }

    fn settle(&mut self) {
        for d in &mut self.dirs {
            d.settle();
        }
    }

    fn heap_bytes(&self) -> usize {
        let udp = match &self.udp {
            Datagrams::Quic { conn, .. } => conn.heap_bytes(),
            Datagrams::Dtls { conn, .. } => conn.heap_bytes(),
            Datagrams::Unknown(_) | Datagrams::Other => 0,
        };
        self.dirs.iter().map(Direction::heap_bytes).sum::<usize>() + udp
    }

    fn wants_data(&self, side: usize) -> bool {
        self.dirs.get(side).is_some_and(|d| d.mode != Mode::Off)
    }

    fn wants_buffering(&self, side: usize) -> bool {
        self.dirs.get(side).is_some_and(|d| {
            d.wants_reassembly() || (self.session.is_some() && d.decrypting_handshake())
        })
    }

    fn client_side(&self) -> Option<usize> {
        match &self.udp {
            Datagrams::Quic { client, .. } | Datagrams::Dtls { client, .. } => {
                return Some(*client)
            }
            Datagrams::Unknown(_) | Datagrams::Other => {}
        }
        match (
            self.first_client_hello_frame(0),
            self.first_client_hello_frame(1),
        ) {
            (Some(a), Some(b)) => Some(usize::from(b < a)),
            (Some(_), None) => Some(0),
            (None, Some(_)) => Some(1),
            (None, None) => None,
        }
    }

    fn datagram(&mut self, side: usize, payload: &[u8], origin: Origin) {
        let muxed = muxed_not_dtls(payload);
        if let (Datagrams::Unknown(_) | Datagrams::Dtls { .. }, true) = (&self.udp, muxed) {
            // STUN or RTP beside DTLS on one 5-tuple (WebRTC): not a sign of anything else,
            // and not DTLS's to read.
            return;
        }
        if let Datagrams::Unknown(n) = self.udp {
            let quic = quic::looks_like_quic(payload);
            // The sender of the first Initial is the client (RFC 9000 §17.2.2); only a server
            // sends Version Negotiation (§17.2.1), answering an Initial in a version nobody
            // here knows.
            let quic_client = if quic && quic::is_initial(payload) {
                Some(side)
            } else if quic && is_version_negotiation(payload) {
                Some(1 - side)
            } else {
                None
            };
            self.udp = if let Some(client) = quic_client {
                Datagrams::Quic {
                    conn: Box::default(),
                    client,
                    copied: [0, 0],
                    other_connections: 0,
                }
            } else if dtls::looks_like_dtls(payload) {
                Datagrams::Dtls {
                    conn: Box::default(),
                    client: side,
                    copied: [0, 0],
                }
            } else if n + 1 >= MAX_UDP_SNIFF {
                Datagrams::Other
            } else {
                Datagrams::Unknown(n + 1)
            };
        }
        let stop = match &mut self.udp {
            Datagrams::Quic {
                conn,
                client,
                copied,
                other_connections,
            } => {
                let from_client = side == *client;
                if conn.is_other_connection(from_client, payload) {
                    // A later connection on the same 5-tuple: not mixed into this one.
                    *other_connections += 1;
                } else {
                    conn.datagram_keyed(from_client, payload, origin, self.session.as_deref_mut());
                    copy_events(
                        &mut self.dirs,
                        *client,
                        copied,
                        &conn.client_events,
                        &conn.server_events,
                    );
                }
                conn.done()
            }
            Datagrams::Dtls {
                conn,
                client,
                copied,
            } => {
                conn.datagram_keyed(
                    side == *client,
                    payload,
                    origin,
                    self.session.as_deref_mut(),
                );
                copy_events(
                    &mut self.dirs,
                    *client,
                    copied,
                    &conn.client_events,
                    &conn.server_events,
                );
                false
            }
            Datagrams::Other => true,
            Datagrams::Unknown(_) => false,
        };
        if stop {
            self.stop();
        }
    }
}
