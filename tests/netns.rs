//! Handshakes killed by RSTs in network namespaces made by `captures/netns/make.sh`: real
//! openssl/nginx/curl peers, a router adding 15 ms each way, and an injector forging RSTs with
//! chosen TTL, IP ID, flags, count and direction. Each scenario was captured at the client and
//! at the server; `captures/netns/truth.json` says, from how it was made, what verdict each
//! capture point must give.

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

/// Checks every connection of the files whose scenario name matches `filter`.
fn check(filter: impl Fn(&str) -> bool) -> usize {
    let t = Truth::of("netns");
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in t.files().keys().filter(|f| filter(f)) {
        let conns = run(file);
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
            if verdict["by"] == "middlebox" {
                let forged = want["visible_rsts"].as_array().is_some_and(|r| {
                    r.iter()
                        .any(|x| x["origin"].as_str().is_some_and(|o| o.contains("forged")))
                });
                // A drop by the router leaves no packet, only the missing ACKs: the router's
                // own log says it dropped them.
                let dropped = t.file(file)["router_events"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| x["event"] == "silent-drop"));
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
    assert!(check(|f| f.starts_with("inject-") && f.ends_with(".client.pcap")) >= 6);
}

#[test]
fn injected_rsts_seen_at_the_server_are_never_called_genuine_completions() {
    assert!(check(|f| f.starts_with("inject-") && f.ends_with(".server.pcap")) >= 5);
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
