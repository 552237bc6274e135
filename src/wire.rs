//! wire: one frame in; the IP and TCP/UDP header facts and a payload slice out.
//!
//! INTERFACE ONLY (implementation pending).
use std::net::IpAddr;

/// TCP flag bits as on the wire (low byte of the flags field).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// Facts of the IP header that later diagnoses need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpFacts {
    /// 4 or 6.
    pub version: u8,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// IPv4 identification; None for IPv6.
    pub ip_id: Option<u16>,
    /// IPv4 DF bit.
    pub dont_fragment: bool,
}

/// TCP options that diagnoses use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr)
    pub timestamps: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// Low 8 flag bits, see [`flags`].
    pub flags: u8,
    pub window: u16,
    pub options: TcpOptions,
    /// Payload as captured (may be shorter than the segment when the snap length cut it:
    /// see `Packet::payload_missing`).
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
}

#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ip: IpFacts,
    pub transport: Transport<'a>,
    /// Payload bytes the IP/TCP/UDP lengths promise but the capture does not hold (snap length).
    pub payload_missing: u32,
}

/// Why a frame produced no packet. Counted per kind by the caller; never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Not IPv4/IPv6 (ARP, LLDP, …).
    NotIp,
    /// IP, but neither TCP nor UDP (ICMP, ESP, …).
    OtherTransport,
    /// A link type this build does not decode.
    UnsupportedLinkType(u32),
    /// An IPv4 fragment other than the first, or a first fragment: not reassembled.
    Ipv4Fragment,
    /// An IPv6 Fragment header.
    Ipv6Fragment,
    /// Headers that are cut short or contradict themselves.
    Malformed(&'static str),
}

/// Decodes one frame of the given LINKTYPE.
pub fn decode(link_type: u32, data: &[u8]) -> Result<Packet<'_>, Skip> {
    let _ = (link_type, data);
    unimplemented!("pending")
}
