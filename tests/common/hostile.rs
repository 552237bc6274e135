//! Hostile captures, built packet by packet: each class of input that once took the analyzer's
//! memory or time without bound (issue 13), at any size a test asks for. Everything here is
//! made from how the attack works (a length field that claims more than was sent, a flood of
//! cheap blocks or packets, a chain of certificates sharing one name), so the bounds a test
//! asserts come from the construction, not from the code under test.

use super::pcap::{epb, idb, put16, shb, tcp, Packet, Pcap, ACK, PSH_ACK, SYN};
use std::io::Write;

/// One IPv4 packet (TTL 64) carrying one UDP datagram from `ports.0` to `ports.1`.
pub fn udp(usec: u64, src: [u8; 4], dst: [u8; 4], ports: (u16, u16), payload: &[u8]) -> Packet {
    let total = 20 + 8 + payload.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&ports.0.to_be_bytes());
    p.extend_from_slice(&ports.1.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    Packet { usec, bytes: p }
}

/// A distinct client address for flow `i` (10.0.0.0/8).
pub fn client(i: u32) -> [u8; 4] {
    [10, (i >> 16) as u8, (i >> 8) as u8, i as u8]
}

pub const SERVER: [u8; 4] = [192, 0, 2, 1];

/// DTLS: `flows` UDP flows, each one datagram holding the first `sent` bytes of a ClientHello
/// fragment that claims a message of `claimed` bytes (RFC 6347 §4.2.3 header). The rest never
/// comes.
pub fn dtls_claims(flows: u32, claimed: u32, sent: u16) -> Vec<u8> {
    let mut pcap = Pcap::default();
    for i in 0..flows {
        let mut hs = vec![1];
        hs.extend_from_slice(&claimed.to_be_bytes()[1..]);
        hs.extend_from_slice(&[0, 0, 0, 0, 0]); // message_seq 0, fragment_offset 0
        hs.extend_from_slice(&u32::from(sent).to_be_bytes()[1..]);
        hs.extend(std::iter::repeat_n(0x41, usize::from(sent)));
        let mut rec = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        pcap.push(&udp(
            u64::from(i),
            client(i),
            SERVER,
            (40000 + (i % 20000) as u16, 4433),
            &rec,
        ));
    }
    pcap.into_bytes()
}

/// A pcapng section with `interfaces` Interface Description Blocks and then one packet on the
/// first interface (a SYN).
pub fn idb_flood(interfaces: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(28 + interfaces * 20 + 100);
    shb(&mut v, false);
    for _ in 0..interfaces {
        idb(&mut v, 101, false);
    }
    let p = tcp(0, client(1), SERVER, (40000, 443), 1, SYN, &[]);
    epb(&mut v, 0, &p, false);
    v
}

/// `bytes` gzip-compressed (fast level: the floods compress to almost nothing).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

/// `n` SYNs to port 443 from distinct clients, all with the same timestamp: no flow can
/// expire, none closes.
pub fn syn_flood(n: u32) -> Vec<u8> {
    let mut pcap = Pcap::default();
    for i in 0..n {
        pcap.push(&tcp(
            1_000_000,
            client(i),
            SERVER,
            (40000 + (i % 20000) as u16, 443),
            i,
            SYN,
            &[],
        ));
    }
    pcap.into_bytes()
}

// --- DER, just enough to rewrite certificates -----------------------------------------------

/// One DER element: tag and contents, with the children parsed when it is constructed.
#[derive(Clone)]
pub struct Der {
    pub tag: u8,
    pub content: Vec<u8>,
    pub children: Option<Vec<Der>>,
}

impl Der {
    /// Parses one element at the start of `b` (single-byte tags, definite lengths); returns it
    /// and the rest.
    pub fn parse(b: &[u8]) -> (Der, &[u8]) {
        let tag = b[0];
        let (len, head) = match b[1] {
            n if n < 0x80 => (usize::from(n), 2),
            n => {
                let k = usize::from(n & 0x7f);
                let len = b[2..2 + k]
                    .iter()
                    .fold(0usize, |a, &x| a << 8 | usize::from(x));
                (len, 2 + k)
            }
        };
        let content = b[head..head + len].to_vec();
        let children = (tag & 0x20 != 0).then(|| {
            let mut out = Vec::new();
            let mut rest = content.as_slice();
            while !rest.is_empty() {
                let (d, r) = Der::parse(rest);
                out.push(d);
                rest = r;
            }
            out
        });
        (
            Der {
                tag,
                content,
                children,
            },
            &b[head + len..],
        )
    }

