//! Unit tests of the QUIC Initial path. First the packets of RFC 9001 Appendix A and RFC 9369
//! Appendix A: Initial keys, decryption to the example hellos, Retry integrity tags. Then
//! synthetic packets from a small sealer (the inverse of the open path, itself checked against
//! RFC 9001 A.2): CRYPTO data out of order and overlapping, coalesced packets, a second
//! connection on the same 5-tuple, Retry, Version Negotiation, draft 29, CONNECTION_CLOSE, a
//! packet that does not decrypt, every truncation and random bit flips (which must not panic).
//! Last the pieces alone: the frame walker, varints, packet numbers and the CRYPTO stream (also
//! against a naive model). The comparison with tshark over the shared corpus is in
//! `tests/corpus.rs`.

use super::crypto::{decode_packet_number, flavor, RETRY_V1, RETRY_V2};
use super::packet::varint;
use super::*;
use crate::capture::Timestamp;
use ring::aead;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn origin(frame: u64) -> Origin {
    Origin {
        frame,
        ts: Timestamp(0),
    }
}

const DCID: &str = "8394c8f03e515708";

/// RFC 9001 Appendix A.2, the protected client Initial (1200 bytes).
const A2_CLIENT_INITIAL: &str = "
    c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
    d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
    1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
    8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
    30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
    457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
    4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
    4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
    485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
    059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
    7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
    9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
    be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
    68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
    c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
    f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
    291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
    25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
    14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
    ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
    e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
    c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
    203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
    cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
    fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
    a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
    90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
    162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
    40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
    6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
    8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
    be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
    54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
    760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
    f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
    056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
    7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
    e221af44860018ab0856972e194cd934";

/// RFC 9001 Appendix A.3, the protected server Initial.
const A3_SERVER_INITIAL: &str = "
    cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
    5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
    dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
    022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
    2158407dd074ee";

/// RFC 9001 Appendix A.4, a Retry answering the A.2 Initial.
const A4_RETRY: &str = "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba";

/// RFC 9369 Appendix A.2, the v2 client Initial.
const V2_CLIENT_INITIAL: &str = "
    d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
    dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
    9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
    250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
    12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
    cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
    18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
    12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
    d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
    6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
    bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
    636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
    ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
    16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
    4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
    fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
    8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
    14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
    9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
    abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
    80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
    848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
    d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
    c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
    7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
    f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
    10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
    3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
    06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
    8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
    34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
    e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
    5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
    8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
    d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
    6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
    9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
    a18b2faa745b6fe189cf772a9f84cbfc";

/// RFC 9369 Appendix A.3, the v2 server Initial.
const V2_SERVER_INITIAL: &str = "
    dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698
    baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17
    f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2
    c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8
    4bed8521e2e140";

/// RFC 9369 Appendix A.4.
const V2_RETRY: &str = "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6";

fn client_hello(events: &[Located]) -> Option<(&tls::ClientHello, u64)> {
    events.iter().find_map(|e| match &e.event {
        Event::ClientHello(ch) => Some((&**ch, e.frame)),
        _ => None,
    })
}

fn server_hello(events: &[Located]) -> Option<(&tls::ServerHello, u64)> {
    events.iter().find_map(|e| match &e.event {
        Event::ServerHello(sh) => Some((&**sh, e.frame)),
        _ => None,
    })
}

fn assert_rfc_client_hello(conn: &QuicConn) {
    let (ch, frame) = client_hello(&conn.client_events).expect("a ClientHello");
    assert_eq!(frame, 1);
    assert_eq!(ch.legacy_version, 0x0303);
    assert_eq!(ch.cipher_suites, vec![0x1301, 0x1302]);
    assert_eq!(ch.sni.as_deref(), Some("example.com"));
    assert_eq!(ch.alpn, vec!["alpn".to_string()]);
    assert_eq!(ch.supported_versions, vec![0x0304]);
    assert_eq!(ch.key_share_groups, vec![0x001d]);
    // quic_transport_parameters (57) is kept as an extension like any other.
    assert!(ch.extensions.contains(&57), "{:?}", ch.extensions);
}

