//! net::tunnel: the headers that carry one packet inside another. Each decapsulator takes the
//! bytes after its outer header (an EtherType's payload, an IP payload, a UDP payload) and
//! gives what comes next ([`Next`]: an Ethernet frame, an EtherType and its payload, an IP
//! packet, a PPP frame) and the [`Layer`] it stripped, or why it cannot.
//!
//! Decoded: MPLS label stacks (RFC 3032; after the bottom of stack an IP packet is told by its
//! version nibble, a first nibble of 0 is an Ethernet pseudowire control word, RFC 4385/4448),
//! PPPoE session frames (RFC 2516), GRE (RFC 2784 with the RFC 2890 key and sequence number)
//! carrying IP, MPLS, transparent Ethernet bridging (0x6558) or ERSPAN type I/II (0x88BE) and
//! type III (0x22EB), VXLAN (RFC 7348, UDP 4789; and Linux's 8472 when the header's reserved
//! bits are clear), Geneve (RFC 8926, UDP 6081, options skipped by their length) and GTP-U
//! G-PDUs (3GPP TS 29.281, UDP 2152, extension headers followed by their length). IP-in-IP,
//! 6in4, 4in6 and 6in6 need no header of their own: `ip` pushes their layer and goes on with
//! the inner packet.
//!
//! etherparse (which the rest of `net` uses) has none of these headers, so they are read here,
//! each a few fixed fields, with every length checked before it is read.
//!
//! Guarantees: never panics, never allocates, no recursion. A packet carries at most
//! [`MAX_ENCAP`] layers ([`Encap::push`] refuses more), which bounds the work a frame of
//! nested tunnels can cause; the caller's loop stops there with [`Skip::TooDeep`].
//!
//! Deliberately not done: VXLAN-GPE, NVGRE's flow id, GRE version 1 (PPTP), L2TP, GTP-U
//! messages other than G-PDU (echo, error indication, end marker), Ethernet-over-MPLS without
//! a control word (the first nibble of an Ethernet destination MAC cannot be told from IP).

use super::link::be16;
use super::Skip;
use std::fmt;

/// Tunnel layers one packet may carry (an MPLS label counts as one). Real stacks use two or
/// three (MPLS + VXLAN, GRE + ERSPAN); the cap bounds what an adversarial frame costs.
pub const MAX_ENCAP: usize = 8;

/// What a layer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tunnel {
    /// An MPLS label (id: the label).
    #[default]
    Mpls,
    /// A PPPoE session (id: the session id).
    Pppoe,
    /// GRE without a key.
    Gre,
    /// GRE with a key (id: the key).
    GreKey,
    /// ERSPAN type I: a GRE payload of 0x88BE without sequence number, no ERSPAN header.
    Erspan1,
    /// ERSPAN type II (id: the session id).
    Erspan2,
    /// ERSPAN type III (id: the session id).
    Erspan3,
    /// VXLAN (id: the VNI).
    Vxlan,
    /// Geneve (id: the VNI).
    Geneve,
    /// GTP-U (id: the TEID of the packet's receiver).
    Gtpu,
    /// IPv4 in IPv4 (IP protocol 4).
    IpIp,
    /// IPv6 in IPv4 (IP protocol 41).
    SixInFour,
    /// IPv4 in IPv6.
    FourInSix,
    /// IPv6 in IPv6.
    SixInSix,
}

