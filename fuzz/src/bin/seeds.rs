//! Seed corpora for the fuzz targets, cut from real captures.
//!
//! `seeds OUT INPUT...` reads every capture (`.pcap`, `.pcapng`, `.cap`, and `.gz` of those)
//! and DER certificate (`.der`) under the INPUTs and writes, under `OUT/<target>/`, one file per
//! distinct seed (named by a hash of its bytes), in the formats of `tlsmortem_fuzz`:
//! - `capture`, `pipeline`, `pipeline_workers`: whole captures (and gzip copies of small ones);
//! - `net`: single frames with their link type;
//! - `flow`: each connection's packets; `reassembly`: each TCP direction's segments;
//! - `tls`: each TCP direction's ordered bytes, as reassembly delivered them;
//! - `x509`: each certificate chain sent (with its stapled OCSP response), and each DER file;
//! - `starttls`: the plaintext both sides sent before TLS;
//! - `quic`, `dtls`: each UDP flow's datagrams;
//! - `quic_frames`: CRYPTO frames carrying the hellos found on TCP, whole and in pieces.
//!
//! The analyzer's own stages do the cutting (capture reader, decoder, reassembly, TLS record
//! layer), so a seed is what that stage's target would see from that capture. Nothing is
//! committed: CI and `fuzz/run.sh` make the seeds afresh from `captures/`, `tests/data/` and
//! `../shared/corpus`.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use tlsmortem::capture::{self, Timestamp};
use tlsmortem::flow::reassembly::{Delivery, HalfStream, Origin, Seq};
use tlsmortem::net::{self, flags, Transport};
use tlsmortem::proto::{dtls, quic, tls};
use tlsmortem_fuzz::{
    frame_selector, push_chain_item, push_chunk, push_datagram, push_flow_header, push_flow_packet,
    push_plaintext, push_segment, Chunk, FlowHeader, FlowPacket, SegOp, CHAIN_STAPLED,
};

/// Captures larger than this are not whole-capture seeds (libFuzzer would cut them anyway).
const MAX_WHOLE: usize = 1 << 20;
/// Captures up to this size also get a gzip copy.
const MAX_GZIPPED: usize = 64 << 10;
/// Frames per capture taken as `net` seeds.
const FRAMES_PER_CAPTURE: usize = 100;
/// Flows per capture taken apart.
const FLOWS_PER_CAPTURE: usize = 64;
/// Packets per flow kept in `flow`, `reassembly`, `quic` and `dtls` seeds.
const PACKETS_PER_FLOW: usize = 300;
/// Bytes of one direction kept in a `tls` seed.
const STREAM_BYTES: usize = 64 << 10;

struct Out {
    dir: PathBuf,
    written: HashSet<(&'static str, u64)>,
}

impl Out {
    fn seed(&mut self, target: &'static str, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        let hash = h.finish();
        if !self.written.insert((target, hash)) {
            return;
        }
        let dir = self.dir.join(target);
        let path = dir.join(format!("{hash:016x}"));
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, bytes)) {
            eprintln!("seeds: cannot write {}: {e}", path.display());
            std::process::exit(2);
        }
    }

    fn count(&self, target: &str) -> usize {
        self.written.iter().filter(|(t, _)| *t == target).count()
    }
}

/// One packet of a flow, owned.
struct Pkt {
    from_server: bool,
    udp: bool,
    flags: u8,
    ttl: u8,
    seq: u32,
    ack: u32,
    window: u16,
    ts: Timestamp,
    frame: u64,
    payload: Vec<u8>,
}