#[test]
fn rfc9001_a1_initial_keys_are_derived_from_the_client_dcid() {
    let (c, s) = initial_key_material(version::V1, &unhex(DCID)).unwrap();
    assert_eq!(c.key.to_vec(), unhex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(c.iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(c.hp.to_vec(), unhex("9f50449e04a0e810283a1e9933adedd2"));
    assert_eq!(s.key.to_vec(), unhex("cf3a5331653c364c88f0f379b6067e37"));
    assert_eq!(s.iv.to_vec(), unhex("0ac1493ca1905853b0bba03e"));
    assert_eq!(s.hp.to_vec(), unhex("c206b8d9b9f0f37644430b490eeaa314"));
}

#[test]
fn rfc9369_v2_initial_keys_use_the_v2_salt_and_labels() {
    let (c, s) = initial_key_material(version::V2, &unhex(DCID)).unwrap();
    assert_eq!(c.key.to_vec(), unhex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(c.iv.to_vec(), unhex("91f73e2351d8fa91660e909f"));
    assert_eq!(c.hp.to_vec(), unhex("45b95e15235d6f45a6b19cbcb0294ba9"));
    assert_eq!(s.key.to_vec(), unhex("82db637861d55e1d011f19ea71d5d2a7"));
    assert_eq!(s.iv.to_vec(), unhex("dd13c276499c0249d3310652"));
    assert_eq!(s.hp.to_vec(), unhex("edf6d05c83121201b436e16877593c3a"));
}

#[test]
fn rfc9001_a2_client_initial_decrypts_to_the_example_client_hello() {
    let packet = unhex(A2_CLIENT_INITIAL);
    assert_eq!(packet.len(), 1200);
    assert!(looks_like_quic(&packet));
    assert!(is_initial(&packet));
    let mut conn = QuicConn::default();
    conn.datagram(true, &packet, origin(1));
    assert_eq!(conn.version, Some(version::V1));
    assert_eq!(conn.client_dcid, unhex(DCID));
    assert!(conn.client_scid.is_empty());
    assert_eq!(conn.client.largest_pn, Some(2));
    assert_rfc_client_hello(&conn);
    assert!(!conn.done());
}

#[test]
fn rfc9001_a3_server_initial_gives_a_server_hello_with_cipher_0x1301() {
    let mut conn = QuicConn::default();
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
    conn.datagram(false, &unhex(A3_SERVER_INITIAL), origin(2));
    let (sh, frame) = server_hello(&conn.server_events).expect("a ServerHello");
    assert_eq!(frame, 2);
    assert_eq!(sh.cipher_suite, 0x1301);
    assert_eq!(sh.version, 0x0304);
    assert_eq!(sh.key_share_group, Some(0x001d));
    assert_eq!(conn.server_scid, unhex("f067a5502a4262b5"));
    assert_eq!(conn.server.largest_pn, Some(1));
    assert!(conn.done());
}

#[test]
fn rfc9369_v2_client_and_server_initials_decrypt() {
    let client = unhex(V2_CLIENT_INITIAL);
    assert_eq!(client.len(), 1200);
    assert!(is_initial(&client));
    let mut conn = QuicConn::default();
    conn.datagram(true, &client, origin(1));
    assert_eq!(conn.version, Some(version::V2));
    assert_rfc_client_hello(&conn);
    conn.datagram(false, &unhex(V2_SERVER_INITIAL), origin(2));
    let (sh, _) = server_hello(&conn.server_events).expect("a ServerHello");
    assert_eq!(sh.cipher_suite, 0x1301);
    assert!(conn.done());
}

#[test]
fn retry_integrity_tags_of_rfc9001_and_rfc9369_verify() {
    let odcid = unhex(DCID);
    assert!(retry_tag_ok(
        &RETRY_V1.0,
        &RETRY_V1.1,
        &odcid,
        &unhex(A4_RETRY)
    ));
    assert!(retry_tag_ok(
        &RETRY_V2.0,
        &RETRY_V2.1,
        &odcid,
        &unhex(V2_RETRY)
    ));
    let mut bad = unhex(A4_RETRY);
    if let Some(b) = bad.get_mut(20) {
        *b ^= 1;
    }
    assert!(!retry_tag_ok(&RETRY_V1.0, &RETRY_V1.1, &odcid, &bad));
    assert!(!retry_tag_ok(&RETRY_V1.0, &RETRY_V1.1, &odcid, &[0; 10]));
}

#[test]
fn rfc_retry_is_recorded_and_a_forged_one_is_not() {
    let mut conn = QuicConn::default();
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
    let mut forged = unhex(A4_RETRY);
    if let Some(b) = forged.last_mut() {
        *b ^= 1;
    }
    conn.datagram(false, &forged, origin(2));
    assert!(!conn.retry);
    assert!(matches!(
        conn.server_events.last().map(|e| &e.event),
        Some(Event::Malformed(_))
    ));
    conn.datagram(false, &unhex(A4_RETRY), origin(3));
    assert!(conn.retry);
    assert_eq!(conn.retry_scid, Some(unhex("f067a5502a4262b5")));
    // The client keeps its original DCID as the record of the attempt.
    assert_eq!(conn.client_dcid, unhex(DCID));
}

// ---- A sealer for synthetic packets (the inverse of `open_packet`). ----

fn enc_varint(v: u64) -> Vec<u8> {
    match v {
        0..=63 => vec![v as u8],
        64..=16383 => (0x4000 | v as u16).to_be_bytes().to_vec(),
        _ => (0x8000_0000 | v as u32).to_be_bytes().to_vec(),
    }
}

fn crypto(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend(enc_varint(offset));
    f.extend(enc_varint(data.len() as u64));
    f.extend_from_slice(data);
    f
}

struct Seal<'a> {
    version: u32,
    key_dcid: &'a [u8],
    from_client: bool,
    dcid: &'a [u8],
    scid: &'a [u8],
    pn: u64,
}

impl Seal<'_> {
    fn initial(&self, payload: &[u8]) -> Vec<u8> {
        let f = flavor(self.version).unwrap();
        let (c, s) = initial_key_material(self.version, self.key_dcid).unwrap();
        let keys = DirKeys::new(if self.from_client { &c } else { &s }).unwrap();
        let mut payload = payload.to_vec();
        // Enough bytes for the header protection sample.
        payload.resize(payload.len().max(20), 0);
        let mut p = vec![0xc0 | (f.initial_type << 4) | 0x03];
        p.extend(self.version.to_be_bytes());
        p.push(self.dcid.len() as u8);
        p.extend_from_slice(self.dcid);
        p.push(self.scid.len() as u8);
        p.extend_from_slice(self.scid);
        p.push(0); // token length
        p.extend((0x4000u16 | (4 + payload.len() + TAG_LEN) as u16).to_be_bytes());
        let pn_offset = p.len();
        p.extend((self.pn as u32).to_be_bytes());
        let mut nonce = keys.iv;
        for (n, b) in nonce.iter_mut().rev().zip(self.pn.to_le_bytes()) {
            *n ^= b;
        }
        let tag = keys
            .aead
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(p.clone()),
                &mut payload,
            )
            .unwrap();
        p.extend(payload);
        p.extend_from_slice(tag.as_ref());
        let mask = keys
            .hp
            .new_mask(&p[pn_offset + 4..pn_offset + 4 + SAMPLE_LEN])
            .unwrap();
        p[0] ^= mask[0] & 0x0f;
        for i in 0..4 {
            p[pn_offset + i] ^= mask[1 + i];
        }
        p
    }
}

