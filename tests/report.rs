//! The report stage on real captures, in-process: the text report's order (failed handshakes
//! with their evidence and advice before the table, then the summaries), its caps, the
//! aggregates per name and per server, and the name-filtering pattern found across the
//! namespace captures of `captures/netns/` (`truth.json` says how each was made).

mod common;

use serde_json::Value;
use tlsmortem::ids::Culprit;
use tlsmortem::report::{
    Aggregates, Prepared, Reporter, SummaryJson, Text, MAX_DETAILED, MAX_SUMMARY_ROWS,
    MAX_TABLE_LINES,
};
use tlsmortem::Connection;

use common::fixtures::captures;
use common::truth::Truth;

/// Connections of one capture under `captures/`, in first-packet order; `path` is also the
/// capture's name in the report.
fn connections(path: &str) -> Vec<Connection> {
    let bytes = std::fs::read(captures(path)).expect("capture is readable");
    let mut out = Vec::new();
    tlsmortem::analyze_bytes(path, &bytes, &Default::default(), &mut |c| out.push(c))
        .expect("capture analyses");
    out
}

/// Runs a reporter over `conns` and returns what it wrote.
fn render(
    conns: &[Connection],
    make: impl FnOnce(&mut Vec<u8>) -> Box<dyn Reporter + '_>,
) -> String {
    let mut buf = Vec::new();
    {
        let mut r = make(&mut buf);
        for c in conns {
            let p = Prepared::new(c.clone(), r.needs());
            r.prepared(&p).expect("write to memory");
        }
        r.finish().expect("write to memory");
    }
    String::from_utf8(buf).expect("UTF-8 output")
}

fn text(conns: &[Connection]) -> String {
    render(conns, |b| Box::new(Text::new(b)))
}

const NORMAL: &str = "normal-openssl.client.pcap";
const INJECTED: &str = "inject-single-rst.client.pcap";

#[test]
fn a_server_that_completes_one_name_and_is_cut_for_another_is_reported_as_sni_filtering() {
    let t = Truth::of("netns");
    let normal = connections(&format!("netns/{NORMAL}"));
    let injected = connections(&format!("netns/{INJECTED}"));
    assert_eq!(normal.len(), t.connections(NORMAL).len());
    assert_eq!(injected.len(), t.connections(INJECTED).len());

    let mut agg = Aggregates::new();
    for c in normal.iter().chain(&injected) {
        agg.add(c);
    }
    assert_eq!(
        agg.total().handshakes,
        (normal.len() + injected.len()) as u64
    );

    let found = agg.sni_filtering();
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.server.ip.to_string(), "10.200.2.2");
    assert_eq!(f.server.port, 443);
    let working: Vec<_> = f.working.iter().map(|w| w.sni.as_str()).collect();
    let blocked: Vec<_> = f.blocked.iter().map(|w| w.sni.as_str()).collect();
    assert_eq!(working, ["www.example.test"]);
    assert_eq!(blocked, ["blocked.example.test"]);
    assert_eq!(f.working[0].counts.complete, normal.len() as u64);
    assert_eq!(
        f.blocked[0].counts.cut.middlebox,
        injected.len() as u64,
        "the injected RST is judged a middlebox's"
    );
    assert_eq!(f.cut_by, Culprit::Middlebox);
    assert!(f.meaning().contains("SNI filtering on the path"));
}

#[test]
fn the_aggregates_count_every_netns_connection_per_name_and_per_server() {
    let t = Truth::of("netns");
    let files = [
        NORMAL,
        "normal-curl-nginx.client.pcap",
        INJECTED,
        "inject-rst-ack-burst.client.pcap",
        "silent-drop.client.pcap",
        "server-not-listening.client.pcap",
        "client-abort.client.pcap",
    ];
    let mut agg = Aggregates::new();
    let mut want_total = 0;
    let mut want_by_name = std::collections::BTreeMap::<Option<String>, u64>::new();
    for f in files {
        let conns = connections(&format!("netns/{f}"));
        assert_eq!(conns.len(), t.connections(f).len(), "{f}");
        for want in t.connections(f) {
            *want_by_name
                .entry(want["sni"].as_str().map(str::to_string))
                .or_default() += 1;
        }
        want_total += conns.len() as u64;
        for c in &conns {
            agg.add(c);
        }
    }
    assert_eq!(agg.total().handshakes, want_total);
    let got_by_name: std::collections::BTreeMap<Option<String>, u64> = agg
        .sni_rows()
        .into_iter()
        .map(|(n, c)| (n.map(str::to_string), c.handshakes))
        .collect();
    assert_eq!(got_by_name, want_by_name);

    let rows = agg.sni_rows();
    let www = rows
        .iter()
        .find(|r| r.0 == Some("www.example.test"))
        .expect("www row")
        .1;
    assert_eq!(www.complete, www.handshakes);
    let blocked = rows
        .iter()
        .find(|r| r.0 == Some("blocked.example.test"))
        .expect("blocked row")
        .1;
    assert_eq!(blocked.complete, 0);
    assert_eq!(blocked.cut.middlebox, 2, "single RST and RST+ACK burst");
    assert_eq!(blocked.cut.client, 1, "the client's own abort");
    assert_eq!(
        blocked.failed.get("dropped-on-path"),
        Some(&1),
        "silent-drop: the router dropped the ClientHello"
    );
    assert_eq!(blocked.blocked(), 3, "two forged RSTs and the drop");
    let none = rows.iter().find(|r| r.0.is_none()).expect("no-SNI row").1;
    assert_eq!(none.failed.get("connection-refused"), Some(&1));

    // Everything went to one server.
    let servers = agg.server_rows();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].0.ip.to_string(), "10.200.2.2");
    assert_eq!(servers[0].1.handshakes, want_total);
    assert_eq!(agg.other_names().handshakes, 0);
    assert_eq!(agg.other_servers().handshakes, 0);

    // The client's own abort does not make a name "blocked": only the filtering cuts count.
    assert_eq!(blocked.blocked(), 3);
}