impl Tunnel {
    /// The name in the record's `encapsulation` list.
    pub const fn name(self) -> &'static str {
        match self {
            Tunnel::Mpls => "mpls",
            Tunnel::Pppoe => "pppoe",
            Tunnel::Gre | Tunnel::GreKey => "gre",
            Tunnel::Erspan1 => "erspan1",
            Tunnel::Erspan2 => "erspan2",
            Tunnel::Erspan3 => "erspan3",
            Tunnel::Vxlan => "vxlan",
            Tunnel::Geneve => "geneve",
            Tunnel::Gtpu => "gtpu",
            Tunnel::IpIp => "ipip",
            Tunnel::SixInFour => "6in4",
            Tunnel::FourInSix => "4in6",
            Tunnel::SixInSix => "6in6",
        }
    }

    const fn has_id(self) -> bool {
        !matches!(
            self,
            Tunnel::Gre
                | Tunnel::Erspan1
                | Tunnel::IpIp
                | Tunnel::SixInFour
                | Tunnel::FourInSix
                | Tunnel::SixInSix
        )
    }

    /// Whether the id names a virtual network, the same both ways, inside which addresses are
    /// private: VXLAN and Geneve VNIs, GRE keys, ERSPAN sessions (two sessions may mirror the
    /// same traffic). A GTP-U TEID is not: each end chooses the TEID it receives on (TS 29.281
    /// §5.1), so the two directions of one connection carry different TEIDs; MPLS labels are
    /// swapped hop by hop and differ per direction too.
    const fn keys_flows(self) -> bool {
        matches!(
            self,
            Tunnel::Vxlan | Tunnel::Geneve | Tunnel::GreKey | Tunnel::Erspan2 | Tunnel::Erspan3
        )
    }
}

/// One tunnel layer a packet came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Layer {
    pub kind: Tunnel,
    pub id: u32,
}

impl Layer {
    pub const fn new(kind: Tunnel, id: u32) -> Layer {
        Layer { kind, id }
    }
}

/// `vxlan:42`, `gre`, `gre:7`, `6in4`: the spelling in the record.
impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind.has_id() {
            write!(f, "{}:{}", self.kind.name(), self.id)
        } else {
            f.write_str(self.kind.name())
        }
    }
}

/// The tunnel layers a packet came through, outermost first; empty for plain traffic. Kinds and
/// ids are kept in two arrays rather than one of [`Layer`]s: every packet carries this, and
/// the padding of eight layers would make each packet 24 bytes larger to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Encap {
    ids: [u32; MAX_ENCAP],
    kinds: [Tunnel; MAX_ENCAP],
    len: u8,
}

impl Encap {
    /// Adds the next inner layer; [`Skip::TooDeep`] past [`MAX_ENCAP`].
    pub fn push(&mut self, layer: Layer) -> Result<(), Skip> {
        let i = usize::from(self.len);
        match (self.kinds.get_mut(i), self.ids.get_mut(i)) {
            (Some(kind), Some(id)) => {
                *kind = layer.kind;
                *id = layer.id;
                self.len += 1;
                Ok(())
            }
            _ => Err(Skip::TooDeep),
        }
    }

