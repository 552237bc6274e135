//! Unit tests of the decapsulators: each tunnel decoded whole to the sample TCP packet inside,
//! with the layer it names; each header one byte short; the malformed and foreign headers of
//! each; nesting, the depth cap, and which layers key flows. Frames are built byte by byte.

use super::*;

const PROTO_IPIP: u8 = 4;
const PROTO_IPV6: u8 = 41;
const PROTO_GRE: u8 = 47;

fn outer_udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
    ethernet(
        0x0800,
        &ipv4_bytes(PROTO_UDP, 7, 0, &[], &udp_bytes(40000, dst_port, payload)),
    )
}

fn inner4() -> Vec<u8> {
    ethernet(0x0800, &sample_ipv4())
}

fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let v = vni.to_be_bytes();
    concat(&[&[0x08, 0, 0, 0, v[1], v[2], v[3], 0], frame])
}

fn gre(flags: u16, protocol: u16, words: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = flags.to_be_bytes().to_vec();
    v.extend(protocol.to_be_bytes());
    for w in words {
        v.extend(w.to_be_bytes());
    }
    v.extend(payload);
    v
}

fn in_ipv4_gre(gre: &[u8]) -> Vec<u8> {
    ethernet(0x0800, &ipv4_bytes(PROTO_GRE, 9, 0, &[], gre))
}

fn names(p: &Packet<'_>) -> Vec<String> {
    p.encap.layers().map(|l| l.to_string()).collect()
}

fn decoded(frame: &[u8]) -> Packet<'_> {
    decode(1, frame).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn vxlan_carries_an_ethernet_frame_and_names_its_vni() {
    let frame = outer_udp(port::VXLAN, &vxlan(42, &inner4()));
    let p = decoded(&frame);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["vxlan:42"]);
}

#[test]
fn a_udp_datagram_on_the_vxlan_port_without_the_i_flag_stays_plain_udp() {
    let mut payload = vxlan(42, &inner4());
    payload[0] = 0;
    let frame = outer_udp(port::VXLAN, &payload);
    let p = decoded(&frame);
    assert_eq!(udp_of(&p).dst_port, port::VXLAN);
    assert!(p.encap.is_empty());
    // Shorter than a VXLAN header: plain UDP as well.
    let frame = outer_udp(port::VXLAN, &[0x08; 7]);
    assert!(decoded(&frame).encap.is_empty());
}

#[test]
fn on_linuxs_vxlan_port_only_a_header_with_clear_reserved_bits_is_vxlan() {
    // flannel's and Cilium's overlays: the kernel's header, and one with a group policy.
    let frame = outer_udp(port::VXLAN_LINUX, &vxlan(1, &inner4()));
    let p = decoded(&frame);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["vxlan:1"]);
    let mut gbp = vxlan(1, &inner4());
    gbp[0] = 0x88;
    gbp[2..4].copy_from_slice(&[0x12, 0x34]);
    let frame = outer_udp(port::VXLAN_LINUX, &gbp);
    assert_eq!(names(&decoded(&frame)), ["vxlan:1"]);
    // Another application's datagrams on 8472: reserved bits set, or the I bit missing. On IANA's
    // port the first would be VXLAN.
    for (at, byte) in [(1, 1), (3, 0x80), (7, 1), (0, 0x0c), (0, 0)] {
        let mut other = vxlan(1, &inner4());
        other[at] = byte;
        let frame = outer_udp(port::VXLAN_LINUX, &other);
        let p = decoded(&frame);
        assert_eq!(
            udp_of(&p).dst_port,
            port::VXLAN_LINUX,
            "byte {at} = {byte:#x}"
        );
        assert!(p.encap.is_empty(), "byte {at} = {byte:#x}");
    }
    let mut reserved = vxlan(1, &inner4());
    reserved[1] = 1;
    assert_eq!(
        names(&decoded(&outer_udp(port::VXLAN, &reserved))),
        ["vxlan:1"]
    );
}

#[test]
fn geneve_skips_its_options_and_carries_ethernet_or_ip() {
    // Version 0, 2 words of options, protocol 0x6558, VNI 0x0a0b0c.
    let header = [0x02, 0, 0x65, 0x58, 0x0a, 0x0b, 0x0c, 0];
    let options = [0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef];
    let frame = outer_udp(port::GENEVE, &concat(&[&header, &options, &inner4()]));
    let p = decoded(&frame);
    assert_sample(&p, 4);
    assert_eq!(names(&p), [format!("geneve:{}", 0x0a0b0c)]);
    // Protocol 0x86dd: an IPv6 packet directly.
    let header = [0, 0, 0x86, 0xdd, 0, 0, 5, 0];
    let frame = outer_udp(port::GENEVE, &concat(&[&header, &sample_ipv6()]));
    let p = decoded(&frame);
    assert_sample(&p, 6);
    assert_eq!(names(&p), ["geneve:5"]);
    // Options longer than the datagram.
    let header = [0x3f, 0, 0x65, 0x58, 0, 0, 1, 0];
    let frame = outer_udp(port::GENEVE, &concat(&[&header, &[0; 16]]));
    assert_eq!(
        decode(1, &frame).unwrap_err(),
        Skip::Malformed("geneve options")
    );
}

