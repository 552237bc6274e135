//! Handshakes killed by RSTs in network namespaces made by `captures/netns/make.sh`: real
//! openssl/nginx/curl/gnutls peers, a router adding 15 ms each way (or dropping, or answering
//! with ICMP), and an injector forging RSTs and FINs with chosen TTL, IP ID, flags, payload,
//! count and direction. Each scenario was captured at the client and at the server;
//! `captures/netns/truth.json` says, from how it was made, what verdict each capture point
//! must give and, where the capture shows it, which findings.

mod common;

use serde_json::Value;

use common::fixtures::captures;
use common::run::tlsmortem;
use common::truth::Truth;

/// `tlsmortem --json captures/netns/FILE`: exit 0 or 1, every line one JSON object.
fn run(file: &str) -> Vec<Value> {
    let r = common::run::run(
        tlsmortem()
            .arg("--json")
            .arg(captures(&format!("netns/{file}"))),
    );
    assert!(r.ran(), "{file}: exit {:?}", r.code);
    r.json_every_line()
}

fn find<'a>(conns: &'a [Value], want: &Value) -> Option<&'a Value> {
    conns.iter().find(|c| {
        c["server"]["ip"] == want["server_ip"]
            && c["server"]["port"] == want["server_port"]
            && c["client"]["port"] == want["client_port"]
    })
}

/// The scenarios added after the first set, each checked by its own test below: the older
/// tests' prefixes (`inject-`) would otherwise take them in.
const LATER: &[&str] = &["inject-rst-payload.", "inject-fin-psh-blockpage."];

fn later(file: &str) -> bool {
    LATER.iter().any(|p| file.starts_with(p))
}

/// Checks every connection of the files whose scenario name matches `filter`.
fn check(filter: impl Fn(&str) -> bool) -> usize {
    let t = Truth::of("netns");
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in t.files().keys().filter(|f| filter(f)) {
        let conns = run(file);
        // A capture in which nothing of the connection arrived (the SYN was rejected on the
        // way): nothing may be reported from it.
        if t.file(file)["expected_connections"] == 0 {
            checked += 1;
            if !conns.is_empty() {
                failures.push(format!(
                    "{file}: expected no connection, got {}",
                    conns.len()
                ));
            }
            continue;
        }
        for want in t.connections(file) {
            let Some(got) = find(&conns, want) else {
                failures.push(format!("{file}: connection {want} not reported"));
                continue;
            };
            checked += 1;
            let verdict = &got["verdict"];
            let ok = match want["expected_verdict"].as_str() {
                // Not visible at this point: only what it must not be.
                None => want["must_not_be"]
                    .as_array()
                    .is_some_and(|bad| !bad.contains(&verdict["id"])),
                Some(id) => {
                    let by_ok = match (want.get("acceptable_by"), want["by"].as_str()) {
                        (Some(Value::Array(ok)), _) => ok.contains(&verdict["by"]),
                        (_, Some(by)) => verdict["by"] == by,
                        (_, None) => true,
                    };
                    verdict["id"] == id && by_ok
                }
            };
            if !ok {
                failures.push(format!(
                    "{file}: expected {} by {}, got {verdict}",
                    want["expected_verdict"], want["by"]
                ));
            }
            // What it must not be holds beside an expected id too (a forged FIN carrying an
            // HTTP block page is a cut, never "not TLS").
            if want["expected_verdict"].is_string()
                && want["must_not_be"]
                    .as_array()
                    .is_some_and(|bad| bad.contains(&verdict["id"]))
            {
                failures.push(format!(
                    "{file}: must not be {}, got {verdict}",
                    want["must_not_be"]
                ));
            }
            // Findings the capture shows (an ICMP error, a weak DH group): each id must be
            // among the record's.
            if let Some(expected) = want["expected_findings"].as_array() {
                let ids: Vec<&Value> = got["findings"]
                    .as_array()
                    .map(|f| f.iter().map(|x| &x["id"]).collect())
                    .unwrap_or_default();
                for id in expected {
                    if !ids.contains(&id) {
                        failures.push(format!(
                            "{file}: expected finding {id}, got findings {ids:?}"
                        ));
                    }
                }
            }
            if verdict["by"] == "middlebox" {
                let forged = ["visible_rsts", "visible_fins"].iter().any(|k| {
                    want[*k].as_array().is_some_and(|r| {
                        r.iter()
                            .any(|x| x["origin"].as_str().is_some_and(|o| o.contains("forged")))
                    })
                });
                // A drop by the router leaves no packet, only the missing ACKs (and, when it
                // rejects, its ICMP errors): the router's own log says it dropped them.
                let dropped = t.file(file)["router_events"].as_array().is_some_and(|e| {
                    e.iter()
                        .any(|x| x["event"] == "silent-drop" || x["event"] == "icmp-reject")
                });
                assert!(
                    forged || dropped,
                    "{file}: called middlebox, but no forged packet is visible there and the router dropped nothing"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    checked
}

#[test]
fn injected_rsts_seen_at_the_client_are_called_middlebox() {
    assert!(check(|f| f.starts_with("inject-") && !later(f) && f.ends_with(".client.pcap")) >= 6);
}

#[test]
fn injected_rsts_seen_at_the_server_are_never_called_genuine_completions() {
    assert!(check(|f| f.starts_with("inject-") && !later(f) && f.ends_with(".server.pcap")) >= 5);
}

#[test]
fn a_forged_rst_with_payload_is_called_middlebox() {
    assert!(check(|f| f.starts_with("inject-rst-payload.")) >= 2);
}

#[test]
fn a_forged_fin_carrying_a_block_page_is_a_middlebox_cut_not_plain_text() {
    assert!(check(|f| f.starts_with("inject-fin-psh-blockpage.")) >= 2);
}

#[test]
fn icmp_rejections_are_findings_and_no_server_answer() {
    // icmp-reject: client and server; icmp-reject-syn: client, and the empty server capture.
    assert!(check(|f| f.starts_with("icmp-reject")) >= 4);
}

#[test]
fn a_client_hello_sent_into_a_refused_connection_is_still_refused() {
    assert!(check(|f| f.starts_with("raw-client-after-refused.")) >= 2);
}

#[test]
fn a_client_refusing_a_512_bit_dh_group_is_weak_dh() {
    assert!(check(|f| f.starts_with("weak-dh-512.")) >= 2);
}

#[test]
fn a_client_giving_up_on_a_silent_server_is_no_server_response() {
    assert!(check(|f| f.starts_with("client-timeout-silent-server.")) >= 2);
}

#[test]
fn genuine_server_and_client_resets_are_never_called_middlebox() {
    assert!(
        check(|f| f.starts_with("server-")
            || f.starts_with("client-abort")
            || f.starts_with("fin-after"))
            >= 10
    );
}

#[test]
fn normal_handshakes_and_silent_drops_get_their_verdicts() {
    assert!(check(|f| f.starts_with("normal-") || f.starts_with("silent-drop")) >= 8);
}
