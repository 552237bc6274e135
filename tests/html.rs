//! The HTML report (`--html`), parsed with a real HTML5 parser (scraper, on html5ever): one
//! ladder per failed handshake drawn in full, one arrow per packet, the judged packet marked,
//! chain cards carrying their findings, the bound on detail, and wire text that stays text.
//! Expected frames, counts, digests and URLs come from the captures' `truth.json` (how each
//! capture was made, and tshark's reading stored there), never from tlsmortem.

mod common;

use base64::Engine;
use common::fixtures::captures;
use common::truth::Truth;
use scraper::{ElementRef, Html as Doc, Selector};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tlsmortem::report::{Html, Prepared, Reporter};
use tlsmortem::{Config, Connection};

/// A capture's connections, with the packets the ladders need kept.
fn connections(rel: &str) -> Vec<Connection> {
    let bytes = std::fs::read(captures(rel)).expect("capture is readable");
    let config = Config {
        ladders: true,
        ..Config::default()
    };
    let mut out = Vec::new();
    tlsmortem::analyze_bytes(rel, &bytes, &config, &mut |c| out.push(c)).expect("analyses");
    out
}

/// The page for `conns`, at most `detail` failures of each verdict in full, and its note.
fn page(conns: &[Connection], detail: usize) -> (String, String) {
    let mut buf = Vec::new();
    let note = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    {
        let n = note.clone();
        let mut r = Html::new(&mut buf, detail).with_note(Box::new(move |line: &str| {
            *n.borrow_mut() = line.to_string()
        }));
        for c in conns {
            r.prepared(&Prepared::new(c.clone(), r.needs()))
                .expect("write to memory");
        }
        r.finish().expect("write to memory");
    }
    let note = note.borrow().clone();
    (String::from_utf8(buf).expect("UTF-8 page"), note)
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

fn parse(html: &str) -> Doc {
    let doc = Doc::parse_document(html);
    assert!(
        doc.errors.is_empty(),
        "HTML5 parse errors: {:?}",
        doc.errors
    );
    doc
}

fn frames_of(el: ElementRef<'_>, s: &str) -> Vec<u64> {
    el.select(&sel(s))
        .map(|g| {
            g.value()
                .attr("data-frame")
                .and_then(|f| f.parse().ok())
                .expect("data-frame on each packet")
        })
        .collect()
}

/// The tshark reading of the one TCP stream of a netns capture.
fn tshark_stream(t: &Truth, file: &str) -> Value {
    t.file(file)["tshark"]["connections"][0].clone()
}

#[test]
fn an_injected_rst_is_drawn_as_one_ladder_with_one_arrow_per_packet_and_the_forged_rst_judged() {
    let file = "inject-single-rst.client.pcap";
    let t = Truth::of("netns");
    let stream = tshark_stream(&t, file);
    let (html, _) = page(&connections(&format!("netns/{file}")), 20);
    let doc = parse(&html);
    let sections: Vec<ElementRef<'_>> = doc.select(&sel("details.conn")).collect();
    assert_eq!(sections.len(), 1, "one failed handshake, one section");
    let s = sections[0];
    assert_eq!(s.select(&sel("svg.ladder")).count(), 1);
    // Every frame of the stream is a packet of the handshake (it never completed): tshark
    // counted them, in capture order 1..=frames.
    let n = stream["frames"].as_u64().expect("tshark frame count");
    let arrows = frames_of(s, "svg.ladder g.pkt");
    assert_eq!(arrows, (1..=n).collect::<Vec<_>>());
    // Each arrow is a line with its head.
    assert_eq!(s.select(&sel("svg.ladder g.pkt line")).count() as u64, n);
    assert_eq!(s.select(&sel("svg.ladder g.pkt polygon")).count() as u64, n);
    // The judged packet is the injector's RST, and the ClientHello is cited.
    let forged: Vec<u64> = t.connections(file)[0]["visible_rsts"]
        .as_array()
        .expect("visible_rsts")
        .iter()
        .filter(|r| r["origin"].as_str().is_some_and(|o| o.contains("injector")))
        .map(|r| r["frame"].as_u64().expect("frame"))
        .collect();
    assert_eq!(frames_of(s, "g.pkt.judged"), forged);
    let cited = frames_of(s, "g.pkt.cited");
    assert!(
        cited.contains(
            &stream["client_hello_frame"]
                .as_u64()
                .expect("ClientHello frame")
        ),
        "{cited:?}"
    );
    // The evidence stands beside the judged packet and names the injection's tells, as the
    // capture was made: TTL 50 against the server's 63, sooner than the round trip.
    let aside: String = s
        .select(&sel("aside.evidence"))
        .flat_map(|a| a.text())
        .collect();
    let rst = &t.connections(file)[0]["visible_rsts"][0];
    assert!(
        aside.contains(&format!("Judged packet: frame {}", forged[0])),
        "{aside}"
    );
    assert!(
        aside.contains(&format!("TTL {}", rst["ttl"])) && aside.contains("63"),
        "{aside}"
    );
    assert!(aside.contains("sooner-than-rtt"), "{aside}");
    // The capture was taken at the client (truth's capture_point), and the RTT is marked.
    assert_eq!(t.file(file)["capture_point"], "client");
    assert_eq!(s.select(&sel("svg.ladder g.capture")).count(), 1);
    let rtt: String = s
        .select(&sel("svg.ladder g.rtt text"))
        .flat_map(|e| e.text())
        .collect();
    assert!(rtt.starts_with("RTT "), "{rtt}");
    // The server's flight that raced the forged RST reached the client, which reset instead of
    // acknowledging it: its data arrows are marked unacknowledged.
    let sh = stream["server_hello_frame"]
        .as_u64()
        .expect("ServerHello frame");
    assert!(frames_of(s, "g.pkt.unacked").contains(&sh));
}

#[test]
fn every_detailed_failure_of_the_netns_captures_has_one_ladder_and_one_judged_packet() {
    let t = Truth::of("netns");
    let mut checked = 0;
    for (file, entry) in t.files() {
        if !file.ends_with(".client.pcap") {
            continue;
        }
        let want_failed = entry["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .filter(|c| c["expected_verdict"] != "complete")
            .count();
        let conns = connections(&format!("netns/{file}"));
        let (html, _) = page(&conns, 20);
        let doc = parse(&html);
        let sections: Vec<ElementRef<'_>> = doc.select(&sel("details.conn")).collect();
        assert_eq!(sections.len(), want_failed, "{file}");
        for s in sections {
            assert_eq!(s.select(&sel("svg.ladder")).count(), 1, "{file}");
            assert_eq!(s.select(&sel("g.pkt.judged")).count(), 1, "{file}");
            let arrows = frames_of(s, "g.pkt");
            assert!(!arrows.is_empty(), "{file}");
            assert!(
                arrows.windows(2).all(|w| w[0] < w[1]),
                "capture order: {file}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "the netns captures hold many failures, {checked} checked"
    );
}

#[test]
fn a_dropped_client_hello_is_judged_on_its_first_copy_and_its_retransmissions_are_marked() {
    let file = "silent-drop.client.pcap";
    let t = Truth::of("netns");
    let stream = tshark_stream(&t, file);
    let (html, _) = page(&connections(&format!("netns/{file}")), 20);
    let doc = parse(&html);
    let s = doc
        .select(&sel("details.conn"))
        .next()
        .expect("one section");
    let ch = stream["client_hello_frame"]
        .as_u64()
        .expect("ClientHello frame");
    let copies = stream["client_hello_retransmissions"]
        .as_u64()
        .expect("retransmissions");
    assert_eq!(frames_of(s, "g.pkt.judged"), [ch]);
    let retrans = frames_of(s, "g.pkt.retrans");
    assert_eq!(retrans.len() as u64, copies, "{retrans:?}");
    // Never acknowledged: the first copy and every retransmission.
    assert_eq!(frames_of(s, "g.pkt.unacked").len() as u64, copies + 1);
}

#[test]
fn a_missing_intermediate_is_a_dashed_card_with_its_aia_url_and_the_finding_on_it() {
    let file = "chain-leaf-only.pcap";
    let t = Truth::of("certs");
    let want = &t.connections(file)[0];
    let (html, _) = page(&connections(&format!("certs/{file}")), 20);
    let doc = parse(&html);
    let s = doc
        .select(&sel("details.conn"))
        .next()
        .expect("the rejected handshake");
    let cards: Vec<ElementRef<'_>> = s.select(&sel(".chain .card")).collect();
    let served = want["server_certificates_served_sha256"]
        .as_array()
        .expect("served");
    assert_eq!(
        cards.len(),
        served.len() + 1,
        "the leaf and the missing issuer"
    );
    let leaf = cards[0];
    let sha: String = leaf.select(&sel("code")).flat_map(|c| c.text()).collect();
    assert_eq!(Value::from(sha), served[0]);
    // The PEM link decodes to the certificate as served.
    let href = leaf
        .select(&sel("a.pem"))
        .next()
        .and_then(|a| a.value().attr("href"))
        .expect("PEM link");
    let pem = base64::engine::general_purpose::STANDARD
        .decode(
            href.strip_prefix("data:application/x-pem-file;base64,")
                .expect("a data URI"),
        )
        .expect("base64");
    let pem = String::from_utf8(pem).expect("PEM text");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM body");
    assert_eq!(
        Value::from(format!("{:x}", Sha256::digest(&der))),
        served[0]
    );
    // The dashed card: the finding sits on it, with the caIssuers URL make.sh put in the leaf.
    let missing = cards[1];
    assert!(missing.value().classes().any(|c| c == "missing"));
    let ids: Vec<&str> = missing
        .select(&sel("li.finding"))
        .filter_map(|f| f.value().attr("data-id"))
        .collect();
    assert_eq!(
        ids,
        want["expected_findings"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
    );
    let links: Vec<&str> = missing
        .select(&sel("a"))
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert_eq!(links, ["http://ca.example.test/intermediate.der"]);
    // Not also on the leaf's card.
    assert_eq!(leaf.select(&sel("li.finding")).count(), 0);
    // The judged packet carries the Certificate message: the alert is cited.
    let alert = t.file(file)["tshark"][0]["alerts"][0]["frame"]
        .as_u64()
        .expect("alert frame");
    assert!(frames_of(s, "g.pkt.cited").contains(&alert));
    // The chain with a problem is also listed once for both connections that got it.
    let sets: Vec<String> = doc
        .select(&sel("#chains .chainset h3"))
        .map(|h| h.text().collect())
        .collect();
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert!(sets[0].contains(&format!("({} connections)", t.connections(file).len())));
}

#[test]
fn a_chain_seen_only_on_handshakes_drawn_in_full_is_not_listed_again() {
    let file = "chain-wrong-intermediate.pcap";
    let t = Truth::of("certs");
    assert!(t
        .connections(file)
        .iter()
        .all(|c| c["expected_verdict"] != "complete"));
    let (html, _) = page(&connections(&format!("certs/{file}")), 20);
    let doc = parse(&html);
    assert_eq!(
        doc.select(&sel("details.conn")).count(),
        t.connections(file).len()
    );
    assert!(doc.select(&sel("details.conn .card.bad")).count() >= 1);
    assert_eq!(doc.select(&sel("#chains")).count(), 0);
}

#[test]
fn only_the_first_failures_of_a_verdict_are_drawn_and_the_note_says_so() {
    let base = connections("netns/inject-single-rst.client.pcap").remove(0);
    let conns: Vec<Connection> = (0..30)
        .map(|i| {
            let mut c = base.clone();
            c.first_frame = 1 + i * 20;
            c.client.port = 20_000 + i as u16;
            c
        })
        .collect();
    let (html, note) = page(&conns, 5);
    let doc = parse(&html);
    assert_eq!(doc.select(&sel("details.conn")).count(), 5);
    assert_eq!(doc.select(&sel("details.conn[open]")).count(), 1);
    assert_eq!(doc.select(&sel("#connections tbody tr")).count(), 30);
    // The first five rows link to their sections.
    assert_eq!(
        doc.select(&sel("#connections tbody tr a[href^='#c']"))
            .count(),
        5
    );
    assert!(
        note.contains(&format!("HTML report: {} bytes", html.len())),
        "{note}"
    );
    assert!(
        note.contains("5 of 30 failed handshakes drawn in full"),
        "{note}"
    );
}

#[test]
fn wire_text_stays_text_and_the_page_loads_nothing() {
    let mut c = connections("netns/inject-single-rst.client.pcap").remove(0);
    let evil = "<img src=x onerror=alert(1)>\"'\u{1b}[2J</script><script>alert(2)</script>";
    if let Some(h) = c.client_hello.as_mut() {
        h.sni = Some(evil.to_string());
    }
    c.capture = "a\"b<c>.pcap".into();
    let (html, _) = page(&[c], 20);
    let doc = parse(&html);
    // Our one script, no image, nothing with a source.
    assert_eq!(doc.select(&sel("script")).count(), 1);
    assert_eq!(
        doc.select(&sel("img, iframe, object, embed, link")).count(),
        0
    );
    assert_eq!(doc.select(&sel("[src], [onerror], [onload]")).count(), 0);
    // The name is shown as text, its escape character written out.
    let text: String = doc.root_element().text().collect();
    assert!(text.contains("<img src=x onerror=alert(1)>\"'\\u{1b}[2J</script>"));
    assert!(!html.contains('\u{1b}'));
    // Attributes keep the whole value.
    let row = doc
        .select(&sel("#connections tbody tr"))
        .next()
        .expect("a row");
    assert!(row
        .value()
        .attr("data-text")
        .is_some_and(|t| t.starts_with("<img src=x onerror=alert(1)>\"'")));
    // A content security policy forbids loading anything.
    let csp = doc
        .select(&sel("meta[http-equiv='Content-Security-Policy']"))
        .next()
        .and_then(|m| m.value().attr("content"))
        .expect("CSP");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
}

#[test]
fn the_overview_names_the_sni_filtering_pattern_with_the_advice_and_the_timeline_counts_all() {
    let mut conns = connections("netns/normal-openssl.client.pcap");
    conns.extend(connections("netns/inject-single-rst.client.pcap"));
    let (html, _) = page(&conns, 20);
    let doc = parse(&html);
    let alert: String = doc
        .select(&sel("#overview .alert"))
        .flat_map(|a| a.text())
        .collect();
    assert!(
        alert.contains("10.200.2.2:443 completes for www.example.test (1/1) but cuts blocked.example.test (0/1)"),
        "{alert}"
    );
    assert!(alert.contains("ICP filing"), "{alert}");
    // One stacked bar per verdict colour present, summing to every connection.
    let rects = doc.select(&sel("svg.timeline g.col rect")).count();
    assert!(rects >= 2, "complete and cut");
    let legend: String = doc
        .select(&sel("#timeline .legend"))
        .flat_map(|l| l.text())
        .collect();
    assert!(
        legend.contains("complete (1)") && legend.contains("cut or dropped on the path (1)"),
        "{legend}"
    );
    // Sortable tables by name and by server.
    for id in ["#names", "#servers"] {
        assert_eq!(
            doc.select(&sel(&format!("{id} table.sortable tbody tr")))
                .count(),
            if id == "#names" { 2 } else { 1 }
        );
    }
}