    /// The layers, outermost first.
    pub fn layers(&self) -> impl Iterator<Item = Layer> + '_ {
        self.kinds
            .iter()
            .zip(&self.ids)
            .take(usize::from(self.len))
            .map(|(&kind, &id)| Layer { kind, id })
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What tells apart flows with the same inner addresses and ports in different virtual
    /// networks: the layers that key flows ([`Tunnel`]'s VNIs, GRE keys, ERSPAN sessions) folded
    /// into one word; 0 when there are none, so plain flows keep their keys.
    pub fn network(&self) -> u64 {
        if self.len == 0 {
            return 0;
        }
        self.layers()
            .filter(|l| l.kind.keys_flows())
            .fold(0, |acc, l| {
                let word = (u64::from(l.kind as u8 + 1) << 32) | u64::from(l.id);
                (acc.rotate_left(29) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            })
    }
}

/// What a decapsulator found inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'a> {
    /// A whole Ethernet II frame without FCS.
    Frame(&'a [u8]),
    /// An EtherType and the bytes after it.
    Ether(u16, &'a [u8]),
    /// An IP packet; the version when the outer header announced it, else told by the nibble.
    Ip(&'a [u8], Option<u8>),
    /// A PPP frame starting with its protocol field.
    Ppp(&'a [u8]),
}

pub(super) mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q customer tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag still emitted by some switches.
    pub const QINQ_OLD: u16 = 0x9100;
    /// MPLS unicast and multicast (RFC 5332).
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    /// PPPoE session stage (RFC 2516 §4).
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// Transparent Ethernet bridging: a whole Ethernet frame (GRE, Geneve).
    pub const TEB: u16 = 0x6558;
    /// ERSPAN type I and II (GRE protocol type).
    pub const ERSPAN_2: u16 = 0x88be;
    /// ERSPAN type III.
    pub const ERSPAN_3: u16 = 0x22eb;
}

/// Well-known UDP destination ports of the UDP tunnels.
pub mod port {
    pub const VXLAN: u16 = 4789;
    /// The Linux kernel's VXLAN port when none is given (it predates IANA's), which flannel's
    /// and Cilium's VXLAN overlays use: what a Kubernetes node's own interface carries.
    pub const VXLAN_LINUX: u16 = 8472;
    pub const GENEVE: u16 = 6081;
    pub const GTP_U: u16 = 2152;
}

/// An MPLS label stack (RFC 3032 §2.1): one layer per label, up to the bottom of stack; then
/// IPv4 or IPv6 by the version nibble (RFC 4182 leaves the payload to the label's binding, which
/// a capture does not have; every analyser guesses like this), or an Ethernet frame behind a
/// pseudowire control word of first nibble 0 (RFC 4385 §3, RFC 4448).
pub(super) fn mpls<'a>(mut data: &'a [u8], encap: &mut Encap) -> Result<Next<'a>, Skip> {
    loop {
        let (entry, rest) = data
            .split_first_chunk::<4>()
            .ok_or(Skip::Malformed("mpls label"))?;
        let entry = u32::from_be_bytes(*entry);
        encap.push(Layer::new(Tunnel::Mpls, entry >> 12))?;
        data = rest;
        if entry & 0x100 != 0 {
            break;
        }
    }
    match data.first().map(|b| b >> 4) {
        Some(4) => Ok(Next::Ip(data, Some(4))),
        Some(6) => Ok(Next::Ip(data, Some(6))),
        Some(0) => data
            .get(4..)
            .map(Next::Frame)
            .ok_or(Skip::Malformed("mpls control word")),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Malformed("mpls payload")),
    }
}

/// A PPPoE session frame (RFC 2516 §4): version and type 1, code 0, the session id, a length,
/// then a PPP frame. The length bounds the PPP frame (Ethernet padding stays out).
pub(super) fn pppoe<'a>(data: &'a [u8], encap: &mut Encap) -> Result<Next<'a>, Skip> {
    let (header, rest) = data
        .split_first_chunk::<6>()
        .ok_or(Skip::Malformed("pppoe header"))?;
    if header[0] != 0x11 || header[1] != 0 {
        return Err(Skip::Malformed("pppoe header"));
    }
    encap.push(Layer::new(Tunnel::Pppoe, u32::from(be16(header, 2))))?;
    let length = usize::from(be16(header, 4));
    Ok(Next::Ppp(rest.get(..length).unwrap_or(rest)))
}

/// GRE (RFC 2784, with the RFC 2890 key and sequence number). The protocol type is an
/// EtherType; transparent Ethernet bridging and ERSPAN carry whole Ethernet frames.
pub(super) fn gre<'a>(data: &'a [u8], encap: &mut Encap) -> Result<Next<'a>, Skip> {
    const CHECKSUM: u16 = 0x8000;
    const ROUTING: u16 = 0x4000;
    const KEY: u16 = 0x2000;
    const SEQUENCE: u16 = 0x1000;
    const VERSION: u16 = 0x0007;
    let (header, mut rest) = data
        .split_first_chunk::<4>()
        .ok_or(Skip::Malformed("gre header"))?;
    let flags = be16(header, 0);
    let protocol = be16(header, 2);
    // Version 1 is PPTP's enhanced GRE; source routing (RFC 1701) was removed by RFC 2784.
    if flags & (VERSION | ROUTING) != 0 {
        return Err(Skip::OtherTransport);
    }
    let mut word = |present: bool| -> Result<Option<u32>, Skip> {
        if !present {
            return Ok(None);
        }
        let (w, tail) = rest
            .split_first_chunk::<4>()
            .ok_or(Skip::Malformed("gre header"))?;
        rest = tail;
        Ok(Some(u32::from_be_bytes(*w)))
    };
    word(flags & CHECKSUM != 0)?;
    let key = word(flags & KEY != 0)?;
    let sequence = word(flags & SEQUENCE != 0)?;
    encap.push(match key {
        Some(k) => Layer::new(Tunnel::GreKey, k),
        None => Layer::new(Tunnel::Gre, 0),
    })?;
    match protocol {
        ethertype::TEB => Ok(Next::Frame(rest)),
        // Type I has no sequence number and no ERSPAN header (Cisco's drafts, as Wireshark
        // reads them).
        ethertype::ERSPAN_2 if sequence.is_none() => {
            encap.push(Layer::new(Tunnel::Erspan1, 0))?;
            Ok(Next::Frame(rest))
        }
        ethertype::ERSPAN_2 => erspan2(rest, encap),
        ethertype::ERSPAN_3 => erspan3(rest, encap),
        other => Ok(Next::Ether(other, rest)),
    }
}