#[test]
fn json_summary_records_follow_the_connections_and_have_no_client_key() {
    let mut conns = connections(&format!("netns/{NORMAL}"));
    conns.extend(connections(&format!("netns/{INJECTED}")));
    let out = render(&conns, |b| Box::new(SummaryJson::new(b)));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let (records, summaries): (Vec<&Value>, Vec<&Value>) =
        lines.iter().partition(|v| v.get("summary").is_none());
    assert_eq!(records.len(), conns.len());
    assert!(records.iter().all(|r| r.get("client").is_some()));
    assert!(summaries.iter().all(|s| s.get("client").is_none()));
    // Connections first, then the summaries.
    let first_summary = lines
        .iter()
        .position(|v| v.get("summary").is_some())
        .expect("summary records");
    assert_eq!(first_summary, conns.len());

    let sni = |name: &str| {
        summaries
            .iter()
            .find(|s| s["summary"] == "sni" && s["sni"] == name)
            .unwrap_or_else(|| panic!("sni record for {name}: {summaries:?}"))
    };
    let blocked = sni("blocked.example.test");
    assert_eq!(blocked["handshakes"], 1);
    assert_eq!(blocked["complete"], 0);
    assert_eq!(blocked["cut"]["middlebox"], 1);
    assert_eq!(blocked["complete_rate"], 0.0);
    assert_eq!(sni("www.example.test")["complete_rate"], 1.0);

    let server = summaries
        .iter()
        .find(|s| s["summary"] == "server")
        .expect("server record");
    assert_eq!(server["server"]["ip"], "10.200.2.2");
    assert_eq!(server["server"]["port"], 443);
    assert_eq!(server["handshakes"], 2);
    assert_eq!(server["complete_rate"], 0.5);

    let filtering = summaries
        .iter()
        .find(|s| s["summary"] == "sni-filtering")
        .expect("sni-filtering record");
    assert_eq!(filtering["server"]["ip"], "10.200.2.2");
    assert_eq!(filtering["working_sni"][0]["sni"], "www.example.test");
    assert_eq!(filtering["blocked_sni"][0]["sni"], "blocked.example.test");
}

#[test]
fn the_text_report_puts_failed_handshakes_with_evidence_and_advice_before_the_table() {
    let mut conns = connections(&format!("netns/{NORMAL}"));
    conns.extend(connections(&format!("netns/{INJECTED}")));
    let out = text(&conns);

    let failed = out.find("Failed handshakes").expect("failed section");
    let table = out.find("\nConnections\n").expect("table");
    let by_name = out.find("Summary by server name").expect("summary by name");
    let by_server = out.find("Summary by server\n").expect("summary by server");
    let filtering = out
        .find("10.200.2.2:443 completes for www.example.test (1/1) but cuts blocked.example.test (0/1): SNI filtering on the path is likely")
        .unwrap_or_else(|| panic!("filtering line:\n{out}"));
    let total = out.find("2 connections: ").expect("total line");
    assert!(failed < table && table < by_name && by_name < by_server);
    assert!(by_server < filtering && filtering < total, "{out}");

    let section = &out[failed..table];
    assert!(
        section.contains("blocked.example.test  rst-after-client-hello [middlebox, "),
        "{section}"
    );
    assert!(
        !section.contains("www.example.test"),
        "the complete handshake is not in the failed section:\n{section}"
    );
    // Frame numbers are per input: with two inputs each block names its own.
    assert!(
        section.contains(&format!(
            "[middlebox, {:.2}]  in netns/{INJECTED}\n",
            conns[1].verdict.confidence.unwrap_or_default()
        )),
        "{section}"
    );
    // The plain-words verdict, the evidence lines and the advice.
    let injected = &conns[1];
    assert!(section.contains(&injected.verdict.summary));
    assert!(section.contains("ttl-mismatch"), "{section}");
    assert!(section.contains("sooner-than-rtt"), "{section}");
    assert!(section.contains("advice: "), "{section}");
    assert!(section.contains("ICP filing"), "{section}");
    // Info findings stay out of the detail.
    assert!(!section.contains("certificate-not-visible"), "{section}");
    // Both connections are in the table, without colour codes.
    assert_eq!(
        out[table..by_name]
            .lines()
            .filter(|l| l.contains("10.200.2.2:443"))
            .count(),
        2
    );
    assert!(!out.contains('\x1b'));
}