#[derive(Default)]
struct Flow {
    ipv6: bool,
    /// (address, port) of the side that sent the first packet, taken as the client.
    client: Option<(std::net::IpAddr, u16)>,
    ports: (u16, u16),
    packets: Vec<Pkt>,
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let Some((out_dir, inputs)) = args.split_first() else {
        eprintln!("usage: seeds OUT_DIR INPUT...  (INPUTs: captures, .der files, folders of them)");
        std::process::exit(2);
    };
    let mut out = Out {
        dir: out_dir.clone(),
        written: HashSet::new(),
    };
    let mut files = Vec::new();
    for input in inputs {
        collect(input, &mut files);
    }
    files.sort();
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            eprintln!("seeds: cannot read {}, skipped", f.display());
            continue;
        };
        if f.extension().is_some_and(|e| e == "der") {
            certificate_file(&mut out, &bytes);
        } else {
            capture_file(&mut out, &bytes);
        }
    }
    let targets = [
        "capture",
        "net",
        "reassembly",
        "flow",
        "tls",
        "x509",
        "quic",
        "quic_frames",
        "dtls",
        "starttls",
        "pipeline",
        "pipeline_workers",
    ];
    let counts: Vec<String> = targets
        .iter()
        .map(|t| format!("{t} {}", out.count(t)))
        .collect();
    println!("seeds from {} files: {}", files.len(), counts.join(", "));
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for e in entries.flatten() {
            collect(&e.path(), files);
        }
        return;
    }
    let name = path.to_string_lossy();
    let wanted = [".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".der"];
    if wanted.iter().any(|w| name.ends_with(w)) {
        files.push(path.to_path_buf());
    }
}

fn certificate_file(out: &mut Out, der: &[u8]) {
    for options in [0x01, 0x03, 0x00] {
        let mut seed = vec![options];
        push_chain_item(&mut seed, der);
        out.seed("x509", &seed);
    }
}

fn capture_file(out: &mut Out, bytes: &[u8]) {
    if bytes.len() <= MAX_WHOLE {
        for t in ["capture", "pipeline", "pipeline_workers"] {
            out.seed(t, bytes);
        }
    }
    if bytes.len() <= MAX_GZIPPED && !capture::is_compressed(bytes) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        if gz.write_all(bytes).is_ok() {
            if let Ok(z) = gz.finish() {
                out.seed("capture", &z);
            }
        }
    }
    let mut flows: BTreeMap<(std::net::IpAddr, u16, std::net::IpAddr, u16, bool), Flow> =
        BTreeMap::new();
    let mut frames = 0;
    let _ = capture::read_bytes("seed", bytes, &mut |f| {
        if frames < FRAMES_PER_CAPTURE {
            if let Some(sel) = frame_selector(f.link_type) {
                let mut seed = vec![sel];
                seed.extend_from_slice(f.data);
                out.seed("net", &seed);
            }
        }
        frames += 1;
        let Ok(p) = net::decode(f.link_type, f.data) else {
            return;
        };
        let (sp, dp, udp, pkt) = match p.transport {
            Transport::Tcp(t) => (
                t.src_port,
                t.dst_port,
                false,
                (t.flags, t.seq, t.ack, t.window, t.payload),
            ),
            Transport::Udp(u) => (u.src_port, u.dst_port, true, (0, 0, 0, 0, u.payload)),
            Transport::Icmp(_) | Transport::Fragment(_) => return,
        };
        let (a, b) = ((p.src, sp), (p.dst, dp));
        let key = if a <= b {
            (a.0, a.1, b.0, b.1, udp)
        } else {
            (b.0, b.1, a.0, a.1, udp)
        };
        if !flows.contains_key(&key) && flows.len() >= FLOWS_PER_CAPTURE {
            return;
        }
        let flow = flows.entry(key).or_default();
        if flow.packets.len() >= PACKETS_PER_FLOW {
            return;
        }
        let (tcp_flags, seq, ack, window, payload) = pkt;
        // The first sender is the client, unless it answered a SYN the capture missed.
        let client = *flow.client.get_or_insert(
            if !udp && tcp_flags & (flags::SYN | flags::ACK) == flags::SYN | flags::ACK {
                b
            } else {
                a
            },
        );
        flow.ipv6 = p.src.is_ipv6();
        flow.ports = (client.1, if client == a { dp } else { sp });
        flow.packets.push(Pkt {
            from_server: client != a,
            udp,
            flags: tcp_flags,
            ttl: p.ip.ttl,
            seq,
            ack,
            window,
            ts: f.ts,
            frame: f.number,
            payload: payload.to_vec(),
        });
    });
    for flow in flows.values() {
        flow_seeds(out, flow);
        if flow.packets.first().is_some_and(|p| p.udp) {
            udp_seeds(out, flow);
        } else {
            tcp_seeds(out, flow);
        }
    }
}