#[test]
fn gtp_u_g_pdu_with_extension_headers_carries_ip_and_names_its_teid() {
    let ip = sample_ipv4();
    let teid = 0x1122_3344u32.to_be_bytes();
    // Plain: flags 0x30 (version 1, PT 1), G-PDU, length, TEID.
    let len = u16::try_from(ip.len()).unwrap().to_be_bytes();
    let plain = concat(&[&[0x30, 0xff, len[0], len[1]], &teid, &ip]);
    let frame = outer_udp(port::GTP_U, &plain);
    let p = decoded(&frame);
    assert_sample(&p, 4);
    assert_eq!(names(&p), [format!("gtpu:{}", 0x1122_3344)]);
    // E flag: sequence, N-PDU, next type 0x85 (PDU session container, 1 word), then IP.
    let ext = [0x01, 0x10, 0x09, 0x00];
    let len = u16::try_from(4 + ext.len() + ip.len())
        .unwrap()
        .to_be_bytes();
    let with_ext = concat(&[
        &[0x34, 0xff, len[0], len[1]],
        &teid,
        &[0, 0, 0, 0x85],
        &ext,
        &ip,
    ]);
    assert_sample(&decoded(&outer_udp(port::GTP_U, &with_ext)), 4);
    // An extension header of length 0 cannot be stepped over.
    let bad = concat(&[&[0x34, 0xff, 0, 12], &teid, &[0, 0, 0, 0x85], &[0, 0, 0, 0]]);
    assert_eq!(
        decode(1, &outer_udp(port::GTP_U, &bad)).unwrap_err(),
        Skip::Malformed("gtp-u extension")
    );
    // An echo request (type 1) carries no user data.
    let echo = concat(&[&[0x32, 0x01, 0, 4], &teid, &[0, 1, 0, 0]]);
    assert_eq!(
        decode(1, &outer_udp(port::GTP_U, &echo)).unwrap_err(),
        Skip::NotIp
    );
    // GTP version 2 (GTP-C) on the port: not GTP-U, plain UDP.
    let v2 = concat(&[&[0x48, 0x20, 0, 4], &teid, &[0; 8]]);
    assert!(decoded(&outer_udp(port::GTP_U, &v2)).encap.is_empty());
}

#[test]
fn gre_with_checksum_key_and_sequence_carries_ip() {
    let plain = in_ipv4_gre(&gre(0, 0x0800, &[], &sample_ipv4()));
    let p = decoded(&plain);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["gre"]);
    // C, K and S set: checksum word, key 7, sequence 99.
    let all = in_ipv4_gre(&gre(0xb000, 0x86dd, &[0, 7, 99], &sample_ipv6()));
    let p = decoded(&all);
    assert_sample(&p, 6);
    assert_eq!(names(&p), ["gre:7"]);
    // Version 1 (PPTP) and source routing are not decoded.
    for flags in [0x0001, 0x4000] {
        let f = in_ipv4_gre(&gre(flags, 0x0800, &[0], &sample_ipv4()));
        assert_eq!(
            decode(1, &f).unwrap_err(),
            Skip::OtherTransport,
            "{flags:#x}"
        );
    }
    // The key word missing.
    let short = in_ipv4_gre(&[0x20, 0, 0x08, 0, 0, 0, 0]);
    assert_eq!(
        decode(1, &short).unwrap_err(),
        Skip::Malformed("gre header")
    );
}

#[test]
fn gre_transparent_ethernet_bridging_carries_a_frame() {
    let f = in_ipv4_gre(&gre(0x2000, 0x6558, &[5], &inner4()));
    let p = decoded(&f);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["gre:5"]);
}