/// The ClientHello of RFC 9001 A.2 as a handshake message (type, length, body).
fn rfc_client_hello_message() -> Vec<u8> {
    let mut conn = QuicConn::default();
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
    conn.client.crypto.pieces.prefix().to_vec()
}

fn rfc_server_hello_message() -> Vec<u8> {
    let mut conn = QuicConn::default();
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
    conn.datagram(false, &unhex(A3_SERVER_INITIAL), origin(2));
    conn.server.crypto.pieces.prefix().to_vec()
}

#[test]
fn sealer_reproduces_the_rfc_client_initial() {
    // The synthetic tests below are only as good as the sealer: check it against A.2.
    let a2 = unhex(A2_CLIENT_INITIAL);
    let dcid = unhex(DCID);
    let mut conn = QuicConn::default();
    conn.datagram(true, &a2, origin(1));
    let sealed = Seal {
        version: version::V1,
        key_dcid: &dcid,
        from_client: true,
        dcid: &dcid,
        scid: &[],
        pn: 2,
    }
    .initial(&crypto(0, &rfc_client_hello_message()));
    let mut again = QuicConn::default();
    again.datagram(true, &sealed, origin(1));
    assert_rfc_client_hello(&again);
}

#[test]
fn client_hello_split_across_packets_out_of_order_with_overlap_is_reassembled() {
    let msg = rfc_client_hello_message();
    let dcid = unhex("0102030405060708");
    let seal = |pn, payload: &[u8]| {
        Seal {
            version: version::V1,
            key_dcid: &dcid,
            from_client: true,
            dcid: &dcid,
            scid: b"cli",
            pn,
        }
        .initial(payload)
    };
    // Three pieces: the back first, then the front, then the middle overlapping both;
    // PING, PADDING and an ACK with ECN counts between the frames.
    let mut p1 = vec![0x01, 0x00, 0x00];
    p1.extend(crypto(150, &msg[150..]));
    let mut p2 = vec![0x03, 0x05, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03];
    p2.extend(crypto(0, &msg[..100]));
    let p3 = crypto(90, &msg[90..160]);
    let mut conn = QuicConn::default();
    conn.datagram(true, &seal(0, &p1), origin(1));
    conn.datagram(true, &seal(1, &p2), origin(2));
    assert!(client_hello(&conn.client_events).is_none());
    conn.datagram(true, &seal(2, &p3), origin(3));
    let (ch, frame) = client_hello(&conn.client_events).expect("reassembled");
    assert_eq!(frame, 3, "the frame that completed the message");
    assert_eq!(ch.sni.as_deref(), Some("example.com"));
    assert_eq!(conn.client_scid, b"cli".to_vec());
    assert!(conn.client_events.len() == 1, "{:?}", conn.client_events);
}

