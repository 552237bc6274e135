//! Small captures written in memory, packet by packet, so that a test knows its expected
//! numbers from how it made the capture. Packets are raw IPv4 (LINKTYPE_RAW, 101) carrying one
//! TCP segment each; containers are classic pcap (either byte order, micro- or nanosecond
//! timestamps) and pcapng built block by block, so a test can also write odd or broken layouts.
//! Checksums are left zero: the analyzer does not check them, and nothing here pretends to be
//! a real stack.

/// LINKTYPE_RAW: each packet starts with its IP header.
pub const LINKTYPE_RAW: u16 = 101;

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH_ACK: u8 = 0x18;
pub const FIN_ACK: u8 = 0x11;
pub const RST: u8 = 0x04;

/// One IPv4 packet (ID 1, don't-fragment, TTL 64) carrying one TCP segment (no options, ack 0,
/// window 65535) from `ports.0` to `ports.1`.
pub fn ipv4_tcp(
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = 20 + 20 + payload.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0];
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&ports.0.to_be_bytes());
    p.extend_from_slice(&ports.1.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// One captured packet: when (microseconds since the Unix epoch) and its bytes from the IP
/// header on.
pub struct Packet {
    pub usec: u64,
    pub bytes: Vec<u8>,
}

/// A TCP/IPv4 packet captured at `usec` (see [`ipv4_tcp`]).
pub fn tcp(
    usec: u64,
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Packet {
    Packet {
        usec,
        bytes: ipv4_tcp(src, dst, ports, seq, flags, payload),
    }
}

/// Appends `x` in the chosen byte order.
pub fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

/// Appends `x` in the chosen byte order.
pub fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

/// A classic pcap of raw IPv4 (version 2.4, snaplen 65535), written as packets are pushed.
pub struct Pcap {
    bytes: Vec<u8>,
    be: bool,
    nano: bool,
}

impl Pcap {
    /// The file header, big-endian if `be`, with nanosecond timestamps if `nano`.
    pub fn new(be: bool, nano: bool) -> Self {
        let mut v = Vec::new();
        put32(&mut v, if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, be);
        put16(&mut v, 2, be);
        put16(&mut v, 4, be);
        put32(&mut v, 0, be);
        put32(&mut v, 0, be);
        put32(&mut v, 65535, be);
        put32(&mut v, u32::from(LINKTYPE_RAW), be);
        Pcap { bytes: v, be, nano }
    }

    /// Appends one record, caplen = len = the packet's size.
    pub fn push(&mut self, p: &Packet) {
        let (be, v) = (self.be, &mut self.bytes);
        let secs = p.usec / 1_000_000;
        let frac = if self.nano {
            (p.usec % 1_000_000) * 1000
        } else {
            p.usec % 1_000_000
        };
        put32(v, secs as u32, be);
        put32(v, frac as u32, be);
        put32(v, p.bytes.len() as u32, be);
        put32(v, p.bytes.len() as u32, be);
        v.extend_from_slice(&p.bytes);
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// A little-endian microsecond pcap, the most common kind.
impl Default for Pcap {
    fn default() -> Self {
        Pcap::new(false, false)
    }
}

/// A whole pcap of `packets`, in the given order (see [`Pcap::new`]).
pub fn pcap(packets: &[Packet], be: bool, nano: bool) -> Vec<u8> {
    let mut w = Pcap::new(be, nano);
    for p in packets {
        w.push(p);
    }
    w.into_bytes()
}

// pcapng (draft-ietf-opsawg-pcapng): blocks appended one by one, so a test can put them in any
// order, repeat them or make them up.

/// Appends one block: type, total length, the body padded to 32 bits, total length again.
pub fn block(v: &mut Vec<u8>, ty: u32, body: &[u8], be: bool) {
    let len = 12 + body.len().next_multiple_of(4);
    put32(v, ty, be);
    put32(v, len as u32, be);
    v.extend_from_slice(body);
    v.resize(v.len() + body.len().next_multiple_of(4) - body.len(), 0);
    put32(v, len as u32, be);
}

/// Section Header Block (version 1.0, section length unknown) starting a section in that byte
/// order.
pub fn shb(v: &mut Vec<u8>, be: bool) {
    let mut body = Vec::new();
    put32(&mut body, 0x1a2b_3c4d, be);
    put16(&mut body, 1, be);
    put16(&mut body, 0, be);
    body.extend_from_slice(&[0xff; 8]);
    block(v, 0x0a0d_0d0a, &body, be);
}

/// Interface Description Block with no options (so microsecond timestamps, no snaplen).
pub fn idb(v: &mut Vec<u8>, link: u16, be: bool) {
    let mut body = Vec::new();
    put16(&mut body, link, be);
    put16(&mut body, 0, be);
    put32(&mut body, 0, be);
    block(v, 1, &body, be);
}

/// Enhanced Packet Block for `p` on interface `iface`.
pub fn epb(v: &mut Vec<u8>, iface: u32, p: &Packet, be: bool) {
    let ticks = p.usec;
    let mut body = Vec::new();
    put32(&mut body, iface, be);
    put32(&mut body, (ticks >> 32) as u32, be);
    put32(&mut body, ticks as u32, be);
    put32(&mut body, p.bytes.len() as u32, be);
    put32(&mut body, p.bytes.len() as u32, be);
    body.extend_from_slice(&p.bytes);
    block(v, 6, &body, be);
}

/// Simple Packet Block for `p` (no interface, no timestamp).
pub fn spb(v: &mut Vec<u8>, p: &Packet, be: bool) {
    let mut body = Vec::new();
    put32(&mut body, p.bytes.len() as u32, be);
    body.extend_from_slice(&p.bytes);
    block(v, 3, &body, be);
}