#[test]
fn erspan_types_one_two_and_three_carry_the_mirrored_frame() {
    // Type I: no sequence number, no ERSPAN header.
    let p1 = in_ipv4_gre(&gre(0, 0x88be, &[], &inner4()));
    let p = decoded(&p1);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["gre", "erspan1"]);
    // Type II: sequence number, version 1, session 0x123.
    let erspan2 = [0x10, 0x00, 0x01, 0x23, 0, 0, 0, 0];
    let f2 = in_ipv4_gre(&gre(0x1000, 0x88be, &[1], &concat(&[&erspan2, &inner4()])));
    let p = decoded(&f2);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["gre", format!("erspan2:{}", 0x123).as_str()]);
    // Type III: version 2, session 9, frame type Ethernet, O flag: 8-byte subheader.
    let erspan3 = [0x20, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0x01];
    let f3 = in_ipv4_gre(&gre(
        0x1000,
        0x22eb,
        &[1],
        &concat(&[&erspan3, &[0; 8], &inner4()]),
    ));
    let p = decoded(&f3);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["gre", "erspan3:9"]);
    // Type III, frame type 2: an IP packet.
    let erspan3_ip = [0x20, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0x08, 0];
    let f = in_ipv4_gre(&gre(
        0x1000,
        0x22eb,
        &[1],
        &concat(&[&erspan3_ip, &sample_ipv6()]),
    ));
    assert_sample(&decoded(&f), 6);
    // Wrong versions, and a header one byte short.
    let bad2 = [0x20, 0, 0, 1, 0, 0, 0, 0];
    let f = in_ipv4_gre(&gre(0x1000, 0x88be, &[1], &concat(&[&bad2, &inner4()])));
    assert_eq!(
        decode(1, &f).unwrap_err(),
        Skip::Malformed("erspan version")
    );
    let f = in_ipv4_gre(&gre(0x1000, 0x22eb, &[1], &erspan3[..11]));
    assert_eq!(decode(1, &f).unwrap_err(), Skip::Malformed("erspan header"));
}

#[test]
fn mpls_label_stacks_lead_to_ip_by_its_nibble_or_to_ethernet_behind_a_control_word() {
    let label = |l: u32, bottom: bool| ((l << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes();
    let one = ethernet(0x8847, &concat(&[&label(16, true), &sample_ipv4()]));
    let p = decoded(&one);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["mpls:16"]);
    let two = ethernet(
        0x8848,
        &concat(&[&label(100, false), &label(200, true), &sample_ipv6()]),
    );
    let p = decoded(&two);
    assert_sample(&p, 6);
    assert_eq!(names(&p), ["mpls:100", "mpls:200"]);
    let pw = ethernet(0x8847, &concat(&[&label(300, true), &[0; 4], &inner4()]));
    let p = decoded(&pw);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["mpls:300"]);
    // A payload that is neither IP nor a control word, a stack without bottom, one byte short.
    let other = ethernet(0x8847, &concat(&[&label(1, true), &[0x70; 20]]));
    assert_eq!(decode(1, &other).unwrap_err(), Skip::NotIp);
    let endless = ethernet(0x8847, &concat(&[&label(1, false), &label(2, false)]));
    assert_eq!(
        decode(1, &endless).unwrap_err(),
        Skip::Malformed("mpls label")
    );
    let short = ethernet(0x8847, &label(1, true)[..3]);
    assert_eq!(
        decode(1, &short).unwrap_err(),
        Skip::Malformed("mpls label")
    );
}

#[test]
fn pppoe_session_frames_carry_ipv4_and_ipv6_within_their_length() {
    let pppoe = |proto: u16, ip: &[u8]| {
        let len = u16::try_from(2 + ip.len()).unwrap().to_be_bytes();
        let mut v = vec![0x11, 0, 0x12, 0x34, len[0], len[1]];
        v.extend(proto.to_be_bytes());
        v.extend(ip);
        v
    };
    let p4 = ethernet(0x8864, &pppoe(0x0021, &sample_ipv4()));
    let p = decoded(&p4);
    assert_sample(&p, 4);
    assert_eq!(names(&p), [format!("pppoe:{}", 0x1234)]);
    // Ethernet padding after the PPPoE length stays out.
    let padded = concat(&[&ethernet(0x8864, &pppoe(0x0057, &sample_ipv6())), &[0; 6]]);
    assert_sample(&decoded(&padded), 6);
    // LCP is not IP; a discovery-stage code or version 2 is malformed; header one byte short.
    assert_eq!(
        decode(1, &ethernet(0x8864, &pppoe(0xc021, &[1, 2]))).unwrap_err(),
        Skip::NotIp
    );
    let mut bad = pppoe(0x0021, &sample_ipv4());
    bad[1] = 0x09;
    assert_eq!(
        decode(1, &ethernet(0x8864, &bad)).unwrap_err(),
        Skip::Malformed("pppoe header")
    );
    assert_eq!(
        decode(1, &ethernet(0x8864, &[0x11, 0, 0, 1, 0])).unwrap_err(),
        Skip::Malformed("pppoe header")
    );
}