#[test]
fn coalesced_initial_and_handshake_packets_are_walked_and_short_headers_stop() {
    let mut conn = QuicConn::default();
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
    // Server datagram: Initial, then a Handshake packet (type 2, opaque), then a short
    // header packet; all coalesced.
    let mut d = unhex(A3_SERVER_INITIAL);
    let mut hs = vec![0xe0, 0, 0, 0, 1, 0, 8];
    hs.extend(unhex("f067a5502a4262b5"));
    hs.extend([0x40, 30]);
    hs.extend([0xaa; 30]);
    d.extend(hs);
    d.extend([0x40, 1, 2, 3, 4, 5]);
    conn.datagram(false, &d, origin(2));
    assert!(server_hello(&conn.server_events).is_some());
    assert_eq!(conn.undecryptable_packets, 0);
}

#[test]
fn a_second_connection_on_the_same_five_tuple_is_not_mixed_in() {
    let msg = rfc_client_hello_message();
    let d1 = unhex("1111111111111111");
    let d2 = unhex("2222222222222222");
    let mk = |dcid: &[u8], pn| {
        Seal {
            version: version::V1,
            key_dcid: dcid,
            from_client: true,
            dcid,
            scid: b"c",
            pn,
        }
        .initial(&crypto(0, &msg))
    };
    let mut conn = QuicConn::default();
    conn.datagram(true, &mk(&d1, 0), origin(1));
    let second = mk(&d2, 0);
    assert!(conn.is_other_connection(true, &second));
    assert!(!conn.is_other_connection(true, &mk(&d1, 1)));
    conn.datagram(true, &second, origin(2));
    assert_eq!(conn.other_connection_packets, 1);
    assert_eq!(conn.client_dcid, d1);
    assert_eq!(conn.client_events.len(), 1);
}

