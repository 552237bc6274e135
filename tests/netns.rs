//! Handshakes killed by RSTs in network namespaces made by `captures/netns/make.sh`: real
//! openssl/nginx/curl peers, a router adding 15 ms each way, and an injector forging RSTs with
//! chosen TTL, IP ID, flags, count and direction. Each scenario was captured at the client and
//! at the server; `captures/netns/truth.json` says, from how it was made, what verdict each
//! capture point must give.

use serde_json::Value;
use std::process::Command;

fn truth() -> Value {
    let text =
        std::fs::read_to_string("captures/netns/truth.json").expect("captures/netns/truth.json");
    serde_json::from_str(&text).expect("truth.json parses")
}

fn run(file: &str) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tlsmortem"))
        .args(["--json", &format!("captures/netns/{file}")])
        .output()
        .expect("tlsmortem runs");
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{file}: exit {:?}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
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
    let t = truth();
    let files = t["files"].as_object().expect("files");
    let mut checked = 0;
    let mut failures = Vec::new();
    for (file, facts) in files.iter().filter(|(f, _)| filter(f)) {
        let conns = run(file);
        for want in facts["connections"].as_array().expect("connections") {
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
                assert!(
                    forged,
                    "{file}: called middlebox, but no forged packet is visible there"
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
