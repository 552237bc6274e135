//! QUIC and STARTTLS captures made by this project from real software on loopback
//! (`captures/quic/make.sh`: ngtcp2 and aioquic HTTP/3; `captures/starttls/make.sh`: Postfix,
//! Dovecot, PostgreSQL, plus a stdlib SMTP stub for the refused / accepted-without-TLS cases).
//! Runs `tlsmortem --json FILE` on each and checks the JSON lines against the `truth.json`
//! beside the captures, written from how each capture was made (client flags, the clients' own
//! logs and reports), never from tlsmortem.
//!
//! Assertions are field-level, so adding output fields does not break them.

mod common;

use serde_json::Value;

use common::fixtures::captures;
use common::json::{finding_ids, sha256_list};
use common::run::tlsmortem;
use common::truth::Truth;

/// `tlsmortem --json captures/SUB/FILE`: exit 0 or 1, every non-empty line one JSON object.
fn run_json(sub: &str, file: &str) -> Vec<Value> {
    let path = captures(&format!("{sub}/{file}"));
    assert!(path.exists(), "missing capture {}", path.display());
    common::run::run_json(tlsmortem().arg("--json").arg(&path))
}

fn summary(conns: &[Value]) -> String {
    conns
        .iter()
        .map(|c| {
            format!(
                "{} client port {} verdict {} quic {} findings {}",
                c["transport"],
                c["client"]["port"],
                c["verdict"]["id"],
                c["quic"],
                Vec::from_iter(finding_ids(c)).join(",")
            )
        })
        .collect::<Vec<_>>()
        .join("\n  ")
}

fn finding<'a>(conn: &'a Value, id: &str) -> Option<&'a Value> {
    conn["findings"].as_array()?.iter().find(|f| f["id"] == id)
}

fn frames_of(f: &Value) -> Vec<u64> {
    f["frames"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// The connection whose client used `port` (when truth knows it), else the only one.
fn conn_by_client_port<'a>(file: &str, conns: &'a [Value], port: &Value) -> &'a Value {
    match port.as_u64() {
        Some(p) => conns
            .iter()
            .find(|c| c["client"]["port"].as_u64() == Some(p))
            .unwrap_or_else(|| {
                panic!(
                    "{file}: no connection from client port {p}; got:\n  {}",
                    summary(conns)
                )
            }),
        None => {
            assert_eq!(
                conns.len(),
                1,
                "{file}: expected one connection:\n  {}",
                summary(conns)
            );
            &conns[0]
        }
    }
}

fn hex(v: &Value) -> String {
    v.as_str()
        .unwrap_or_default()
        .trim_start_matches("0x")
        .to_ascii_lowercase()
}

// ------------------------------------------------------------------------------------ QUIC

fn check_quic(file: &str) {
    let truth = Truth::of("quic");
    let t = truth.file(file);
    let conns = run_json("quic", file);
    let expected = t["connections"].as_array().expect("truth connections");
    assert_eq!(
        conns.len(),
        expected.len(),
        "{file}: one connection per client UDP flow expected ({}); got:\n  {}",
        expected.len(),
        summary(&conns)
    );
    for e in expected {
        let c = conn_by_client_port(file, &conns, &e["client_port"]);
        let ctx = format!("{file} (client port {})", e["client_port"]);
        assert_eq!(c["transport"], "udp", "{ctx}: transport");
        assert_eq!(c["server"]["port"], t["server_port"], "{ctx}: server port");
        let q = &c["quic"];
        assert!(q.is_object(), "{ctx}: quic object missing: {c}");

        if e["version_negotiation"] == true {
            // The client's Initial was in a version the server does not speak; the server
            // answered Version Negotiation and the client went on from another UDP flow.
            // The versions the server offered instead.
            assert!(
                q["version_negotiation"]
                    .as_array()
                    .is_some_and(|v| v.contains(&Value::from(1))),
                "{ctx}: quic.version_negotiation lists v1: {q}"
            );
            assert!(
                c["server_hello"].is_null(),
                "{ctx}: no ServerHello can be on the negotiated-away flow"
            );
            continue;
        }

        assert_eq!(q["version"], e["version"], "{ctx}: quic.version");
        assert_eq!(
            hex(&q["dcid"]),
            hex(&e["client_initial_dcid"]),
            "{ctx}: quic.dcid"
        );
        assert_eq!(
            hex(&q["client_scid"]),
            hex(&e["client_scid"]),
            "{ctx}: quic.client_scid"
        );
        assert_eq!(
            hex(&q["server_scid"]),
            hex(&e["server_scid"]),
            "{ctx}: quic.server_scid"
        );
        assert_eq!(
            q["retry"] == true,
            e["retry"] == true,
            "{ctx}: quic.retry {} vs truth {}",
            q["retry"],
            e["retry"]
        );
        assert!(
            q["version_negotiation"].is_null(),
            "{ctx}: no Version Negotiation on this flow"
        );

        let ch = &c["client_hello"];
        assert!(
            ch.is_object(),
            "{ctx}: client_hello missing (Initial not decrypted?)"
        );
        assert_eq!(ch["sni"], t["sni"], "{ctx}: SNI");
        assert_eq!(ch["alpn"], t["alpn_offered"], "{ctx}: ALPN offered");
        let ja4 = ch["ja4"].as_str().unwrap_or_default();
        assert!(
            ja4.starts_with('q'),
            "{ctx}: ja4 {ja4:?} must start with q for QUIC"
        );
        assert!(
            ch["supported_versions"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == 0x0304)),
            "{ctx}: QUIC ClientHello offers TLS 1.3"
        );

        if e["server_initial"] == true {
            let sh = &c["server_hello"];
            assert!(sh.is_object(), "{ctx}: server_hello missing: {c}");
            assert_eq!(sh["version"], 0x0304, "{ctx}: QUIC negotiates TLS 1.3");
            assert_eq!(sh["cipher_suite"], e["cipher_suite"], "{ctx}: cipher suite");
            // The selected ALPN travels in EncryptedExtensions (Handshake keys): not visible.
            assert!(
                sh["frame"].as_u64() > ch["frame"].as_u64(),
                "{ctx}: ServerHello after ClientHello"
            );
        }
    }
}