#[test]
fn after_a_retry_both_sides_use_keys_from_the_retry_scid() {
    let msg = rfc_client_hello_message();
    let sh = rfc_server_hello_message();
    let odcid = unhex(DCID);
    let new = unhex("f067a5502a4262b5");
    let mut conn = QuicConn::default();
    // The first Initial is lost before the capture saw its end; only the header matters.
    let first = Seal {
        version: version::V1,
        key_dcid: &odcid,
        from_client: true,
        dcid: &odcid,
        scid: &[],
        pn: 0,
    }
    .initial(&crypto(0, &msg[..50]));
    conn.datagram(true, &first, origin(1));
    conn.datagram(false, &unhex(A4_RETRY), origin(2));
    assert!(conn.retry);
    let second = Seal {
        version: version::V1,
        key_dcid: &new,
        from_client: true,
        dcid: &new,
        scid: &[],
        pn: 1,
    }
    .initial(&crypto(0, &msg));
    conn.datagram(true, &second, origin(3));
    assert_eq!(client_hello(&conn.client_events).map(|c| c.1), Some(3));
    let server = Seal {
        version: version::V1,
        key_dcid: &new,
        from_client: false,
        dcid: &[],
        scid: b"srv",
        pn: 0,
    }
    .initial(&crypto(0, &sh));
    conn.datagram(false, &server, origin(4));
    assert_eq!(server_hello(&conn.server_events).map(|s| s.1), Some(4));
    assert_eq!(conn.server_scid, b"srv".to_vec());
    assert_eq!(conn.client_dcid, odcid);
    assert!(conn.done());
}

#[test]
fn client_initials_addressed_to_the_server_scid_keep_the_original_keys() {
    let odcid = unhex(DCID);
    let mut conn = QuicConn::default();
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
    conn.datagram(false, &unhex(A3_SERVER_INITIAL), origin(2));
    let ack_only = Seal {
        version: version::V1,
        key_dcid: &odcid,
        from_client: true,
        dcid: &unhex("f067a5502a4262b5"),
        scid: &[],
        pn: 3,
    }
    .initial(&[0x02, 0x01, 0x00, 0x00, 0x01]);
    assert!(!conn.is_other_connection(true, &ack_only));
    conn.datagram(true, &ack_only, origin(3));
    assert_eq!(conn.undecryptable_packets, 0);
    assert_eq!(conn.client.largest_pn, Some(3));
}

#[test]
fn client_initial_to_a_server_scid_the_capture_missed_is_still_this_connection() {
    let odcid = unhex(DCID);
    let mut conn = QuicConn::default();
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
    // The server's Initial (SCID "unseen!") was not captured; the client's next Initial
    // addresses that SCID with the original keys.
    let ack = Seal {
        version: version::V1,
        key_dcid: &odcid,
        from_client: true,
        dcid: b"unseen!",
        scid: &[],
        pn: 3,
    }
    .initial(&[0x02, 0x00, 0x00, 0x00, 0x00]);
    assert!(!conn.is_other_connection(true, &ack));
    conn.datagram(true, &ack, origin(2));
    assert_eq!(conn.other_connection_packets, 0);
    assert_eq!(conn.undecryptable_packets, 0);
    assert_eq!(conn.client.largest_pn, Some(3));
}