/// ERSPAN type II header (draft-foschiano-erspan §4.1): version 1 in the top nibble, the
/// session id in the low 10 bits of the second half-word, 8 bytes, then the mirrored frame.
fn erspan2<'a>(data: &'a [u8], encap: &mut Encap) -> Result<Next<'a>, Skip> {
    let (header, rest) = data
        .split_first_chunk::<8>()
        .ok_or(Skip::Malformed("erspan header"))?;
    if header[0] >> 4 != 1 {
        return Err(Skip::Malformed("erspan version"));
    }
    encap.push(Layer::new(
        Tunnel::Erspan2,
        u32::from(be16(header, 2) & 0x3ff),
    ))?;
    Ok(Next::Frame(rest))
}

/// ERSPAN type III header (draft-foschiano-erspan §4.2): version 2, session id as in type II,
/// a timestamp, SGT, then P, frame type (FT, 5 bits: 0 Ethernet, 2 IP), hardware id, D, Gra
/// and O (an 8-byte platform-specific subheader follows when set). 12 bytes.
fn erspan3<'a>(data: &'a [u8], encap: &mut Encap) -> Result<Next<'a>, Skip> {
    let (header, rest) = data
        .split_first_chunk::<12>()
        .ok_or(Skip::Malformed("erspan header"))?;
    if header[0] >> 4 != 2 {
        return Err(Skip::Malformed("erspan version"));
    }
    encap.push(Layer::new(
        Tunnel::Erspan3,
        u32::from(be16(header, 2) & 0x3ff),
    ))?;
    let bits = be16(header, 10);
    let frame_type = (bits >> 10) & 0x1f;
    let rest = if bits & 1 != 0 {
        rest.get(8..).ok_or(Skip::Malformed("erspan subheader"))?
    } else {
        rest
    };
    match frame_type {
        0 => Ok(Next::Frame(rest)),
        2 => Ok(Next::Ip(rest, None)),
        _ => Err(Skip::NotIp),
    }
}

/// The UDP tunnels, by destination port. `Ok(None)`: not one of them, or a header that does
/// not look like the tunnel's (then the datagram is analysed as plain UDP, as before tunnels
/// were decoded).
pub(super) fn udp<'a>(
    dst_port: u16,
    payload: &'a [u8],
    encap: &mut Encap,
) -> Result<Option<Next<'a>>, Skip> {
    match dst_port {
        port::VXLAN => vxlan(payload, encap),
        // Not IANA's port, so other traffic may use it: only a header whose reserved bits are
        // clear is taken for VXLAN (the group-policy extension's G bit allowed).
        port::VXLAN_LINUX if vxlan_strict(payload) => vxlan(payload, encap),
        port::GENEVE => geneve(payload, encap),
        port::GTP_U => gtpu(payload, encap),
        _ => Ok(None),
    }
}

