//! The input formats of the fuzz targets, in one place: each target reads the fuzzer's bytes
//! with a decoder here, and the seed extractor (`src/bin/seeds.rs`) writes real traffic with
//! the matching encoder, so that seeds and targets cannot drift apart.
//!
//! Every format is a plain run of length-prefixed items that reads *something* from any bytes
//! (a short or missing field ends the list), so the fuzzer never wastes an input on a header
//! it could not satisfy. Multi-byte fields are big-endian.
//!
//! Also here: the checks the targets share (text fit for a terminal, JSON lines that parse)
//! and the small raw-IP pcap writer the `flow` target turns its packets into.

use tlsmortem::capture::Timestamp;
use tlsmortem::flow::reassembly::Origin;

/// Reads fields off the front of the fuzzer's bytes.
pub struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next `n` bytes, or `None` (and nothing consumed) when fewer are left.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        head
    }

    /// Everything left.
    pub fn rest(self) -> &'a [u8] {
        self.rest
    }
}

/// The origin of the `n`th item of an input: frame `n + 1`, a millisecond apart.
pub fn origin(n: usize) -> Origin {
    Origin {
        frame: n as u64 + 1,
        ts: Timestamp(1_700_000_000_000_000_000 + n as i64 * 1_000_000),
    }
}

fn push_len16(out: &mut Vec<u8>, bytes: &[u8], limit: usize) {
    let bytes = &bytes[..bytes.len().min(limit)];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

// ---------------------------------------------------------------------------------------------
// Datagrams (quic, quic_frames, dtls): {u16: bit 15 = from the server, low 15 bits = length;
// the bytes}*.

/// The largest datagram the format carries.
pub const MAX_DATAGRAM: usize = 0x7fff;

/// Datagrams with their direction (`true`: from the server).
pub fn datagrams(bytes: &[u8]) -> Vec<(bool, &[u8])> {
    let mut c = Cursor::new(bytes);
    let mut out = Vec::new();
    while let Some(head) = c.u16() {
        out.push((head & 0x8000 != 0, c.take(usize::from(head & 0x7fff))));
    }
    out
}

pub fn push_datagram(out: &mut Vec<u8>, from_server: bool, payload: &[u8]) {
    let payload = &payload[..payload.len().min(MAX_DATAGRAM)];
    let head = payload.len() as u16 | if from_server { 0x8000 } else { 0 };
    out.extend_from_slice(&head.to_be_bytes());
    out.extend_from_slice(payload);
}

// ---------------------------------------------------------------------------------------------
// Stream chunks (tls): {u16 length; the bytes}*, length 0xffff standing for a gap.

/// One delivery of an ordered TCP stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    Data(&'a [u8]),
    Gap,
}

pub const GAP: u16 = 0xffff;

pub fn chunks(bytes: &[u8]) -> Vec<Chunk<'_>> {
    let mut c = Cursor::new(bytes);
    let mut out = Vec::new();
    while let Some(len) = c.u16() {
        out.push(match len {
            GAP => Chunk::Gap,
            n => Chunk::Data(c.take(usize::from(n))),
        });
    }
    out
}

pub fn push_chunk(out: &mut Vec<u8>, chunk: &Chunk<'_>) {
    match chunk {
        Chunk::Gap => out.extend_from_slice(&GAP.to_be_bytes()),
        Chunk::Data(d) => push_len16(out, d, usize::from(GAP - 1)),
    }
}

// ---------------------------------------------------------------------------------------------
// Segments of one TCP direction (reassembly): {op u8; seq u32; length u16; the bytes}*.

/// What the reassembly target does with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegOp {
    /// A segment whose payload starts at `seq`.
    Data,
    /// A SYN with ISN `seq` (the payload is ignored).
    Syn,
    /// The direction stops buffering (its handshake is over).
    StopBuffering,
    /// The connection ends: everything buffered is delivered.
    Flush,
    /// A segment ending at `seq` lost `length` bytes to the snap length.
    Snapped,
}

pub struct Segment<'a> {
    pub op: SegOp,
    pub seq: u32,
    pub payload: &'a [u8],
    /// The length field as written (the payload may be shorter at the end of the input).
    pub length: u16,
}

impl SegOp {
    fn from_byte(b: u8) -> SegOp {
        // Data most of the time: a random byte should mostly mean a segment.
        match b % 16 {
            1 => SegOp::Syn,
            2 => SegOp::StopBuffering,
            3 => SegOp::Flush,
            4 => SegOp::Snapped,
            _ => SegOp::Data,
        }
    }