#[test]
fn version_negotiation_is_recorded_and_a_new_attempt_starts_over() {
    let mut conn = QuicConn::default();
    // A client Initial of a version the server does not speak but this module does.
    let d = unhex("0a0b0c0d");
    let draft = Seal {
        version: version::DRAFT_29,
        key_dcid: &d,
        from_client: true,
        dcid: &d,
        scid: b"cc",
        pn: 0,
    }
    .initial(&[0x01]);
    conn.datagram(true, &draft, origin(1));
    let mut vn = vec![0x80, 0, 0, 0, 0, 2, b'c', b'c', 4];
    vn.extend(&d);
    vn.extend(1u32.to_be_bytes());
    vn.extend(version::V2.to_be_bytes());
    assert!(looks_like_quic(&vn));
    conn.datagram(false, &vn, origin(2));
    assert_eq!(
        conn.version_negotiation,
        Some(vec![version::V1, version::V2])
    );
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(3));
    assert_eq!(conn.client_dcid, unhex(DCID));
    assert_eq!(conn.version, Some(version::V1));
    assert!(client_hello(&conn.client_events).is_some());
}

#[test]
fn draft_29_initials_decrypt_with_the_draft_salt() {
    let msg = rfc_client_hello_message();
    let d = unhex(DCID);
    let p = Seal {
        version: version::DRAFT_29,
        key_dcid: &d,
        from_client: true,
        dcid: &d,
        scid: &[],
        pn: 0,
    }
    .initial(&crypto(0, &msg));
    // The draft-29 salt gives other keys than v1's.
    let (v1, _) = initial_key_material(version::V1, &d).unwrap();
    let (d29, _) = initial_key_material(version::DRAFT_29, &d).unwrap();
    assert_ne!(v1, d29);
    let mut conn = QuicConn::default();
    conn.datagram(true, &p, origin(1));
    assert!(client_hello(&conn.client_events).is_some());
    assert_eq!(conn.version, Some(version::DRAFT_29));
}

#[test]
fn connection_close_with_a_crypto_error_becomes_an_alert() {
    let d = unhex(DCID);
    let mut conn = QuicConn::default();
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
    let mut close = vec![0x1c];
    close.extend(enc_varint(0x0128)); // handshake_failure
    close.extend([0x06, 0x03]);
    close.extend(b"bad");
    let p = Seal {
        version: version::V1,
        key_dcid: &d,
        from_client: false,
        dcid: &[],
        scid: b"s",
        pn: 0,
    }
    .initial(&close);
    conn.datagram(false, &p, origin(2));
    let c = conn.connection_close.clone().expect("a close");
    assert_eq!(
        (c.code, c.frame_type, c.reason.as_str()),
        (0x128, Some(6), "bad")
    );
    assert!(conn.server_events.iter().any(|e| e.event
        == Event::Alert {
            level: Some(2),
            description: Some(0x28),
            encrypted: false
        }));
    assert!(conn.done());
}

#[test]
fn server_initial_without_a_client_initial_is_counted_not_decrypted() {
    let mut conn = QuicConn::default();
    conn.datagram(false, &unhex(A3_SERVER_INITIAL), origin(1));
    assert_eq!(conn.undecryptable_packets, 1);
    assert!(conn.server_events.is_empty());
}

#[test]
fn header_protection_failure_is_reported_once() {
    let mut conn = QuicConn::default();
    let mut p = unhex(A2_CLIENT_INITIAL);
    p[40] ^= 0x55;
    conn.datagram(true, &p, origin(1));
    conn.datagram(true, &p, origin(2));
    assert_eq!(conn.undecryptable_packets, 2);
    assert_eq!(conn.client_events.len(), 1);
    assert!(matches!(conn.client_events[0].event, Event::Malformed(_)));
    // Nothing decrypted yet: the real packet still starts the attempt.
    conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(3));
    assert!(client_hello(&conn.client_events).is_some());
}