    pub fn encode(&self) -> Vec<u8> {
        let content = match &self.children {
            Some(c) => c.iter().flat_map(Der::encode).collect(),
            None => self.content.clone(),
        };
        let mut out = vec![self.tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
            n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(&content);
        out
    }

    pub fn child(&mut self, i: usize) -> &mut Der {
        &mut self.children.as_mut().expect("constructed")[i]
    }
}

/// The DER of the first certificate in a PEM file.
pub fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM base64")
}

/// `count` CA certificates that all carry `ca`'s name as subject and issuer, each with another
/// public key (a byte of the key flipped) and serial: every one is a candidate issuer of every
/// other, and none's signature verifies. Then a leaf (`leaf`, its issuer renamed to that name
/// and its authority key identifier dropped) first. `salt` goes into every serial, so that
/// chains of different salts differ (no cache can answer for another). TBS fields by position:
/// 0 version, 1 serial, 3 issuer, 5 subject, 6 public key, 7 extensions.
pub fn same_named_chain(leaf: &[u8], ca: &[u8], count: usize, salt: u16) -> Vec<Vec<u8>> {
    let (ca, _) = Der::parse(ca);
    let name = ca.clone().child(0).child(5).clone();
    let (mut leaf, _) = Der::parse(leaf);
    let tbs = leaf.child(0);
    salted(&mut tbs.child(1).content, salt);
    *tbs.child(3) = name;
    let exts = tbs.child(7).child(0);
    // Authority key identifier (2.5.29.35) out.
    exts.children
        .as_mut()
        .expect("extensions")
        .retain(|e| !e.encode().windows(5).any(|w| w == [6, 3, 0x55, 0x1d, 0x23]));
    let mut chain = vec![leaf.encode()];
    for i in 0..count {
        let mut c = ca.clone();
        let tbs = c.child(0);
        let serial = &mut tbs.child(1).content;
        *serial.last_mut().expect("serial") ^= (i as u8).wrapping_add(1);
        salted(serial, salt);
        let key = &mut tbs.child(6).child(1).content;
        let at = key.len() - 2;
        key[at] ^= (i as u8).wrapping_add(1);
        key[at - 1] ^= (i >> 8) as u8;
        chain.push(c.encode());
    }
    chain
}

/// A serial number with `salt` mixed into its two bytes before the last.
fn salted(serial: &mut [u8], salt: u16) {
    let n = serial.len();
    serial[n - 3] ^= (salt >> 8) as u8;
    serial[n - 2] ^= salt as u8;
}

/// A TLS record.
fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(16384) {
        out.extend_from_slice(&[content_type, 3, 3]);
        out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
        out.extend_from_slice(piece);
    }
    out
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// A TLS 1.2 ClientHello (one suite, SNI `name`) as a record.
pub fn client_hello(name: &str) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[7; 32]);
    b.push(0);
    b.extend_from_slice(&[0, 2, 0xc0, 0x2f, 1, 0]);
    let mut sni = vec![0];
    put16(&mut sni, name.len() as u16, true);
    sni.extend_from_slice(name.as_bytes());
    let mut list = Vec::new();
    put16(&mut list, sni.len() as u16, true);
    list.extend_from_slice(&sni);
    let mut ext = vec![0, 0];
    put16(&mut ext, list.len() as u16, true);
    ext.extend_from_slice(&list);
    put16(&mut b, ext.len() as u16, true);
    b.extend_from_slice(&ext);
    record(22, &handshake(1, &b))
}

/// ServerHello (TLS 1.2, the suite above) and Certificate with `chain`, as records.
pub fn server_flight(chain: &[Vec<u8>]) -> Vec<u8> {
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[9; 32]);
    sh.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
    let mut list = Vec::new();
    for c in chain {
        list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
        list.extend_from_slice(c);
    }
    let mut cert = (list.len() as u32).to_be_bytes()[1..].to_vec();
    cert.extend_from_slice(&list);
    let mut msgs = handshake(2, &sh);
    msgs.extend_from_slice(&handshake(11, &cert));
    record(22, &msgs)
}

