//! Connections carried in tunnels and in IP fragments give the same handshake facts as the
//! same connections seen plain.
//!
//! `captures/tunnels/make.sh` made one TLS handshake through each tunnel real software makes on
//! its machine (kernel VXLAN; Open vSwitch's userspace GRE with a key, ERSPAN types II and III,
//! Geneve) and ClientHellos cut into IPv4 fragments (by a router) and IPv6 fragments (by the
//! sending host, DTLS), each captured on the wire and plain; `truth.json` says from the commands
//! and the PKI what each must give. IP-in-IP, 6in4, 4in6, 6in6, MPLS, PPPoE and GTP-U had no
//! maker there (no kernel module, no userspace implementation at hand): for those, the tests
//! below wrap every frame of a real plain capture in the tunnel's headers, byte by byte, and
//! say so in their names. Damaged fragment captures (a fragment dropped, an overlap rewritten)
//! are made here from the real fragmented one.

mod common;

use serde_json::Value;
use tlsmortem::{analyze_bytes, Config};

use common::fixtures::captures;
use common::json::{finding_ids, sha256_list};
use common::truth::Truth;

/// One frame of a classic pcap.
#[derive(Clone)]
struct Frame {
    sec: u32,
    usec: u32,
    data: Vec<u8>,
}

/// The link type and frames of a little-endian microsecond pcap (what tcpdump writes).
fn read_pcap(bytes: &[u8]) -> (u32, Vec<Frame>) {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "a little-endian microsecond pcap");
    let link = u32_at(20);
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32_at(at + 8) as usize;
        frames.push(Frame {
            sec: u32_at(at),
            usec: u32_at(at + 4),
            data: bytes[at + 16..at + 16 + len].to_vec(),
        });
        at += 16 + len;
    }
    (link, frames)
}

fn write_pcap(link: u32, frames: &[Frame]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0xa1b2_c3d4, 0x0004_0002, 0, 0, 65_535, link] {
        v.extend(u32::to_le_bytes(w));
    }
    for f in frames {
        let len = f.data.len() as u32;
        for w in [f.sec, f.usec, len, len] {
            v.extend(w.to_le_bytes());
        }
        v.extend(&f.data);
    }
    v
}