#[test]
fn truncated_packets_at_every_length_do_not_panic() {
    for packet in [
        unhex(A2_CLIENT_INITIAL),
        unhex(A3_SERVER_INITIAL),
        unhex(A4_RETRY),
        unhex(V2_CLIENT_INITIAL),
    ] {
        for n in 0..=packet.len() {
            let cut = &packet[..n];
            let _ = looks_like_quic(cut);
            let _ = is_initial(cut);
            let mut conn = QuicConn::default();
            conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
            conn.datagram(true, cut, origin(2));
            conn.datagram(false, cut, origin(3));
            let mut fresh = QuicConn::default();
            fresh.datagram(true, cut, origin(1));
            if n < packet.len() && n > 0 && packet == unhex(A2_CLIENT_INITIAL) {
                assert!(client_hello(&fresh.client_events).is_none());
            }
        }
    }
}

#[test]
fn garbage_and_bit_flips_do_not_panic() {
    // A small xorshift generator: deterministic, no dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let base = unhex(A2_CLIENT_INITIAL);
    for _ in 0..2000 {
        let mut p = base.clone();
        let flips = next() % 4 + 1;
        for _ in 0..flips {
            let i = (next() % p.len() as u64) as usize;
            p[i] ^= 1 << (next() % 8);
        }
        let mut conn = QuicConn::default();
        conn.datagram(true, &p, origin(1));
        conn.datagram(false, &p, origin(2));
    }
    for len in [0usize, 1, 5, 6, 7, 30, 100, 1300] {
        for _ in 0..50 {
            let mut p: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(b) = p.first_mut() {
                *b |= 0x80;
            }
            if p.len() > 5 && next() % 2 == 0 {
                p[1..5].copy_from_slice(&1u32.to_be_bytes());
            }
            let _ = looks_like_quic(&p);
            let mut conn = QuicConn::default();
            conn.datagram(true, &p, origin(1));
            conn.datagram(false, &p, origin(2));
        }
    }
    // Frame walker on garbage plaintext.
    for _ in 0..2000 {
        let p: Vec<u8> = (0..(next() % 64)).map(|_| next() as u8).collect();
        let _ = initial_frames(&p);
    }
}

#[test]
fn frame_walker_skips_ack_with_ecn_and_stops_at_frames_not_allowed_in_initials() {
    let mut p = vec![0x00, 0x00, 0x01];
    // ACK with ECN: largest 5, delay 0, 1 range, first 1, gap 0, len 1, ECN 1 2 3.
    p.extend([0x03, 0x05, 0x00, 0x01, 0x01, 0x00, 0x01, 0x01, 0x02, 0x03]);
    p.extend(crypto(7, b"abc"));
    p.push(0x08); // STREAM: not in an Initial.
    p.extend(crypto(0, b"zzz"));
    let (frames, problem) = initial_frames(&p);
    assert_eq!(
        frames,
        vec![InitialFrame::Crypto {
            offset: 7,
            data: b"abc"
        }]
    );
    assert_eq!(problem, Some("frame type not allowed in an Initial packet"));
    // A CRYPTO frame longer than the packet.
    let (frames, problem) = initial_frames(&[0x06, 0x00, 0x10, 0x61]);
    assert!(frames.is_empty());
    assert_eq!(problem, Some("CRYPTO frame longer than the packet"));
    // An ACK claiming 2^62 ranges ends with the bytes.
    let (_, problem) = initial_frames(&[
        0x02, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
    ]);
    assert_eq!(problem, Some("ACK frame cut short"));
}

#[test]
fn varints_of_every_length_decode() {
    // RFC 9000 Appendix A.1 examples.
    assert_eq!(
        varint(&unhex("c2197c5eff14e88c")),
        Some((151_288_809_941_952_652, &[][..]))
    );
    assert_eq!(varint(&unhex("9d7f3e7d")), Some((494_878_333, &[][..])));
    assert_eq!(varint(&unhex("7bbd")), Some((15_293, &[][..])));
    assert_eq!(varint(&unhex("25")), Some((37, &[][..])));
    assert_eq!(varint(&unhex("4025")), Some((37, &[][..])));
    assert_eq!(varint(&unhex("c2197c")), None);
    assert_eq!(varint(&[]), None);
}