#[test]
fn ip_in_ip_6in4_4in6_and_6in6_are_named_by_their_families() {
    let cases: [(Vec<u8>, &str, u8); 4] = [
        (ipv4_bytes(PROTO_IPIP, 1, 0, &[], &sample_ipv4()), "ipip", 4),
        (ipv4_bytes(PROTO_IPV6, 1, 0, &[], &sample_ipv6()), "6in4", 6),
        (ipv6_bytes(PROTO_IPIP, &sample_ipv4()), "4in6", 4),
        (ipv6_bytes(PROTO_IPV6, &sample_ipv6()), "6in6", 6),
    ];
    for (outer, name, version) in cases {
        let p = decode(linktype::RAW, &outer).unwrap();
        assert_sample(&p, version);
        assert_eq!(names(&p), [name]);
    }
    // The inner packet of another version than announced.
    let wrong = ipv4_bytes(PROTO_IPIP, 1, 0, &[], &sample_ipv6());
    assert_eq!(
        decode(linktype::RAW, &wrong).unwrap_err(),
        Skip::Malformed("ip version")
    );
}

#[test]
fn nested_tunnels_are_listed_outermost_first() {
    // MPLS → IPv4 → GRE key 3 → IPv4 → UDP → VXLAN 77 → Ethernet → IPv4 → TCP.
    let vx = ipv4_bytes(
        PROTO_UDP,
        2,
        0,
        &[],
        &udp_bytes(1, port::VXLAN, &vxlan(77, &inner4())),
    );
    let gre_ip = ipv4_bytes(PROTO_GRE, 3, 0, &[], &gre(0x2000, 0x0800, &[3], &vx));
    let frame = ethernet(
        0x8847,
        &concat(&[&((5 << 12 | 0x100 | 64u32).to_be_bytes()), &gre_ip]),
    );
    let p = decoded(&frame);
    assert_sample(&p, 4);
    assert_eq!(names(&p), ["mpls:5", "gre:3", "vxlan:77"]);
}

#[test]
fn tunnels_deeper_than_the_cap_are_skipped_as_too_deep() {
    let mut packet = sample_ipv4();
    for _ in 0..MAX_ENCAP {
        packet = ipv4_bytes(PROTO_IPIP, 1, 0, &[], &packet);
    }
    let p = decode(linktype::RAW, &packet).unwrap();
    assert_eq!(p.encap.len(), MAX_ENCAP);
    let deeper = ipv4_bytes(PROTO_IPIP, 1, 0, &[], &packet);
    assert_eq!(decode(linktype::RAW, &deeper).unwrap_err(), Skip::TooDeep);
    // MPLS labels count as layers too.
    let labels: Vec<u8> = (0..=MAX_ENCAP as u32)
        .flat_map(|l| (l << 12).to_be_bytes())
        .collect();
    assert_eq!(
        decode(1, &ethernet(0x8847, &labels)).unwrap_err(),
        Skip::TooDeep
    );
}

#[test]
fn only_virtual_network_ids_key_flows() {
    let net = |frame: &[u8]| decoded(frame).encap.network();
    let a = net(&outer_udp(port::VXLAN, &vxlan(1, &inner4())));
    let b = net(&outer_udp(port::VXLAN, &vxlan(2, &inner4())));
    assert_ne!(a, b);
    assert_ne!(a, 0);
    assert_eq!(net(&inner4()), 0, "plain traffic keeps its key");
    let gre_key = net(&in_ipv4_gre(&gre(0x2000, 0x0800, &[1], &sample_ipv4())));
    assert_ne!(gre_key, 0);
    assert_ne!(gre_key, a, "GRE key 1 is not VNI 1");
    // GTP-U TEIDs differ per direction; MPLS labels per hop; GRE without key and IP-in-IP name
    // no network.
    let ip = sample_ipv4();
    let len = u16::try_from(ip.len()).unwrap().to_be_bytes();
    let gtp = concat(&[&[0x30, 0xff, len[0], len[1]], &[0, 0, 0, 9], &ip]);
    assert_eq!(net(&outer_udp(port::GTP_U, &gtp)), 0);
    assert_eq!(net(&in_ipv4_gre(&gre(0, 0x0800, &[], &sample_ipv4()))), 0);
    assert_eq!(
        net(&ethernet(
            0x8847,
            &concat(&[&[0, 1, 1, 64], &sample_ipv4()])
        )),
        0
    );
}