fn load(file: &str) -> Vec<u8> {
    let path = captures(&format!("tunnels/{file}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every record of a capture, as JSON.
fn analyse(name: &str, bytes: &[u8], threads: usize, chunk_bytes: usize) -> Vec<Value> {
    let config = Config {
        threads,
        chunk_bytes,
        ..Config::default()
    };
    let mut out = Vec::new();
    analyze_bytes(name, bytes, &config, &mut |c| {
        out.push(serde_json::to_value(&c).expect("serializable"))
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    out
}

/// The one connection to the truth's server in `conns`.
fn the_connection<'a>(what: &str, conns: &'a [Value], want: &Value) -> &'a Value {
    let found: Vec<&Value> = conns
        .iter()
        .filter(|c| {
            c["server"]["ip"] == want["server_ip"] && c["server"]["port"] == want["server_port"]
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{what}: connections to the server: {conns:#?}"
    );
    found[0]
}

/// The handshake facts a tunnel must not change.
fn facts(c: &Value) -> Value {
    serde_json::json!({
        "sni": c["client_hello"]["sni"],
        "client_hello": {
            "cipher_suites": c["client_hello"]["cipher_suites"],
            "extensions": c["client_hello"]["extensions"],
            "ja3": c["client_hello"]["ja3"],
            "ja4": c["client_hello"]["ja4"],
        },
        "version": c["server_hello"]["version"],
        "cipher": c["server_hello"]["cipher_suite"],
        "certificates": sha256_list(&c["server_certificates"]),
        "verdict": c["verdict"]["id"],
        "findings": finding_ids(c),
    })
}

/// Asserts what the truth says of one connection.
fn assert_truth(what: &str, c: &Value, want: &Value) {
    assert_eq!(c["client_hello"]["sni"], want["sni"], "{what}: sni");
    assert_eq!(
        c["server_hello"]["version"], want["version"],
        "{what}: version"
    );
    assert_eq!(
        c["server_hello"]["cipher_suite"], want["cipher_suite"],
        "{what}: cipher"
    );
    let certs: Vec<Value> = sha256_list(&c["server_certificates"])
        .into_iter()
        .map(Value::from)
        .collect();
    assert_eq!(
        Value::from(certs),
        want["server_certificates_sha256"],
        "{what}: certificates"
    );
    assert_eq!(
        c["verdict"]["id"], want["expected_verdict"],
        "{what}: verdict"
    );
    let encapsulation = if c["encapsulation"].is_null() {
        Value::from(Vec::<Value>::new())
    } else {
        c["encapsulation"].clone()
    };
    assert_eq!(
        encapsulation, want["encapsulation"],
        "{what}: encapsulation"
    );
    let ids = finding_ids(c);
    for bad in [
        "fragments-incomplete",
        "fragment-overlap-conflict",
        "bytes-missing",
    ] {
        assert!(!ids.contains(bad), "{what}: {bad} in {ids:?}");
    }
}

#[test]
fn every_tunnel_and_fragment_capture_gives_the_handshake_facts_it_was_made_with() {
    let t = Truth::of("tunnels");
    let mut checked = 0;
    for (file, entry) in t.files() {
        let conns = analyse(file, &load(file), 1, 0);
        for want in entry["connections"].as_array().expect("connections") {
            assert_truth(file, the_connection(file, &conns, want), want);
            checked += 1;
        }
    }
    // Five tunnels and two fragment scenarios, each captured on the wire and plain.
    assert_eq!(checked, 14);
}

#[test]
fn each_tunnel_and_fragment_capture_says_what_its_plain_version_says() {
    let t = Truth::of("tunnels");
    let mut pairs = 0;
    for (file, entry) in t.files() {
        let Some(plain) = entry["plain_version"].as_str() else {
            continue;
        };
        let want = &entry["connections"][0];
        let wrapped = analyse(file, &load(file), 1, 0);
        let bare = analyse(plain, &load(plain), 1, 0);
        assert_eq!(
            facts(the_connection(file, &wrapped, want)),
            facts(the_connection(
                plain,
                &bare,
                &t.file(plain)["connections"][0]
            )),
            "{file} against {plain}"
        );
        pairs += 1;
    }
    assert_eq!(pairs, 7);
}

#[test]
fn tunnel_and_fragment_captures_read_the_same_on_any_number_of_workers_and_chunks() {
    let t = Truth::of("tunnels");
    for file in t.files().keys() {
        let bytes = load(file);
        let one = analyse(file, &bytes, 1, 0);
        for (threads, chunk) in [(2, 0), (3, 1024), (2, 700), (4, 4096)] {
            assert_eq!(
                analyse(file, &bytes, threads, chunk),
                one,
                "{file}: {threads} workers, chunks of {chunk}"
            );
        }
    }
}

#[test]
fn the_kernels_vxlan_on_linuxs_default_port_gives_the_facts_it_was_made_with() {
    // make.sh gave the kernel IANA's port (dstport 4789); flannel and Cilium leave it the
    // kernel's own default, 8472. Only the outer UDP destination port is changed here (and its
    // checksum cleared: over IPv4, zero means none).
    let t = Truth::of("tunnels");
    let want = t.file("vxlan.pcap")["connections"][0].clone();
    let (link, mut frames) = read_pcap(&load("vxlan.pcap"));
    let mut moved = 0;
    for f in &mut frames {
        let d = &mut f.data;
        if d[12..14] != [8, 0] || d[23] != 17 {
            continue;
        }
        let udp = 14 + usize::from(d[14] & 0xf) * 4;
        if d[udp + 2..udp + 4] == 4789u16.to_be_bytes() {
            d[udp + 2..udp + 4].copy_from_slice(&8472u16.to_be_bytes());
            d[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
            moved += 1;
        }
    }
    assert!(moved >= 10, "{moved} VXLAN datagrams");
    let name = "vxlan.pcap on UDP 8472";
    let conns = analyse(name, &write_pcap(link, &frames), 1, 0);
    assert_truth(name, the_connection(name, &conns, &want), &want);
}

// ---------------------------------------------------------------- wrapped by these tests

/// The Ethernet header and IP packet of a frame of an Ethernet capture.
fn split_ethernet(frame: &[u8]) -> (&[u8], u16, &[u8]) {
    let ty = u16::from_be_bytes([frame[12], frame[13]]);
    (&frame[..12], ty, &frame[14..])
}

fn ipv4_header(proto: u8, payload_len: usize, src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend(u16::try_from(20 + payload_len).unwrap().to_be_bytes());
    h.extend([0, 1, 0x40, 0, 64, proto, 0, 0]);
    h.extend(src);
    h.extend(dst);
    h
}

fn ipv6_header(next: u8, payload_len: usize, src: u8, dst: u8) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend(u16::try_from(payload_len).unwrap().to_be_bytes());
    h.extend([next, 64]);
    h.extend([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, src]);
    h.extend([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, dst]);
    h
}

/// Whether a plain frame goes from the client to the server (by the server's address).
fn to_server(ip: &[u8], server: &str) -> bool {
    let server: std::net::IpAddr = server.parse().unwrap();
    match server {
        std::net::IpAddr::V4(a) => ip.get(16..20) == Some(&a.octets()[..]),
        std::net::IpAddr::V6(a) => ip.get(24..40) == Some(&a.octets()[..]),
    }
}

/// Wraps every frame of plain capture `file` with `wrap(to_server, mac header, ethertype, ip)`
/// (an Ethernet frame out) and checks the result against the plain capture and its truth, with
/// the layers `encapsulation` expected.
fn check_wrapped(
    file: &str,
    tunnel: &str,
    encapsulation: &[&str],
    wrap: impl Fn(bool, &[u8], u16, &[u8]) -> Vec<u8>,
) {
    let t = Truth::of("tunnels");
    let want = t.file(file)["connections"][0].clone();
    let (link, frames) = read_pcap(&load(file));
    assert_eq!(link, 1, "{file} is Ethernet");
    let server = want["server_ip"].as_str().unwrap().to_string();
    let wrapped: Vec<Frame> = frames
        .iter()
        .map(|f| {
            let (macs, ty, ip) = split_ethernet(&f.data);
            Frame {
                data: wrap(to_server(ip, &server), macs, ty, ip),
                ..f.clone()
            }
        })
        .collect();
    let name = format!("{file} in {tunnel}");
    let conns = analyse(&name, &write_pcap(1, &wrapped), 1, 0);
    let c = the_connection(&name, &conns, &want);
    let mut want = want.clone();
    want["encapsulation"] = encapsulation.iter().map(|s| Value::from(*s)).collect();
    assert_truth(&name, c, &want);
    let bare = analyse(file, &load(file), 1, 0);
    assert_eq!(
        facts(c),
        facts(the_connection(file, &bare, &want)),
        "{name}"
    );
    // And on two workers, in small chunks.
    assert_eq!(
        analyse(&name, &write_pcap(1, &wrapped), 2, 2048),
        conns,
        "{name}: 2 workers"
    );
}

fn ethernet(macs: &[u8], ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = macs.to_vec();
    v.extend(ty.to_be_bytes());
    v.extend(payload);
    v
}

#[test]
fn wrapped_by_the_test_pppoe_session_frames_give_the_plain_facts() {
    check_wrapped(
        "vxlan.inner.pcap",
        "PPPoE",
        &["pppoe:4660"],
        |_, macs, ty, ip| {
            let ppp: u16 = if ty == 0x86dd { 0x0057 } else { 0x0021 };
            let mut p = vec![0x11, 0, 0x12, 0x34];
            p.extend(u16::try_from(2 + ip.len()).unwrap().to_be_bytes());
            p.extend(ppp.to_be_bytes());
            p.extend(ip);
            ethernet(macs, 0x8864, &p)
        },
    );
}

#[test]
fn wrapped_by_the_test_gtp_u_with_a_teid_per_direction_gives_the_plain_facts() {
    // Uplink TEID 0x100, downlink 0x200: one connection all the same; the record names the
    // first packet's. An extension header (PDU session container) on every packet.
    check_wrapped(
        "vxlan.inner.pcap",
        "GTP-U",
        &["gtpu:256"],
        |up, macs, _, ip| {
            let teid: u32 = if up { 0x100 } else { 0x200 };
            let mut g = vec![0x34, 0xff];
            g.extend(u16::try_from(8 + ip.len()).unwrap().to_be_bytes());
            g.extend(teid.to_be_bytes());
            g.extend([0, 0, 0, 0x85, 1, 0x10, 9, 0]);
            g.extend(ip);
            let mut udp = 2152u16.to_be_bytes().to_vec();
            udp.extend(2152u16.to_be_bytes());
            udp.extend(u16::try_from(8 + g.len()).unwrap().to_be_bytes());
            udp.extend([0, 0]);
            udp.extend(&g);
            let (a, b) = if up {
                ([172, 16, 0, 1], [172, 16, 0, 2])
            } else {
                ([172, 16, 0, 2], [172, 16, 0, 1])
            };
            let mut outer = ipv4_header(17, udp.len(), a, b);
            outer.extend(&udp);
            ethernet(macs, 0x0800, &outer)
        },
    );
}

#[test]
fn wrapped_by_the_test_mpls_label_stacks_give_the_plain_facts() {
    // Two labels, the bottom one different per direction, as label switching has them.
    check_wrapped(
        "vxlan.inner.pcap",
        "MPLS",
        &["mpls:16", "mpls:1001"],
        |up, macs, _, ip| {
            let bottom: u32 = if up { 1001 } else { 2002 };
            let mut m = ((16u32 << 12) | 64).to_be_bytes().to_vec();
            m.extend(((bottom << 12) | 0x100 | 64).to_be_bytes());
            m.extend(ip);
            ethernet(macs, 0x8847, &m)
        },
    );
}

#[test]
fn wrapped_by_the_test_ip_in_ip_and_4in6_give_the_plain_facts() {
    let ends = |up: bool| {
        if up {
            ([192, 0, 2, 1], [192, 0, 2, 2])
        } else {
            ([192, 0, 2, 2], [192, 0, 2, 1])
        }
    };
    check_wrapped(
        "vxlan.inner.pcap",
        "IP-in-IP",
        &["ipip"],
        |up, macs, _, ip| {
            let (a, b) = ends(up);
            let mut p = ipv4_header(4, ip.len(), a, b);
            p.extend(ip);
            ethernet(macs, 0x0800, &p)
        },
    );
    check_wrapped("vxlan.inner.pcap", "4in6", &["4in6"], |up, macs, _, ip| {
        let mut p = ipv6_header(4, ip.len(), u8::from(up) + 1, 2 - u8::from(up));
        p.extend(ip);
        ethernet(macs, 0x86dd, &p)
    });
}

#[test]
fn wrapped_by_the_test_6in4_and_6in6_give_the_plain_facts_of_a_dtls_handshake() {
    check_wrapped(
        "frag-ipv6-dtls.inner.pcap",
        "6in4",
        &["6in4"],
        |up, macs, _, ip| {
            let (a, b) = if up {
                ([192, 0, 2, 1], [192, 0, 2, 2])
            } else {
                ([192, 0, 2, 2], [192, 0, 2, 1])
            };
            let mut p = ipv4_header(41, ip.len(), a, b);
            p.extend(ip);
            ethernet(macs, 0x0800, &p)
        },
    );
    check_wrapped(
        "frag-ipv6-dtls.inner.pcap",
        "6in6",
        &["6in6"],
        |up, macs, _, ip| {
            let mut p = ipv6_header(41, ip.len(), u8::from(up) + 1, 2 - u8::from(up));
            p.extend(ip);
            ethernet(macs, 0x86dd, &p)
        },
    );
}

// ---------------------------------------------------------------- damaged fragments

/// The frames of the real fragmented IPv4 capture and the indexes of its fragments.
fn ipv4_fragments() -> (Vec<Frame>, Vec<usize>) {
    let (link, frames) = read_pcap(&load("frag-ipv4-tcp.pcap"));
    assert_eq!(link, 1);
    let fragments: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let ip = &f.data[14..];
            f.data[12..14] == [8, 0] && u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0
        })
        .map(|(i, _)| i)
        .collect();
    // 1.4 KB over a 576-byte link: three fragments.
    assert_eq!(
        fragments.len(),
        3,
        "the ClientHello came in three fragments"
    );
    (frames, fragments)
}

#[test]
fn a_lost_fragment_of_the_client_hello_is_a_finding_on_its_connection() {
    let (mut frames, fragments) = ipv4_fragments();
    let first = fragments[0];
    frames.remove(fragments[1]);
    let bytes = write_pcap(1, &frames);
    let conns = analyse("lost fragment", &bytes, 1, 0);
    let truth = Truth::of("tunnels");
    let want = &truth.file("frag-ipv4-tcp.pcap")["connections"][0];
    let c = the_connection("lost fragment", &conns, want);
    let f: Vec<&Value> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "fragments-incomplete")
        .collect();
    assert_eq!(f.len(), 1, "{:#?}", c["findings"]);
    assert_eq!(
        f[0]["frames"],
        serde_json::json!([first + 1]),
        "the first fragment's frame"
    );
    assert!(
        c["client_hello"].is_null(),
        "the ClientHello was in the datagram never completed"
    );
    for (threads, chunk) in [(2, 0), (3, 1024)] {
        assert_eq!(analyse("lost fragment", &bytes, threads, chunk), conns);
    }
}

#[test]
fn an_overlapping_fragment_with_other_bytes_keeps_the_first_copy_and_is_a_finding() {
    let (mut frames, fragments) = ipv4_fragments();
    // The second fragment, made to start 16 bytes earlier with those 16 bytes other than the
    // first fragment's: the first fragment came first, so its bytes are kept, and the
    // difference is a conflict.
    let second = frames[fragments[1]].clone();
    let ip = &second.data[14..];
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    let offset = usize::from(u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff) * 8;
    let first_ip = &frames[fragments[0]].data[14..];
    let first_payload = &first_ip[usize::from(first_ip[0] & 0x0f) * 4..];
    let mut payload: Vec<u8> = first_payload[offset - 16..offset]
        .iter()
        .map(|b| b ^ 0xff)
        .collect();
    payload.extend(&ip[header_len..]);
    let mut forged = ip[..header_len].to_vec();
    forged[2..4].copy_from_slice(
        &u16::try_from(header_len + payload.len())
            .unwrap()
            .to_be_bytes(),
    );
    let field =
        (u16::from_be_bytes([ip[6], ip[7]]) & 0xe000) | u16::try_from((offset - 16) / 8).unwrap();
    forged[6..8].copy_from_slice(&field.to_be_bytes());
    forged.extend(&payload);
    let mut data = second.data[..14].to_vec();
    data.extend(forged);
    frames[fragments[1]] = Frame { data, ..second };
    let bytes = write_pcap(1, &frames);
    let conns = analyse("conflicting overlap", &bytes, 1, 0);
    let truth = Truth::of("tunnels");
    let want = &truth.file("frag-ipv4-tcp.pcap")["connections"][0];
    let c = the_connection("conflicting overlap", &conns, want);
    assert!(
        finding_ids(c).contains("fragment-overlap-conflict"),
        "{:#?}",
        c["findings"]
    );
    // First copy wins: the ClientHello is intact and the handshake reads as made.
    assert_eq!(c["client_hello"]["sni"], want["sni"]);
    assert_eq!(c["verdict"]["id"], want["expected_verdict"]);
    assert_eq!(analyse("conflicting overlap", &bytes, 2, 1024), conns);
}