#[test]
fn packet_numbers_decode_as_rfc9000_appendix_a3() {
    assert_eq!(
        decode_packet_number(Some(0xa82f30ea), 0x9b32, 16),
        0xa82f9b32
    );
    assert_eq!(decode_packet_number(None, 2, 32), 2);
    assert_eq!(decode_packet_number(Some(0xff), 0x01, 8), 0x101);
    // Nonsense input must not overflow.
    let _ = decode_packet_number(Some(u64::MAX), 0, 8);
}

#[test]
fn crypto_stream_front_middle_back_overlap_and_caps() {
    let msg: Vec<u8> = [1u8, 0, 0, 6].iter().copied().chain(*b"abcdef").collect();
    let mut s = CryptoStream::default();
    assert!(s.insert(8, &msg[8..]));
    assert!(s.insert(0, &msg[..3]));
    assert_eq!(s.next_message(), None);
    // Overlapping retransmit with other bytes: the first copy wins.
    assert!(s.insert(2, b"\x00\x06XXXX"));
    let (ty, body) = s.next_message().expect("complete");
    assert_eq!((ty, body), (1, &b"XXXXef"[..]));
    let mut s = CryptoStream::default();
    assert!(s.insert(0, &msg[..3]));
    assert!(s.insert(3, &msg[3..8]));
    assert!(s.insert(5, &msg[5..]));
    assert_eq!(s.next_message(), Some((1, &b"abcdef"[..])));
    assert_eq!(s.next_message(), None);
    // Data past the byte cap is dropped.
    let mut s = CryptoStream::default();
    assert!(!s.insert(MAX_CRYPTO_BYTES as u64 - 2, b"abcd"));
    assert!(!s.insert(u64::MAX, b"a"));
    assert_eq!(
        s.pieces.held(),
        2,
        "only the two bytes under the cap are held"
    );
    // Far into the stream: only the bytes that came are held, not the hole before them.
    let mut s = CryptoStream::default();
    assert!(s.insert(MAX_CRYPTO_BYTES as u64 - 100, &[7; 100]));
    assert_eq!(s.pieces.held(), 100);
    // Too many holes.
    let mut s = CryptoStream::default();
    for i in 0..MAX_CRYPTO_RANGES as u64 {
        assert!(s.insert(10 + 3 * i, b"x"));
    }
    assert!(!s.insert(5000, b"x"));
    assert!(s.insert(0, &[0u8; 400]), "filling holes is always allowed");
    assert_eq!((s.pieces.count(), s.contiguous()), (1, 400));
    // A message announcing more than the cap can ever hold.
    let mut s = CryptoStream::default();
    s.insert(0, &[1, 0xff, 0xff, 0xff, 0]);
    assert!(s.message_exceeds_cap());
}

#[test]
fn crypto_stream_matches_a_naive_model_under_random_fragments() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let len = (next() % 3000 + 10) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let mut s = CryptoStream::default();
        let mut model = vec![None::<u8>; len];
        for _ in 0..40 {
            let a = (next() % len as u64) as usize;
            let b = (a + (next() % 200) as usize + 1).min(len);
            if s.insert(a as u64, &data[a..b]) {
                for i in a..b {
                    model[i].get_or_insert(data[i]);
                }
            } else {
                assert!(s.pieces.count() >= MAX_CRYPTO_RANGES);
            }
        }
        let prefix = model.iter().take_while(|b| b.is_some()).count();
        assert_eq!(s.contiguous(), prefix);
        assert_eq!(s.pieces.prefix(), &data[..prefix]);
        assert_eq!(
            s.pieces.held(),
            model.iter().filter(|b| b.is_some()).count()
        );
    }
}

/// The shared corpus, in its own file: it is long and needs JSON.
mod corpus;