    fn byte(self) -> u8 {
        match self {
            SegOp::Data => 0,
            SegOp::Syn => 1,
            SegOp::StopBuffering => 2,
            SegOp::Flush => 3,
            SegOp::Snapped => 4,
        }
    }
}

pub fn segments(bytes: &[u8]) -> Vec<Segment<'_>> {
    let mut c = Cursor::new(bytes);
    let mut out = Vec::new();
    while let (Some(op), Some(seq), Some(length)) = (c.u8(), c.u32(), c.u16()) {
        let op = SegOp::from_byte(op);
        let payload = match op {
            SegOp::Data => c.take(usize::from(length)),
            _ => &[],
        };
        out.push(Segment {
            op,
            seq,
            payload,
            length,
        });
    }
    out
}

pub fn push_segment(out: &mut Vec<u8>, op: SegOp, seq: u32, payload: &[u8]) {
    out.push(op.byte());
    out.extend_from_slice(&seq.to_be_bytes());
    push_len16(out, payload, usize::from(u16::MAX));
}

// ---------------------------------------------------------------------------------------------
// Packets of one flow (flow): a header {options u8; client port u16; server port u16}, then
// {meta u8; TCP flags u8; TTL u8; seq u32; ack u32; window u16; µs since the last packet u32;
// length u16; the bytes}*. Options bit 0: IPv6. Meta bit 0: from the server; bit 1: UDP.

pub struct FlowHeader {
    pub ipv6: bool,
    pub client_port: u16,
    pub server_port: u16,
}

pub struct FlowPacket<'a> {
    pub from_server: bool,
    pub udp: bool,
    pub flags: u8,
    pub ttl: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub delta_us: u32,
    pub payload: &'a [u8],
}

pub fn flow(bytes: &[u8]) -> Option<(FlowHeader, Vec<FlowPacket<'_>>)> {
    let mut c = Cursor::new(bytes);
    let header = FlowHeader {
        ipv6: c.u8()? & 1 != 0,
        client_port: c.u16()?,
        server_port: c.u16()?,
    };
    let mut packets = Vec::new();
    while let Some([meta, flags, ttl]) = c.array::<3>() {
        let (Some(seq), Some(ack), Some(window), Some(delta_us), Some(len)) =
            (c.u32(), c.u32(), c.u16(), c.u32(), c.u16())
        else {
            break;
        };
        packets.push(FlowPacket {
            from_server: meta & 1 != 0,
            udp: meta & 2 != 0,
            flags,
            ttl,
            seq,
            ack,
            window,
            delta_us,
            payload: c.take(usize::from(len)),
        });
    }
    Some((header, packets))
}

pub fn push_flow_header(out: &mut Vec<u8>, h: &FlowHeader) {
    out.push(u8::from(h.ipv6));
    out.extend_from_slice(&h.client_port.to_be_bytes());
    out.extend_from_slice(&h.server_port.to_be_bytes());
}

pub fn push_flow_packet(out: &mut Vec<u8>, p: &FlowPacket<'_>) {
    out.push(u8::from(p.from_server) | u8::from(p.udp) << 1);
    out.extend_from_slice(&[p.flags, p.ttl]);
    out.extend_from_slice(&p.seq.to_be_bytes());
    out.extend_from_slice(&p.ack.to_be_bytes());
    out.extend_from_slice(&p.window.to_be_bytes());
    out.extend_from_slice(&p.delta_us.to_be_bytes());
    push_len16(out, p.payload, usize::from(u16::MAX));
}

/// LINKTYPE_RAW: frames start with the IP header.
const LINKTYPE_RAW: u32 = 101;

