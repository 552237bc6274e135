//! report::html::detail: one connection's record in; its parts of the page out: the detail
//! section of a failed handshake ([`section`]: verdict, ladder diagram with the judged packet
//! and its evidence, the other findings, the chain cards) and the certificate chain as cards
//! ([`chain_cards`]), each finding on the card it concerns.
//!
//! Every string from the record goes through [`esc`]; the only attribute values not escaped
//! are numbers and fixed class names written here.

use super::{esc, Colour};
use crate::ids::{Family, FindingId, Severity, Side};
use crate::record::{Connection, Finding};
use crate::report::endpoint;
use crate::report::ladder::{self, View};
use crate::x509::CertInfo;
use base64::Engine;
use std::fmt::Write as _;

/// The anchor of detail section `id`.
pub fn anchor(id: usize) -> String {
    format!("c{id}")
}

/// The detail of one failed connection, as a `<details>` element, `open` or closed on the
/// screen (the page's script opens them all for printing).
pub fn section(c: &Connection, id: usize, open: bool) -> String {
    let mut s = String::with_capacity(16 * 1024);
    let v = &c.verdict;
    let sni = c.client_hello.as_ref().and_then(|h| h.sni.as_deref());
    let by = match (v.by, v.confidence) {
        (Some(by), Some(conf)) => format!(" · {by}, confidence {conf:.2}"),
        (Some(by), None) => format!(" · {by}"),
        (None, _) => String::new(),
    };
    let _ = write!(
        s,
        "<details class=\"conn\" id=\"{}\" data-verdicts=\"{}\" data-text=\"{}\"{}>",
        anchor(id),
        esc(v.id.as_str()),
        esc(&filter_text(c)),
        if open { " open" } else { "" }
    );
    let _ = write!(
        s,
        "<summary><span class=\"badge {}\">{}</span>{} · frame {} · {} → {} · {}{}</summary>",
        Colour::of(c).class(),
        esc(v.id.as_str()),
        esc(&by),
        c.first_frame,
        esc(&endpoint(&c.client.ip, c.client.port)),
        esc(&endpoint(&c.server.ip, c.server.port)),
        sni.map_or_else(|| "<i>no SNI</i>".to_string(), esc),
        if c.capture.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"dim\">in {}</span>", esc(&c.capture))
        }
    );
    let _ = write!(s, "<p class=\"verdict\">{}</p>", esc(&v.summary));
    match ladder::view(c) {
        Some(view) if !view.rows.is_empty() => ladder_svg(&mut s, c, &view),
        _ => s.push_str(
            "<p class=\"dim\">No TCP packets were kept for this connection (a UDP connection, or none seen while the handshake was open).</p>",
        ),
    }
    let verdict_finding = ladder::verdict_finding(c);
    let others: Vec<&Finding> = c
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Low && !is_chain_finding(f))
        .filter(|f| !verdict_finding.is_some_and(|v| std::ptr::eq(*f, v)))
        .collect();
    if !others.is_empty() {
        s.push_str("<h4>Other findings</h4><ul class=\"findings\">");
        for f in others {
            finding_item(&mut s, f);
        }
        s.push_str("</ul>");
    }
    let cards = chain_cards(c);
    if !cards.is_empty() {
        let _ = write!(s, "<div id=\"{}-chain\">{cards}</div>", anchor(id));
    }
    s.push_str("</details>");
    s
}

/// What the page's text filter matches a connection on: name, both ends, verdict.
pub fn filter_text(c: &Connection) -> String {
    let sni = c.client_hello.as_ref().and_then(|h| h.sni.as_deref());
    format!(
        "{} {} {} {}",
        sni.unwrap_or(""),
        endpoint(&c.client.ip, c.client.port),
        endpoint(&c.server.ip, c.server.port),
        c.verdict.id
    )
    .to_lowercase()
}

fn is_chain_finding(f: &Finding) -> bool {
    f.id.family() == Family::Certificate && f.side.is_some()
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Info => "sev-info",
        Severity::Low => "sev-low",
        Severity::Medium => "sev-medium",
        Severity::High => "sev-high",
    }
}

/// One finding as a list item: id, message, evidence, advice.
fn finding_item(s: &mut String, f: &Finding) {
    let _ = write!(
        s,
        "<li class=\"finding {}\" data-id=\"{}\"><b>{}</b> {}",
        severity_class(f.severity),
        esc(f.id.as_str()),
        esc(f.id.as_str()),
        esc(&f.message)
    );
    if !f.evidence.is_empty() {
        s.push_str("<ul class=\"evidence\">");
        for e in &f.evidence {
            let _ = write!(s, "<li>{}</li>", esc(e));
        }
        s.push_str("</ul>");
    }
    if let Some(a) = &f.advice {
        let _ = write!(s, "<div class=\"advice\">advice: {}</div>", esc(a));
    }
    s.push_str("</li>");
}