#[test]
fn colour_is_only_added_when_asked_for() {
    let mut conns = connections(&format!("netns/{NORMAL}"));
    conns.extend(connections(&format!("netns/{INJECTED}")));
    let out = render(&conns, |b| Box::new(Text::with_colour(b, true)));
    assert!(out.contains("\x1b[32mcomplete\x1b[0m"), "{out}");
    assert!(
        out.contains("\x1b[31mrst-after-client-hello\x1b[0m"),
        "{out}"
    );
}

#[test]
fn a_capture_where_everything_completes_says_no_handshake_failed() {
    let conns = connections("tls12-openssl.pcap");
    assert!(!conns.is_empty());
    let out = text(&conns);
    assert!(out.starts_with("Failed handshakes: none\n"), "{out}");
    assert!(out.contains("www.example.test"));
    assert!(out.contains("100.0%"), "{out}");
}

/// One real failed connection cloned `n` times, each with its own first frame and client port.
fn clones(n: usize) -> Vec<Connection> {
    let base = connections(&format!("netns/{INJECTED}"))
        .into_iter()
        .next()
        .expect("one connection");
    (0..n)
        .map(|i| {
            let mut c = base.clone();
            c.first_frame = 1 + i as u64 * 10;
            c.client.port = 10_000 + i as u16;
            c
        })
        .collect()
}

#[test]
fn three_hundred_failed_connections_give_two_hundred_detailed_blocks_and_a_more_line() {
    let out = text(&clones(300));
    let blocks = out
        .lines()
        .filter(|l| {
            l.strip_prefix("frame ")
                .is_some_and(|r| r.starts_with(|ch: char| ch.is_ascii_digit()))
        })
        .count();
    assert_eq!(blocks, MAX_DETAILED);
    assert!(out.contains("… 100 more failed handshakes"), "more line");
    assert!(out.contains("Failed handshakes (300)"));
    assert!(
        !out.contains("  in netns/"),
        "one input: the blocks do not repeat its name"
    );
    assert!(out.contains("300 connections: 300 rst-after-client-hello; 0.0% complete"));
}

#[test]
fn the_connection_table_stops_at_its_cap_and_counts_the_rest() {
    let n = MAX_TABLE_LINES + 7;
    let out = text(&clones(n));
    let table_start = out.find("\nConnections\n").expect("table");
    let table_end = out.find("Summary by server name").expect("summary");
    let rows = out[table_start..table_end]
        .lines()
        .filter(|l| l.contains("-> 10.200.2.2:443"))
        .count();
    assert_eq!(rows, MAX_TABLE_LINES);
    assert!(out[table_start..table_end].contains("… 7 more connections"));
}

#[test]
fn the_summary_table_shows_fifty_names_and_counts_the_rest() {
    let mut conns = clones(60);
    for (i, c) in conns.iter_mut().enumerate() {
        if let Some(h) = c.client_hello.as_mut() {
            h.sni = Some(format!("n{i:02}.example"));
        }
    }
    let out = text(&conns);
    let start = out.find("Summary by server name").expect("names table");
    let end = out.find("Summary by server\n").expect("servers table");
    let rows = out[start..end]
        .lines()
        .filter(|l| l.starts_with('n') && l.contains(".example"))
        .count();
    assert_eq!(rows, MAX_SUMMARY_ROWS);
    assert!(
        out[start..end].contains("… 10 more rows (10 handshakes)"),
        "{}",
        &out[start..end]
    );
}

#[test]
fn names_past_the_tracking_cap_are_counted_as_other() {
    let base = clones(1).remove(0);
    let mut agg = Aggregates::new();
    let n = tlsmortem::report::MAX_TRACKED_NAMES + 5;
    for i in 0..n {
        let mut c = base.clone();
        if let Some(h) = c.client_hello.as_mut() {
            h.sni = Some(format!("h{i}.example"));
        }
        agg.add(&c);
    }
    assert_eq!(agg.sni_rows().len(), tlsmortem::report::MAX_TRACKED_NAMES);
    assert_eq!(agg.other_names().handshakes, 5);
    assert_eq!(agg.total().handshakes, n as u64);
    let records = agg.json_records();
    assert!(records
        .iter()
        .any(|r| r["summary"] == "sni" && r["untracked"] == true && r["handshakes"] == 5));
}

#[test]
fn a_server_cutting_every_name_is_not_called_sni_filtering() {
    let mut agg = Aggregates::new();
    for (i, c) in clones(4).iter_mut().enumerate() {
        if let Some(h) = c.client_hello.as_mut() {
            h.sni = Some(format!("x{i}.example"));
        }
        agg.add(c);
    }
    assert!(agg.sni_filtering().is_empty());
}