fn flow_seeds(out: &mut Out, flow: &Flow) {
    let mut seed = Vec::new();
    push_flow_header(
        &mut seed,
        &FlowHeader {
            ipv6: flow.ipv6,
            client_port: flow.ports.0,
            server_port: flow.ports.1,
        },
    );
    let mut last = flow.packets.first().map_or(0, |p| p.ts.0);
    for p in &flow.packets {
        let delta_us = (p.ts.0.saturating_sub(last) / 1000).clamp(0, i64::from(u32::MAX));
        last = p.ts.0;
        push_flow_packet(
            &mut seed,
            &FlowPacket {
                from_server: p.from_server,
                udp: p.udp,
                flags: p.flags,
                ttl: p.ttl,
                seq: p.seq,
                ack: p.ack,
                window: p.window,
                delta_us: delta_us as u32,
                payload: &p.payload,
            },
        );
    }
    out.seed("flow", &seed);
}

fn udp_seeds(out: &mut Out, flow: &Flow) {
    let mut seed = Vec::new();
    for p in &flow.packets {
        push_datagram(&mut seed, p.from_server, &p.payload);
    }
    let first = flow.packets.first().map_or(&[][..], |p| &p.payload[..]);
    if quic::looks_like_quic(first) {
        out.seed("quic", &seed);
    }
    if dtls::looks_like_dtls(first) {
        out.seed("dtls", &seed);
    }
}

/// One TCP direction as the analyzer would see it.
#[derive(Default)]
struct Side {
    segments: Vec<u8>,
    chunks: Vec<u8>,
    stream: Vec<u8>,
    tls: tls::Direction,
}

fn tcp_seeds(out: &mut Out, flow: &Flow) {
    let mut sides: [Side; 2] = Default::default();
    let mut streams = [HalfStream::new(), HalfStream::new()];
    for p in &flow.packets {
        let i = usize::from(p.from_server);
        let (side, stream) = (&mut sides[i], &mut streams[i]);
        if p.flags & flags::SYN != 0 {
            push_segment(&mut side.segments, SegOp::Syn, p.seq, &[]);
            stream.syn(Seq(p.seq));
        }
        if p.payload.is_empty() {
            continue;
        }
        push_segment(&mut side.segments, SegOp::Data, p.seq, &p.payload);
        let origin = Origin {
            frame: p.frame,
            ts: p.ts,
        };
        stream.segment(Seq(p.seq), &p.payload, origin, &mut |d| match d {
            Delivery::Data { bytes, origin } => {
                if side.stream.len() < STREAM_BYTES {
                    push_chunk(&mut side.chunks, &Chunk::Data(bytes));
                    side.stream.extend_from_slice(bytes);
                }
                side.tls.feed(bytes, origin);
            }
            Delivery::Gap { .. } => {
                push_chunk(&mut side.chunks, &Chunk::Gap);
                side.tls.gap();
            }
        });
    }
    for (i, side) in sides.iter().enumerate() {
        out.seed("reassembly", &side.segments);
        out.seed("tls", &side.chunks);
        chain_seeds(out, &side.tls.events, i == 1);
    }
    let [client, server] = &sides;
    if !client.tls.plaintext.is_empty() || !server.tls.plaintext.is_empty() {
        let options = u8::from(client.tls.saw_tls) | u8::from(server.tls.saw_tls) << 1;
        let mut seed = Vec::new();
        push_plaintext(
            &mut seed,
            options,
            &client.tls.plaintext,
            &server.tls.plaintext,
        );
        out.seed("starttls", &seed);
    }
    quic_frame_seeds(out, &client.stream, &server.stream);
}