// Ladder geometry (SVG user units, drawn at 1:1 on screen).
const WIDTH: f64 = 800.0;
const CLIENT_X: f64 = 205.0;
const SERVER_X: f64 = 690.0;
const TOP: f64 = 66.0;
const ROW: f64 = 40.0;
/// Characters of an arrow's label before it is cut with "…".
const MAX_LABEL_CHARS: usize = 80;

fn arrow_y(row: usize) -> f64 {
    TOP + row as f64 * ROW + 20.0
}

/// A label longer than `fits` characters is squeezed to the space between the two lines.
fn squeeze(label: &str, fits: usize) -> &'static str {
    if label.chars().count() > fits {
        " textLength=\"470\" lengthAdjust=\"spacingAndGlyphs\""
    } else {
        ""
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The ladder diagram: client and server lines, one arrow per packet, the judged packet in
/// red with its evidence beside it, the cited packets in blue, the round trip as a bracket,
/// the capture point as a dashed line when the TTLs say where it was.
fn ladder_svg(s: &mut String, c: &Connection, view: &View<'_>) {
    let n = view.rows.len();
    let height = TOP + n as f64 * ROW + if view.ladder.cut_short { 34.0 } else { 14.0 };
    s.push_str("<div class=\"ladder-wrap\">");
    let _ = write!(
        s,
        "<svg class=\"ladder\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"ladder diagram of {n} packets\">"
    );
    for (x, who, ep) in [
        (CLIENT_X, "client", endpoint(&c.client.ip, c.client.port)),
        (SERVER_X, "server", endpoint(&c.server.ip, c.server.port)),
    ] {
        let _ = write!(
            s,
            "<text class=\"end\" x=\"{x}\" y=\"18\">{who}</text><text class=\"ep\" x=\"{x}\" y=\"34\">{}</text><line class=\"life\" x1=\"{x}\" y1=\"42\" x2=\"{x}\" y2=\"{}\"/>",
            esc(&ep),
            height - 6.0
        );
    }
    let _ = write!(
        s,
        "<text class=\"colhead\" x=\"8\" y=\"{}\">ms</text><text class=\"colhead\" x=\"150\" y=\"{}\" text-anchor=\"end\">frame</text>",
        TOP - 6.0,
        TOP - 6.0
    );
    let capture_x = view.ladder.capture_point.map(|(at, ..)| match at {
        Side::Client => CLIENT_X + 36.0,
        Side::Server => SERVER_X - 36.0,
    });
    if let (Some(x), Some(words)) = (capture_x, ladder::capture_point_words(view.ladder)) {
        let _ = write!(
            s,
            "<g class=\"capture\"><title>{}</title><line x1=\"{x}\" y1=\"44\" x2=\"{x}\" y2=\"{}\"/><text x=\"{x}\" y=\"54\">capture point</text></g>",
            esc(&words),
            height - 6.0
        );
    }
    if let Some((a, b, ms)) = view.rtt {
        let (y1, y2) = (arrow_y(a), arrow_y(b));
        let x = CLIENT_X - 26.0;
        let mid = (y1 + y2) / 2.0;
        let _ = write!(
            s,
            "<g class=\"rtt\"><path d=\"M{} {y1} H{x} V{y2} H{}\"/><text transform=\"rotate(-90 {} {mid})\" x=\"{}\" y=\"{mid}\">RTT {ms} ms</text></g>",
            x + 6.0,
            x + 6.0,
            x - 5.0,
            x - 5.0
        );
    }
    let mut judged_y = None;
    for (i, r) in view.rows.iter().enumerate() {
        let p = r.packet;
        let y = arrow_y(i);
        let (from_x, to_x) = match p.from {
            Side::Client => (CLIENT_X, SERVER_X),
            Side::Server => (SERVER_X, CLIENT_X),
        };
        let dir = if to_x > from_x { 1.0 } else { -1.0 };
        let mut class = String::from("pkt");
        for (on, name) in [
            (r.judged, " judged"),
            (r.cited, " cited"),
            (p.retransmission, " retrans"),
            (p.out_of_order, " ooo"),
            (p.unacked, " unacked"),
        ] {
            if on {
                class.push_str(name);
            }
        }
        if r.judged {
            judged_y = Some(y);
        }
        let marks = r.marks();
        let mut label: Vec<String> = Vec::new();
        if !p.messages.is_empty() {
            label.push(p.messages.join(", "));
        }
        label.extend(marks.iter().map(|m| format!("[{m}]")));
        if r.judged {
            label.push("◀ judged".into());
        } else if r.cited {
            label.push("◀ cited by the verdict".into());
        }
        let facts = format!(
            "{} · seq {} · ack {} · len {} · TTL {} · IP ID {} · win {}",
            p.flags,
            p.seq,
            p.ack.map_or_else(|| "-".into(), |a| a.to_string()),
            p.payload_len,
            p.ttl,
            p.ip_id.map_or_else(|| "-".into(), |i| i.to_string()),
            p.window
        );
        let who = match p.from {
            Side::Client => "client → server",
            Side::Server => "server → client",
        };
        let _ = write!(
            s,
            "<g class=\"{class}\" data-frame=\"{}\"><title>frame {} at +{:.3} ms, {who}: {}{}</title>",
            p.frame,
            p.frame,
            r.ms,
            esc(&facts),
            if p.messages.is_empty() {
                String::new()
            } else {
                format!(" — {}", esc(&p.messages.join(", ")))
            }
        );
        let head = to_x - dir * 9.0;
        let _ = write!(
            s,
            "<line x1=\"{from_x}\" y1=\"{y}\" x2=\"{head}\" y2=\"{y}\"/><polygon points=\"{to_x},{y} {head},{} {head},{}\"/>",
            y - 4.0,
            y + 4.0
        );
        if p.unacked {
            let _ = write!(
                s,
                "<circle class=\"lost\" cx=\"{}\" cy=\"{y}\" r=\"4\"/>",
                to_x - dir * 18.0
            );
        }
        if let Some(x) = capture_x {
            let _ = write!(
                s,
                "<circle class=\"seen\" cx=\"{x}\" cy=\"{y}\" r=\"2.5\"/>"
            );
        }
        let mid = (CLIENT_X + SERVER_X) / 2.0;
        let label = cut(&label.join(" "), MAX_LABEL_CHARS);
        let _ = write!(
            s,
            "<text class=\"t\" x=\"8\" y=\"{}\">{:.3}</text><text class=\"f\" x=\"150\" y=\"{}\">{}</text><text class=\"msg\" x=\"{mid}\" y=\"{}\"{}>{}</text><text class=\"facts\" x=\"{mid}\" y=\"{}\"{}>{}</text></g>",
            y + 4.0,
            r.ms,
            y + 4.0,
            p.frame,
            y - 6.0,
            squeeze(&label, 60),
            esc(&label),
            y + 13.0,
            squeeze(&facts, 80),
            esc(&facts)
        );
    }
    if view.ladder.cut_short {
        let _ = write!(
            s,
            "<text class=\"note\" x=\"{}\" y=\"{}\">the first {n} packets of the handshake; later ones were not kept</text>",
            (CLIENT_X + SERVER_X) / 2.0,
            height - 12.0
        );
    }
    s.push_str("</svg>");
    evidence_aside(s, c, view, judged_y);
    s.push_str("</div>");
}

/// The verdict's finding beside the judged packet: message, evidence, advice.
fn evidence_aside(s: &mut String, c: &Connection, view: &View<'_>, judged_y: Option<f64>) {
    let top = judged_y.map_or(0.0, |y| (y - 24.0).max(0.0));
    let _ = write!(s, "<aside class=\"evidence\" style=\"--y:{top}px\">");
    let judged = view.rows.iter().find(|r| r.judged).map(|r| r.packet.frame);
    match judged {
        Some(f) => {
            let _ = write!(s, "<h4>Judged packet: frame {f}</h4>");
        }
        None => s.push_str("<h4>Verdict</h4>"),
    }
    match view.finding {
        Some(f) => {
            s.push_str("<ul class=\"findings\">");
            finding_item(s, f);
            s.push_str("</ul>");
        }
        None => {
            let _ = write!(s, "<p>{}</p>", esc(&c.verdict.summary));
        }
    }
    s.push_str("</aside>");
}

/// A key for a server chain with at least one problem (a certificate finding of low severity
/// or more on the server's side): its certificates' digests in wire order.
pub fn problem_chain_key(c: &Connection) -> Option<String> {
    if c.server_certificates.is_empty() {
        return None;
    }
    let problem = c.findings.iter().any(|f| {
        is_chain_finding(f) && f.side == Some(Side::Server) && f.severity >= Severity::Low
    });
    problem.then(|| {
        c.server_certificates
            .iter()
            .map(|x| x.sha256.as_str())
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// Findings that say a certificate's issuer is missing: drawn on a dashed card after it.
fn is_missing_issuer(id: FindingId) -> bool {
    matches!(id, FindingId::IncompleteChain | FindingId::UnknownIssuer)
}

/// Each side's certificates as cards, in wire order, each with the findings that concern it;
/// a missing issuer as a dashed card after the certificate that needs it; the findings about
/// the chain as a whole after the cards.
pub fn chain_cards(c: &Connection) -> String {
    let mut s = String::new();
    for (side, certs) in [
        (Side::Server, &c.server_certificates),
        (Side::Client, &c.client_certificates),
    ] {
        if certs.is_empty() {
            continue;
        }
        let findings: Vec<&Finding> = c
            .findings
            .iter()
            .filter(|f| is_chain_finding(f) && f.side == Some(side))
            .collect();
        let _ = write!(
            s,
            "<h4>{side} certificate chain, as sent ({} certificate{})</h4><div class=\"chain\">",
            certs.len(),
            if certs.len() == 1 { "" } else { "s" }
        );
        for (i, cert) in certs.iter().enumerate() {
            let on_card: Vec<&Finding> = findings
                .iter()
                .copied()
                .filter(|f| f.certs.contains(&i) && !is_missing_issuer(f.id))
                .collect();
            card(&mut s, i, cert, certs.len(), c.span_ns.0, &on_card);
            let missing: Vec<&Finding> = findings
                .iter()
                .copied()
                .filter(|f| f.certs.contains(&i) && is_missing_issuer(f.id))
                .collect();
            if !missing.is_empty() {
                missing_card(&mut s, cert, &missing);
            }
        }
        s.push_str("</div>");
        let whole: Vec<&Finding> = findings
            .iter()
            .copied()
            .filter(|f| f.certs.is_empty())
            .collect();
        if !whole.is_empty() {
            s.push_str("<ul class=\"findings chain-wide\">");
            for f in whole {
                finding_item(&mut s, f);
            }
            s.push_str("</ul>");
        }
    }
    s
}

/// SANs listed on a card before "and N more".
const SANS_SHOWN: usize = 12;

fn role(i: usize, cert: &CertInfo) -> &'static str {
    if i == 0 {
        "leaf"
    } else if cert.subject.is_some() && cert.subject == cert.issuer {
        "root (self-signed)"
    } else {
        "intermediate"
    }
}

fn card(
    s: &mut String,
    i: usize,
    cert: &CertInfo,
    total: usize,
    capture_ns: i64,
    findings: &[&Finding],
) {
    let worst = findings.iter().map(|f| f.severity).max();
    let _ = write!(
        s,
        "<div class=\"card{}\" data-index=\"{i}\"><h5>#{i} · {} <span class=\"dim\">of {total}</span></h5><dl>",
        if worst.is_some_and(|w| w >= Severity::Medium) {
            " bad"
        } else {
            ""
        },
        role(i, cert)
    );
    let na = "—".to_string();
    let mut row = |k: &str, v: &str| {
        let _ = write!(s, "<dt>{k}</dt><dd>{v}</dd>");
    };
    row(
        "subject",
        &cert.subject.as_deref().map_or_else(|| na.clone(), esc),
    );
    row(
        "issuer",
        &cert.issuer.as_deref().map_or_else(|| na.clone(), esc),
    );
    if !cert.san_dns.is_empty() {
        let mut sans: Vec<String> = cert
            .san_dns
            .iter()
            .take(SANS_SHOWN)
            .map(|d| esc(d))
            .collect();
        if cert.san_dns.len() > SANS_SHOWN {
            sans.push(format!("and {} more", cert.san_dns.len() - SANS_SHOWN));
        }
        row("SANs", &sans.join(", "));
    }
    let key = match (&cert.key_type, cert.key_bits) {
        (Some(t), Some(b)) => format!("{} {b} bits", esc(t)),
        (Some(t), None) => esc(t),
        _ => na.clone(),
    };
    row("key", &key);
    row(
        "signature",
        &cert
            .signature_algorithm
            .as_deref()
            .map_or_else(|| na.clone(), esc),
    );
    row("SHA-256", &format!("<code>{}</code>", esc(&cert.sha256)));
    if let Some(e) = &cert.parse_error {
        row("parse error", &esc(e));
    }
    s.push_str("</dl>");
    if let Some((nb, na)) = cert.validity_secs {
        validity_bar(s, nb, na, capture_ns.div_euclid(1_000_000_000));
    }
    if !findings.is_empty() {
        s.push_str("<ul class=\"findings\">");
        for f in findings {
            finding_item(s, f);
        }
        s.push_str("</ul>");
    }
    let _ = write!(
        s,
        "<a class=\"pem\" download=\"cert-{i}-{}.pem\" href=\"data:application/x-pem-file;base64,{}\">download PEM</a></div>",
        esc(cert.sha256.get(..12).unwrap_or_default()),
        base64::engine::general_purpose::STANDARD.encode(pem(&cert.der))
    );
}

/// The certificate as PEM (RFC 7468): base64 lines of 64 characters.
fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Only http(s) URLs become links; anything else stays text.
fn url_html(u: &str) -> String {
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        format!(
            "<a href=\"{}\" rel=\"noreferrer nofollow\">{}</a>",
            esc(u),
            esc(u)
        )
    } else {
        format!("<code>{}</code>", esc(u))
    }
}

/// The issuer that was not sent, as a dashed card: its name, where to get it, the findings.
fn missing_card(s: &mut String, needed_by: &CertInfo, findings: &[&Finding]) {
    let _ = write!(
        s,
        "<div class=\"card missing\"><h5>missing issuer</h5><dl><dt>subject</dt><dd>{}</dd><dt>sent</dt><dd>no: the server did not send it</dd>",
        needed_by
            .issuer
            .as_deref()
            .map_or_else(|| "—".to_string(), esc)
    );
    if needed_by.aia_ca_issuers.is_empty() {
        s.push_str("<dt>caIssuers</dt><dd>the certificate names no AIA caIssuers URL</dd>");
    } else {
        let urls: Vec<String> = needed_by
            .aia_ca_issuers
            .iter()
            .map(|u| url_html(u))
            .collect();
        let _ = write!(s, "<dt>caIssuers</dt><dd>{}</dd>", urls.join("<br>"));
    }
    s.push_str("</dl><ul class=\"findings\">");
    for f in findings {
        finding_item(s, f);
    }
    s.push_str("</ul></div>");
}

const BAR_W: f64 = 300.0;

/// A marker's label beside its line, on the side with more room (the page's script places
/// "now" the same way).
fn label_x(x: f64) -> f64 {
    if x < BAR_W / 2.0 {
        x + 3.0
    } else {
        x - 3.0
    }
}

fn label_anchor(x: f64) -> &'static str {
    if x < BAR_W / 2.0 {
        "start"
    } else {
        "end"
    }
}

/// Validity as a bar on a time axis, with the capture time marked (and "now" added by the
/// page's script when it is opened).
fn validity_bar(s: &mut String, nb: i64, na: i64, at: i64) {
    let (lo, hi) = (nb.min(at), na.max(at));
    let pad = ((hi - lo) / 20).max(1);
    let (lo, hi) = (lo - pad, hi + pad);
    let x = |t: i64| ((t - lo) as f64 / (hi - lo) as f64 * BAR_W).clamp(0.0, BAR_W);
    let inside = (nb..=na).contains(&at);
    let date = |t: i64| {
        crate::text::rfc3339_secs(t)
            .and_then(|d| d.get(..10).map(str::to_string))
            .unwrap_or_default()
    };
    let _ = write!(
        s,
        "<svg class=\"validity\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{BAR_W}\" height=\"40\" viewBox=\"0 0 {BAR_W} 40\" data-lo=\"{lo}\" data-hi=\"{hi}\" data-w=\"{BAR_W}\"><rect class=\"axis\" x=\"0\" y=\"17\" width=\"{BAR_W}\" height=\"2\"/><rect class=\"span {}\" x=\"{}\" y=\"12\" width=\"{}\" height=\"12\"><title>valid from {} to {}</title></rect><line class=\"at\" x1=\"{}\" y1=\"4\" x2=\"{}\" y2=\"30\"/><text class=\"at\" x=\"{}\" y=\"39\" text-anchor=\"{}\">capture</text></svg><div class=\"vdates dim\">not before {} · not after {}</div>",
        if inside { "ok" } else { "out" },
        x(nb),
        (x(na) - x(nb)).max(1.0),
        date(nb),
        date(na),
        x(at),
        x(at),
        label_x(x(at)),
        label_anchor(x(at)),
        date(nb),
        date(na)
    );
}