/// `conns` TCP connections, one second apart from 2027-01-15 (when the fixtures' certificates
/// are valid), each: three-way handshake, a ClientHello, the server's hello and the chain
/// `chain(i)`, in 1400-byte segments.
pub fn chain_connections(conns: u32, chain: impl Fn(u32) -> Vec<Vec<u8>>) -> Vec<u8> {
    let mut pcap = Pcap::default();
    for i in 0..conns {
        let flight = server_flight(&chain(i));
        let t = (1_800_000_000 + u64::from(i)) * 1_000_000;
        let (c, port) = (client(i), (40000 + i as u16, 443));
        let back = (port.1, port.0);
        pcap.push(&tcp(t, c, SERVER, port, 100, SYN, &[]));
        pcap.push(&tcp(t + 10, SERVER, c, back, 500, SYN | ACK, &[]));
        pcap.push(&tcp(t + 20, c, SERVER, port, 101, ACK, &[]));
        let hello = client_hello("www.example.test");
        pcap.push(&tcp(t + 30, c, SERVER, port, 101, PSH_ACK, &hello));
        let mut seq = 501u32;
        for (k, seg) in flight.chunks(1400).enumerate() {
            pcap.push(&tcp(t + 40 + k as u64, SERVER, c, back, seq, PSH_ACK, seg));
            seq += seg.len() as u32;
        }
    }
    pcap.into_bytes()
}

// --- QUIC v1 Initial packets (RFC 9001 §5), sealed as a client would ------------------------

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(prk: &ring::hkdf::Prk, label: &str, out: &mut [u8]) {
    struct Len(usize);
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let full = format!("tls13 {label}");
    let info = [
        &(out.len() as u16).to_be_bytes()[..],
        &[full.len() as u8],
        full.as_bytes(),
        &[0],
    ];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .expect("hkdf");
}

/// A client's QUIC v1 Initial to `dcid` (8 bytes) carrying `frames`, padded to 1200 bytes.
pub fn quic_initial(dcid: &[u8; 8], frames: &[u8]) -> Vec<u8> {
    use ring::{aead, hkdf};
    const SALT: [u8; 20] = [
        0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c,
        0xad, 0xcc, 0xbb, 0x7f, 0x0a,
    ];
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &SALT).extract(dcid);
    let mut secret = [0u8; 32];
    expand_label(&initial, "client in", &mut secret);
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&prk, "quic key", &mut key);
    expand_label(&prk, "quic iv", &mut iv);
    expand_label(&prk, "quic hp", &mut hp);
    let mut payload = frames.to_vec();
    // Header 1+4+1+8+1+1+2+4 = 22 bytes, tag 16: PADDING frames (zeros) up to 1200.
    payload.resize(payload.len().max(1200 - 22 - 16), 0);
    let mut p = vec![0xc3, 0, 0, 0, 1, 8];
    p.extend_from_slice(dcid);
    p.extend_from_slice(&[0, 0]); // no source connection id, no token
    p.extend_from_slice(&(0x4000u16 | (4 + payload.len() + 16) as u16).to_be_bytes());
    let pn_at = p.len();
    p.extend_from_slice(&[0, 0, 0, 0]); // packet number 0: the nonce is the IV
    let sealer =
        aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &key).expect("key"));
    let tag = sealer
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(iv),
            aead::Aad::from(p.clone()),
            &mut payload,
        )
        .expect("seal");
    p.extend_from_slice(&payload);
    p.extend_from_slice(tag.as_ref());
    let mask = aead::quic::HeaderProtectionKey::new(&aead::quic::AES_128, &hp)
        .expect("hp key")
        .new_mask(&p[pn_at + 4..pn_at + 20])
        .expect("mask");
    p[0] ^= mask[0] & 0x0f;
    for i in 0..4 {
        p[pn_at + i] ^= mask[1 + i];
    }
    p
}

/// A CRYPTO frame (RFC 9000 §19.6) with 4-byte varints.
pub fn crypto_frame(offset: u32, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend_from_slice(&(0x8000_0000 | offset).to_be_bytes());
    f.extend_from_slice(&(0x8000_0000 | data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// QUIC: `flows` UDP flows, each one client Initial whose only CRYPTO frame sits at `offset`,
/// far past the start of the stream that never comes.
pub fn quic_far_offsets(flows: u32, offset: u32) -> Vec<u8> {
    let mut pcap = Pcap::default();
    for i in 0..flows {
        let mut dcid = [0x5a; 8];
        dcid[4..].copy_from_slice(&i.to_be_bytes());
        let frames = crypto_frame(offset, &[0x42; 100]);
        pcap.push(&udp(
            u64::from(i),
            client(i),
            SERVER,
            (40000 + (i % 20000) as u16, 443),
            &quic_initial(&dcid, &frames),
        ));
    }
    pcap.into_bytes()
}