/// A classic little-endian microsecond pcap of raw IP frames, one per packet of the flow:
/// client 10.0.0.1 (or 2001:db8::1), server 10.0.0.2 (or 2001:db8::2). IP and TCP/UDP headers
/// are written by hand, without options and with zero checksums (tlsmortem checks none), so
/// every field the fuzzer chose reaches the analyzer as it chose it.
pub fn flow_pcap(h: &FlowHeader, packets: &[FlowPacket<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    let mut usec: u64 = 1_700_000_000_000_000;
    for (i, p) in packets.iter().enumerate() {
        usec += u64::from(p.delta_us);
        let frame = ip_frame(h, p, i as u16);
        out.extend_from_slice(&((usec / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((usec % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

fn ip_frame(h: &FlowHeader, p: &FlowPacket<'_>, ip_id: u16) -> Vec<u8> {
    let (sport, dport) = if p.from_server {
        (h.server_port, h.client_port)
    } else {
        (h.client_port, h.server_port)
    };
    let mut l4 = Vec::with_capacity(20 + p.payload.len());
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    if p.udp {
        let len = (8 + p.payload.len()).min(usize::from(u16::MAX)) as u16;
        l4.extend_from_slice(&len.to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
    } else {
        l4.extend_from_slice(&p.seq.to_be_bytes());
        l4.extend_from_slice(&p.ack.to_be_bytes());
        l4.extend_from_slice(&[0x50, p.flags]);
        l4.extend_from_slice(&p.window.to_be_bytes());
        l4.extend_from_slice(&[0, 0, 0, 0]);
    }
    l4.extend_from_slice(p.payload);
    let proto = if p.udp { 17 } else { 6 };
    let (client, server) = (1u8, 2u8);
    let (src, dst) = if p.from_server {
        (server, client)
    } else {
        (client, server)
    };
    let mut ip = Vec::with_capacity(40 + l4.len());
    if h.ipv6 {
        ip.extend_from_slice(&[0x60, 0, 0, 0]);
        ip.extend_from_slice(&(l4.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
        ip.extend_from_slice(&[proto, p.ttl]);
        for host in [src, dst] {
            ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            ip.extend_from_slice(&[0; 11]);
            ip.push(host);
        }
    } else {
        let total = (20 + l4.len()).min(usize::from(u16::MAX)) as u16;
        ip.extend_from_slice(&[0x45, 0]);
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&ip_id.to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, p.ttl, proto, 0, 0]);
        ip.extend_from_slice(&[10, 0, 0, src, 10, 0, 0, dst]);
    }
    ip.extend_from_slice(&l4);
    ip
}

// ---------------------------------------------------------------------------------------------
// Certificate chains (x509): {options u8}, then {u16 length; DER}*. The options pick the role,
// the trust store, the moment and the host (see the target); with bit 7 set the last item is
// the stapled OCSP response instead of a certificate.

pub const CHAIN_STAPLED: u8 = 0x80;

pub fn chain(bytes: &[u8]) -> (u8, Vec<&[u8]>) {
    let mut c = Cursor::new(bytes);
    let options = c.u8().unwrap_or(0);
    let mut items = Vec::new();
    while let Some(len) = c.u16() {
        items.push(c.take(usize::from(len)));
    }
    (options, items)
}

pub fn push_chain_item(out: &mut Vec<u8>, der: &[u8]) {
    push_len16(out, der, usize::from(u16::MAX));
}

// ---------------------------------------------------------------------------------------------
// Plaintext before TLS (starttls): {options u8; client length u16; the client's bytes; the
// server's bytes}. Options bit 0: TLS followed from the client, bit 1: from the server.

pub struct Plaintext<'a> {
    pub options: u8,
    pub client: &'a [u8],
    pub server: &'a [u8],
}

pub fn plaintext(bytes: &[u8]) -> Plaintext<'_> {
    let mut c = Cursor::new(bytes);
    let options = c.u8().unwrap_or(0);
    let len = c.u16().unwrap_or(0);
    let client = c.take(usize::from(len));
    Plaintext {
        options,
        client,
        server: c.rest(),
    }
}

pub fn push_plaintext(out: &mut Vec<u8>, options: u8, client: &[u8], server: &[u8]) {
    out.push(options);
    push_len16(out, client, usize::from(u16::MAX));
    out.extend_from_slice(server);
}

// ---------------------------------------------------------------------------------------------
// One frame (net): {link type selector u8; the frame}. Selectors below LINK_TYPES.len() pick a
// link type tlsmortem decodes; any other is taken as the LINKTYPE value itself.

pub const LINK_TYPES: [u32; 12] = [1, 0, 101, 113, 276, 228, 229, 108, 9, 50, 12, 14];

pub fn frame(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (&sel, data) = bytes.split_first()?;
    let link = LINK_TYPES
        .get(usize::from(sel))
        .copied()
        .unwrap_or(u32::from(sel));
    Some((link, data))
}

/// The selector of `link_type`, when it has one.
pub fn frame_selector(link_type: u32) -> Option<u8> {
    match LINK_TYPES.iter().position(|&l| l == link_type) {
        Some(i) => Some(i as u8),
        None => u8::try_from(link_type)
            .ok()
            .filter(|&b| usize::from(b) >= LINK_TYPES.len()),
    }
}

// ---------------------------------------------------------------------------------------------
// Checks shared by the targets.

/// Characters that must never reach a terminal from the wire: what `tlsmortem::text::shown`
/// escapes (C0 and C1 controls, DEL, the bidirectional overrides). Newlines the report writes
/// itself are allowed by [`assert_terminal_safe`].
pub fn unsafe_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Panics when a report meant for a terminal is not UTF-8 or holds a character that could
/// move the cursor, rewrite a line or reorder text.
pub fn assert_terminal_safe(what: &str, out: &[u8]) {
    let text = match std::str::from_utf8(out) {
        Ok(t) => t,
        Err(e) => panic!("{what}: not UTF-8: {e}"),
    };
    if let Some((i, c)) = text
        .char_indices()
        .find(|&(_, c)| c != '\n' && unsafe_on_terminal(c))
    {
        let from = text.floor_char_boundary(i.saturating_sub(60));
        panic!("{what}: raw {c:?} at byte {i}, after {:?}", &text[from..i]);
    }
}

/// Panics unless `line` is one JSON object followed by a newline.
pub fn assert_json_line(line: &[u8]) {
    let Some(body) = line.strip_suffix(b"\n") else {
        panic!("JSON line without its newline");
    };
    assert!(!body.contains(&b'\n'), "newline inside a JSON line");
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => assert!(v.is_object(), "JSON line is not an object"),
        Err(e) => panic!("JSON line does not parse: {e}"),
    }
}

/// A writer whose bytes stay readable after a reporter took it.
#[derive(Clone, Default)]
pub struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Analyses a capture held in memory as the command would, on `threads` workers with chunks of
/// `chunk_bytes` (0: the default), and renders every record the ways the command can: JSON
/// lines, the text report, the summary tables and the `certs` listing. Checks that each JSON
/// line parses and that neither the text outputs nor an error hold a character unsafe on a
/// terminal; returns the JSON lines, or `None` when the bytes are not a capture.
pub fn analyze_and_report(
    bytes: &[u8],
    threads: usize,
    chunk_bytes: usize,
) -> Option<Vec<Vec<u8>>> {
    use tlsmortem::report::{json_line, ChainExport, Reporter, SummaryText, Text};
    let config = tlsmortem::Config {
        all_flows: true,
        threads,
        chunk_bytes,
        later: Some(tlsmortem::Later {
            label: "--now".into(),
            at: 1_900_000_000,
        }),
        ..Default::default()
    };
    let outs: [Shared; 3] = Default::default();
    let [a, b, c] = outs.clone();
    let mut reporters: [Box<dyn Reporter>; 3] = [
        Box::new(Text::new(a)),
        Box::new(SummaryText::new(b)),
        Box::new(ChainExport::new(None, c).expect("no directory to create")),
    ];
    let mut lines = Vec::new();
    let result = tlsmortem::analyze_bytes("fuzz.pcap", bytes, &config, &mut |c| {
        let line = json_line(&c);
        assert_json_line(&line);
        lines.push(line);
        for r in &mut reporters {
            r.connection(&c).expect("writing to memory");
        }
    });
    for (r, (out, what)) in
        reporters
            .iter_mut()
            .zip(outs.iter().zip(["text report", "summary", "certs listing"]))
    {
        r.finish().expect("writing to memory");
        assert_terminal_safe(what, &out.0.borrow());
    }
    match result {
        Ok(_) => Some(lines),
        Err(e) => {
            assert_terminal_safe("error", e.to_string().as_bytes());
            None
        }
    }
}

/// Feeds datagrams to a UDP flow's conversation, which decides from the first ones whether the
/// flow carries QUIC or DTLS and who the client is, and copies the events into its directions
/// (client: side 0). Checks the per-direction event cap.
pub fn udp_conversation(datagrams: &[(bool, &[u8])]) {
    use tlsmortem::flow::FlowApp;
    use tlsmortem::proto::conversation::Conversation;
    let mut conv = Conversation::default();
    for (n, &(from_server, payload)) in datagrams.iter().enumerate() {
        if !conv.wants_data(usize::from(from_server)) {
            continue;
        }
        conv.datagram(usize::from(from_server), payload, origin(n));
    }
    let _ = conv.client_side();
    for d in &conv.dirs {
        assert!(d.events.len() <= tlsmortem::proto::tls::MAX_EVENTS + 1);
    }
}