/// Each Certificate message as a chain, with the CertificateStatus that followed it.
fn chain_seeds(out: &mut Out, events: &[tls::Located], server: bool) {
    let stapled = events.iter().find_map(|e| match &e.event {
        tls::Event::CertificateStatus { response, .. } => Some(response),
        _ => None,
    });
    for e in events {
        let tls::Event::Certificate(ders) = &e.event else {
            continue;
        };
        let mut seed = vec![u8::from(server) | if stapled.is_some() { CHAIN_STAPLED } else { 0 }];
        for der in ders.iter().map(|d| &d[..]).chain(stapled.map(|s| &s[..])) {
            push_chain_item(&mut seed, der);
        }
        out.seed("x509", &seed);
    }
}

/// The first handshake message of type `ty` in a plaintext TLS stream, header included.
fn handshake_message(stream: &[u8], ty: u8) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut rest = stream;
    while let [content, _, _, a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        let record = tail.get(..len)?;
        if *content == tls::content::HANDSHAKE {
            body.extend_from_slice(record);
        }
        rest = &tail[len..];
    }
    let mut msgs = &body[..];
    while let [t, a, b, c, tail @ ..] = msgs {
        let len = u32::from_be_bytes([0, *a, *b, *c]) as usize;
        let end = (4 + len).min(msgs.len());
        if *t == ty {
            return Some(msgs[..end].to_vec());
        }
        msgs = tail.get(len..)?;
    }
    None
}

/// An RFC 9000 variable-length integer.
fn varint(n: u64) -> Vec<u8> {
    match n {
        0..=0x3f => vec![n as u8],
        0x40..=0x3fff => (n as u16 | 0x4000).to_be_bytes().to_vec(),
        0x4000..=0x3fff_ffff => (n as u32 | 0x8000_0000).to_be_bytes().to_vec(),
        _ => (n | 0xc000_0000_0000_0000).to_be_bytes().to_vec(),
    }
}

fn crypto_frame(offset: usize, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend(varint(offset as u64));
    f.extend(varint(data.len() as u64));
    f.extend_from_slice(data);
    f
}

/// The hellos of a TCP connection as QUIC Initial payloads: whole, with PADDING; in two
/// CRYPTO frames sent in reverse order with an ACK and a PING; and ended by a
/// CONNECTION_CLOSE carrying a TLS alert (RFC 9001 §4.8).
fn quic_frame_seeds(out: &mut Out, client: &[u8], server: &[u8]) {
    let ch = handshake_message(client, tls::hs::CLIENT_HELLO);
    let sh = handshake_message(server, tls::hs::SERVER_HELLO);
    let (mut whole, mut pieces, mut closed) = (Vec::new(), Vec::new(), Vec::new());
    for (from_server, msg) in [(false, &ch), (true, &sh)] {
        let Some(msg) = msg else { continue };
        let mut one = crypto_frame(0, msg);
        one.extend([0; 32]);
        push_datagram(&mut whole, from_server, &one);
        let half = msg.len() / 2;
        let mut second = vec![0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
        second.extend(crypto_frame(half, &msg[half..]));
        push_datagram(&mut pieces, from_server, &second);
        push_datagram(&mut pieces, from_server, &crypto_frame(0, &msg[..half]));
    }
    if let Some(msg) = &ch {
        push_datagram(&mut closed, false, &crypto_frame(0, msg));
        let mut close = vec![0x1c];
        close.extend(varint(0x0128));
        close.extend(varint(0x06));
        let reason = b"handshake failure";
        close.extend(varint(reason.len() as u64));
        close.extend_from_slice(reason);
        push_datagram(&mut closed, true, &close);
    }
    for seed in [whole, pieces, closed] {
        out.seed("quic_frames", &seed);
    }
}