#[test]
fn quic_v1_ngtcp2() {
    check_quic("h3-ngtcp2.pcap");
}

#[test]
fn quic_retry_ngtcp2() {
    check_quic("h3-ngtcp2-retry.pcap");
}

#[test]
fn quic_version_negotiation_ngtcp2() {
    check_quic("h3-ngtcp2-version-negotiation.pcap");
}

#[test]
fn quic_v2_aioquic() {
    check_quic("h3-aioquic-v2.pcap");
}

// -------------------------------------------------------------------------------- STARTTLS

fn protocol_named(msg: &str, protocol: &str) -> bool {
    msg.to_ascii_lowercase().contains(protocol)
}

fn check_starttls_tls(file: &str) {
    let truth = Truth::of("starttls");
    let t = truth.file(file);
    let conns = run_json("starttls", file);
    let c = conn_by_client_port(file, &conns, &t["client_port"]);
    let ctx = file;
    assert_eq!(c["transport"], "tcp", "{ctx}: transport");
    assert_eq!(c["server"]["port"], t["server_port"], "{ctx}: server port");

    let ch = &c["client_hello"];
    assert!(
        ch.is_object(),
        "{ctx}: client_hello missing after the plaintext phase: {c}"
    );
    assert_eq!(ch["sni"], t["sni"], "{ctx}: SNI");
    assert_eq!(
        ch["frame"], t["client_hello_frame"],
        "{ctx}: ClientHello frame"
    );
    let ja4 = ch["ja4"].as_str().unwrap_or_default();
    assert!(
        ja4.starts_with('t'),
        "{ctx}: ja4 {ja4:?} must start with t for TCP"
    );

    let sh = &c["server_hello"];
    assert!(sh.is_object(), "{ctx}: server_hello missing: {c}");
    assert_eq!(sh["version"], t["tls_version"], "{ctx}: negotiated version");
    assert_eq!(sh["cipher_suite"], t["cipher_suite"], "{ctx}: cipher suite");

    let want_certs: Vec<String> = t["server_certificates_sha256"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_ascii_lowercase())
        .collect();
    if !want_certs.is_empty() {
        let got = sha256_list(&c["server_certificates"]);
        assert_eq!(
            got, want_certs,
            "{ctx}: server certificates (TLS 1.2, in clear)"
        );
        assert_eq!(
            want_certs[0],
            truth["leaf_sha256"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase()
        );
    }

    let protocol = t["protocol"].as_str().unwrap();
    let f = finding(c, "starttls")
        .unwrap_or_else(|| panic!("{ctx}: no starttls finding; findings {:?}", finding_ids(c)));
    let msg = f["message"].as_str().unwrap_or_default();
    assert!(
        protocol_named(msg, protocol),
        "{ctx}: starttls message must name {protocol}: {msg:?}"
    );
    assert_eq!(
        frames_of(f),
        vec![
            t["command_frame"].as_u64().unwrap(),
            t["reply_frame"].as_u64().unwrap()
        ],
        "{ctx}: starttls frames [command, accepted]"
    );
    for bad in ["starttls-refused", "starttls-not-followed"] {
        assert!(finding(c, bad).is_none(), "{ctx}: unexpected {bad}");
    }
    assert_eq!(c["verdict"]["id"], "complete", "{ctx}: verdict");

    if t["hello_retry_request"] == true {
        assert!(
            finding(c, "hello-retry-request").is_some(),
            "{ctx}: PostgreSQL (prime256v1 only) answers libpq's X25519 share with a HelloRetryRequest"
        );
        assert!(
            c["more_client_hellos"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "{ctx}: second ClientHello after the HelloRetryRequest"
        );
    }
}

#[test]
fn starttls_smtp_postfix() {
    check_starttls_tls("smtp-postfix.pcap");
}

#[test]
fn starttls_imap_dovecot() {
    check_starttls_tls("imap-dovecot.pcap");
}

#[test]
fn starttls_postgres_psql() {
    check_starttls_tls("postgres-psql.pcap");
}

#[test]
fn starttls_postgres_openssl() {
    check_starttls_tls("postgres-openssl.pcap");
}

/// Refused (454) and accepted-but-no-TLS (220, then the client closes): no ClientHello at all.
/// The flow must be reported with plain `--json` (it is an attempted TLS upgrade, even on a
/// port that is not a TLS port), with the finding naming the protocol and pointing at the
/// command / reply frames.
fn check_starttls_no_tls(file: &str, id: &str) {
    let truth = Truth::of("starttls");
    let t = truth.file(file);
    let conns = run_json("starttls", file);
    let c = conn_by_client_port(file, &conns, &t["client_port"]);
    let ctx = file;
    assert_eq!(c["transport"], "tcp", "{ctx}: transport");
    assert!(c["client_hello"].is_null(), "{ctx}: no TLS was ever sent");
    assert!(c["server_hello"].is_null(), "{ctx}: no TLS was ever sent");
    let f = finding(c, id)
        .unwrap_or_else(|| panic!("{ctx}: no {id} finding; findings {:?}", finding_ids(c)));
    let msg = f["message"].as_str().unwrap_or_default();
    assert!(
        protocol_named(msg, "smtp"),
        "{ctx}: {id} message must name smtp: {msg:?}"
    );
    let cmd = t["command_frame"].as_u64().unwrap();
    let reply = t["reply_frame"].as_u64().unwrap();
    let frames = frames_of(f);
    assert!(!frames.is_empty(), "{ctx}: {id} has no frames");
    assert!(
        frames.iter().all(|n| *n == cmd || *n == reply),
        "{ctx}: {id} frames {frames:?} must be the STARTTLS command ({cmd}) / reply ({reply})"
    );
    assert!(
        finding(c, "starttls").is_none(),
        "{ctx}: no TLS followed, so no plain starttls finding"
    );
    let other = if id == "starttls-refused" {
        "starttls-not-followed"
    } else {
        "starttls-refused"
    };
    assert!(finding(c, other).is_none(), "{ctx}: unexpected {other}");
}

#[test]
fn starttls_refused_454() {
    let truth = Truth::of("starttls");
    let t = truth.file("smtp-starttls-refused.pcap");
    assert_eq!(t["reply_code"], 454);
    check_starttls_no_tls("smtp-starttls-refused.pcap", "starttls-refused");
}

#[test]
fn starttls_accepted_but_no_tls() {
    let truth = Truth::of("starttls");
    let t = truth.file("smtp-starttls-accepted-no-tls.pcap");
    assert_eq!(t["reply_code"], 220);
    check_starttls_no_tls(
        "smtp-starttls-accepted-no-tls.pcap",
        "starttls-not-followed",
    );
    // The accepting reply must be among the frames: it is what was not followed.
    let conns = run_json("starttls", "smtp-starttls-accepted-no-tls.pcap");
    let c = conn_by_client_port("accepted-no-tls", &conns, &t["client_port"]);
    let f = finding(c, "starttls-not-followed").unwrap();
    assert!(frames_of(f).contains(&t["reply_frame"].as_u64().unwrap()));
}

/// Every capture is small, as the issue requires.
#[test]
fn transport_captures_are_small() {
    for sub in ["quic", "starttls"] {
        for e in std::fs::read_dir(captures(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "pcap") {
                let n = std::fs::metadata(&p).unwrap().len();
                assert!(n < 1 << 20, "{} is {n} bytes", p.display());
            }
        }
    }
}