/// VXLAN (RFC 7348 §5): flags with the I bit (0x08), 24 reserved bits, the VNI, 8 reserved
/// bits; then an Ethernet frame.
fn vxlan<'a>(data: &'a [u8], encap: &mut Encap) -> Result<Option<Next<'a>>, Skip> {
    let Some((header, rest)) = data.split_first_chunk::<8>() else {
        return Ok(None);
    };
    if header[0] & 0x08 == 0 {
        return Ok(None);
    }
    let vni = u32::from_be_bytes([0, header[4], header[5], header[6]]);
    encap.push(Layer::new(Tunnel::Vxlan, vni))?;
    Ok(Some(Next::Frame(rest)))
}

/// A VXLAN header whose reserved bits are clear: flags with the I bit alone, or with the
/// group-policy extension's G bit (its policy bits and group id then fill bytes 1 to 3).
fn vxlan_strict(data: &[u8]) -> bool {
    matches!(
        data.get(..8),
        Some([0x08, 0, 0, 0, _, _, _, 0] | [0x88, _, _, _, _, _, _, 0])
    )
}

/// Geneve (RFC 8926 §3.4): version 0, options length in 4-byte words, flags, protocol type
/// (an EtherType, 0x6558 for Ethernet), VNI; options skipped by their total length.
fn geneve<'a>(data: &'a [u8], encap: &mut Encap) -> Result<Option<Next<'a>>, Skip> {
    let Some((header, rest)) = data.split_first_chunk::<8>() else {
        return Ok(None);
    };
    if header[0] >> 6 != 0 {
        return Ok(None);
    }
    let options = usize::from(header[0] & 0x3f) * 4;
    let protocol = be16(header, 2);
    let vni = u32::from_be_bytes([0, header[4], header[5], header[6]]);
    encap.push(Layer::new(Tunnel::Geneve, vni))?;
    let inner = rest
        .get(options..)
        .ok_or(Skip::Malformed("geneve options"))?;
    Ok(Some(match protocol {
        ethertype::TEB => Next::Frame(inner),
        other => Next::Ether(other, inner),
    }))
}

/// GTP-U (3GPP TS 29.281 §5): version 1 with protocol type 1, message type 255 (G-PDU) for
/// user data, a length of what follows the first 8 bytes, the TEID; when E, S or PN is set, a
/// sequence number, N-PDU number and next extension header type (4 bytes); each extension
/// header gives its own length in 4-byte words and the next one's type (§5.2.1). The T-PDU is an
/// IP packet.
fn gtpu<'a>(data: &'a [u8], encap: &mut Encap) -> Result<Option<Next<'a>>, Skip> {
    const G_PDU: u8 = 0xff;
    let Some((header, rest)) = data.split_first_chunk::<8>() else {
        return Ok(None);
    };
    let flags = header[0];
    if flags >> 5 != 1 || flags & 0x10 == 0 {
        return Ok(None);
    }
    encap.push(Layer::new(
        Tunnel::Gtpu,
        u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
    ))?;
    if header[1] != G_PDU {
        return Err(Skip::NotIp);
    }
    // The length bounds the message (padding after it stays out).
    let length = usize::from(be16(header, 2));
    let mut rest = rest.get(..length).unwrap_or(rest);
    if flags & 0x07 != 0 {
        let (optional, tail) = rest
            .split_first_chunk::<4>()
            .ok_or(Skip::Malformed("gtp-u header"))?;
        rest = tail;
        let mut next_type = if flags & 0x04 != 0 { optional[3] } else { 0 };
        // Each extension header is at least 4 bytes, so this loop ends within the packet.
        while next_type != 0 {
            let words = usize::from(*rest.first().ok_or(Skip::Malformed("gtp-u extension"))?);
            let len = words * 4;
            if len == 0 {
                return Err(Skip::Malformed("gtp-u extension"));
            }
            let ext = rest.get(..len).ok_or(Skip::Malformed("gtp-u extension"))?;
            next_type = ext.last().copied().unwrap_or(0);
            rest = rest.get(len..).unwrap_or_default();
        }
    }
    Ok(Some(Next::Ip(rest, None)))
}
