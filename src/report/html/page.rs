//! report::html::page: what [`Html`] gathered in; the page out: head (style, no network by
//! its content security policy), overview, timeline, filters, tables, the detail sections,
//! the chains, the connection table, and the script that sorts, filters, marks "now" on the
//! validity bars and opens every section for printing.

use super::detail::{self, anchor};
use super::{esc, Colour, Html, MAX_CHAINS, MAX_TABLE_ROWS};
use crate::capture::Timestamp;
use crate::ids::VerdictId;
use crate::record::Connection;
use crate::report::Counts;
use crate::report::{endpoint, percent};
use crate::text::{rfc3339, secs};
use std::fmt::Write as _;
use std::io::Write;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Rows of each aggregate table on the page (`--json --summary` has them all).
const MAX_AGGREGATE_ROWS: usize = 500;
/// Columns of the timeline at most.
const TIMELINE_COLUMNS: i64 = 240;

/// "2026-12-02 00:58:22 UTC"
fn utc(ns: i64) -> String {
    let t = rfc3339(Timestamp(ns));
    let mut s: String = t.chars().take(19).collect();
    s = s.replacen('T', " ", 1);
    s.push_str(" UTC");
    s
}

/// The whole page.
pub(super) fn write<W: Write>(page: &mut String, h: &Html<W>) {
    let title = match h.inputs.as_slice() {
        [(one, _)] => format!("tlsmortem: {}", esc(one)),
        _ => "tlsmortem report".to_string(),
    };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\"><title>{title}</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        page,
        "<header><h1>{title}</h1><p class=\"dim\">tlsmortem {}: what happened to each TLS handshake and why. Everything here comes from the capture; nothing is fetched.</p><button type=\"button\" id=\"print\">Print</button></header><main>",
        env!("CARGO_PKG_VERSION")
    );
    overview(page, h);
    timeline(page, h);
    filters(page, h);
    aggregate_tables(page, h);
    failures(page, h);
    chains(page, h);
    connections(page, h);
    let _ = writeln!(page, "</main><script>{SCRIPT}</script></body></html>");
}

fn overview<W: Write>(page: &mut String, h: &Html<W>) {
    page.push_str("<section id=\"overview\"><h2>Overview</h2>");
    let filtering = h.aggregates.sni_filtering();
    if !filtering.is_empty() {
        page.push_str("<div class=\"alert\"><h3>Same server, different names</h3><ul>");
        for f in &filtering {
            let _ = write!(
                page,
                "<li>{}",
                esc(&crate::report::summary::filtering_line(f))
            );
            let advice = h
                .blocked_advice
                .get(&(f.server.ip, f.server.port))
                .and_then(|&i| h.advice.get(i));
            if let Some(a) = advice {
                let _ = write!(page, "<div class=\"advice\">advice: {}</div>", esc(a));
            }
            page.push_str("</li>");
        }
        page.push_str("</ul></div>");
    }
    let total = h.aggregates.total();
    let failed = total.handshakes - total.complete;
    page.push_str("<div class=\"stats\">");
    let mut stat = |k: &str, v: String| {
        let _ = write!(
            page,
            "<div class=\"stat\"><div class=\"v\">{v}</div><div class=\"k\">{k}</div></div>"
        );
    };
    stat("connections", h.total.to_string());
    stat(
        "complete",
        format!(
            "{} <small>({})</small>",
            total.complete,
            percent(total.complete, total.handshakes)
        ),
    );
    stat("failed", failed.to_string());
    if let Some((a, b)) = h.span {
        stat(
            "capture time",
            format!(
                "{} s<br><small>{} – {}</small>",
                secs(b - a),
                utc(a),
                utc(b)
            ),
        );
    }
    page.push_str("</div><p class=\"inputs\">Input");
    if h.inputs.len() + usize::from(h.more_inputs > 0) > 1 {
        page.push('s');
    }
    page.push_str(": ");
    let names: Vec<String> = h
        .inputs
        .iter()
        .map(|(n, k)| format!("<code>{}</code> ({k} connections)", esc(n)))
        .collect();
    page.push_str(&names.join(", "));
    if h.more_inputs > 0 {
        let _ = write!(
            page,
            " and {} connections from further inputs",
            h.more_inputs
        );
    }
    page.push_str("</p><h3>Verdicts</h3><div class=\"bars\">");
    let mut rows: Vec<(&VerdictId, &super::Tally)> = h.verdicts.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.count));
    let most = rows.first().map_or(1, |r| r.1.count.max(1));
    for (id, t) in rows {
        let class = t.colour.unwrap_or(Colour::Other).class();
        let _ = write!(
            page,
            "<div class=\"bar\"><span class=\"name\">{}</span><span class=\"track\"><span class=\"fill {class}\" style=\"width:{:.1}%\"></span></span><span class=\"n\">{} <small>({})</small></span></div>",
            esc(id.as_str()),
            t.count as f64 * 100.0 / most as f64,
            t.count,
            percent(t.count, h.total)
        );
    }
    page.push_str("</div></section>");
}

/// Handshakes over capture time, one stacked column per slice of time, coloured by verdict.
fn timeline<W: Write>(page: &mut String, h: &Html<W>) {
    let (width_ns, bins) = h.time.bins();
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        return;
    };
    let start = first.0;
    // Capture times are whatever the file says: saturating, never overflowing.
    let span = last.0.saturating_sub(start).saturating_add(width_ns);
    let columns = (span / width_ns.max(1)).clamp(1, TIMELINE_COLUMNS);
    let col_ns = (span / columns + i64::from(span % columns != 0)).max(1);
    let mut cols = vec![[0u64; 6]; columns as usize];
    for (t, counts) in &bins {
        let i = (t.saturating_sub(start) / col_ns).clamp(0, columns - 1) as usize;
        if let Some(col) = cols.get_mut(i) {
            for (a, b) in col.iter_mut().zip(counts) {
                *a += b;
            }
        }
    }
    let top = cols
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, plot_h, left, bottom) = (960.0, 160.0, 44.0, 24.0);
    // Narrow columns for a short capture, so that one column is not a wall.
    let col_w = ((w - left - 8.0) / columns as f64).min(24.0);
    let plot_w = col_w * columns as f64;
    let _ = write!(
        page,
        "<section id=\"timeline\"><h2>Timeline</h2><p class=\"dim\">Handshakes by the time of their first packet, {} per column.</p><svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"handshakes over capture time\">",
        human_span(col_ns),
        plot_h + bottom + 8.0,
        plot_h + bottom + 8.0
    );
    let _ = write!(
        page,
        "<text class=\"axis\" x=\"{}\" y=\"12\" text-anchor=\"end\">{top}</text><text class=\"axis\" x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text><line class=\"base\" x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
        left - 6.0,
        left - 6.0,
        plot_h + 4.0,
        plot_h + 4.0,
        left + plot_w,
        plot_h + 4.0
    );
    for (i, col) in cols.iter().enumerate() {
        let sum: u64 = col.iter().sum();
        if sum == 0 {
            continue;
        }
        let x = left + i as f64 * col_w;
        let t0 = start + i as i64 * col_ns;
        let parts: Vec<String> = Colour::ALL
            .iter()
            .zip(col)
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {}", k.label()))
            .collect();
        let _ = write!(
            page,
            "<g class=\"col\"><title>{} – {}: {}</title>",
            utc(t0),
            utc(t0 + col_ns),
            parts.join(", ")
        );
        let mut y = plot_h + 4.0;
        for (k, n) in Colour::ALL.iter().zip(col) {
            if *n == 0 {
                continue;
            }
            let bar = *n as f64 / top as f64 * plot_h;
            y -= bar;
            let _ = write!(
                page,
                "<rect class=\"{}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{bar:.2}\"/>",
                k.class(),
                (col_w - 0.5).max(0.5)
            );
        }
        page.push_str("</g>");
    }
    // Five time labels; the first and last alone when the columns are few; the first alone
    // when they are too narrow for two.
    let ticks: i64 = match columns {
        20.. => 4,
        8.. => 1,
        _ => 0,
    };
    for tick in 0..=ticks {
        let x = left + plot_w * tick as f64 / ticks.max(1) as f64;
        let t = start + span * tick / ticks.max(1);
        let anchor = match tick {
            0 => "start",
            t if t == ticks => "end",
            _ => "middle",
        };
        let _ = write!(
            page,
            "<text class=\"axis\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            plot_h + bottom,
            utc(t)
        );
    }
    page.push_str("</svg><div class=\"legend\">");
    for k in Colour::ALL {
        let _ = write!(
            page,
            "<span><i class=\"{}\"></i>{} ({})</span>",
            k.class(),
            k.label(),
            h.colours[k as usize]
        );
    }
    page.push_str("</div></section>");
}

/// "1 s", "2 min", "1.5 h": the width of a timeline column.
fn human_span(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s < 1.0 {
        format!("{} ms", (s * 1000.0).round())
    } else if s < 120.0 {
        format!("{} s", (s * 10.0).round() / 10.0)
    } else if s < 7200.0 {
        format!("{} min", (s / 6.0).round() / 10.0)
    } else {
        format!("{} h", (s / 360.0).round() / 10.0)
    }
}

fn filters<W: Write>(page: &mut String, h: &Html<W>) {
    page.push_str("<nav class=\"filters\" aria-label=\"filters\"><label>Filter <input id=\"q\" type=\"search\" placeholder=\"server name or address\"></label> <label>verdict <select id=\"v\"><option value=\"\">any</option>");
    for id in h.verdicts.keys() {
        let _ = write!(page, "<option>{}</option>", esc(id.as_str()));
    }
    page.push_str("</select></label> <span id=\"shown\" class=\"dim\"></span></nav>");
}

/// The verdict ids a row of counts holds, for the verdict filter (both cut verdicts for any
/// cut: the counts do not tell RST from FIN).
fn verdicts_of(c: &Counts) -> String {
    let mut ids: Vec<&str> = Vec::new();
    if c.complete > 0 {
        ids.push(VerdictId::Complete.as_str());
    }
    if c.cut.total() > 0 {
        ids.push(VerdictId::RstAfterClientHello.as_str());
        ids.push(VerdictId::FinAfterClientHello.as_str());
    }
    if c.alert > 0 {
        ids.push(VerdictId::Alert.as_str());
    }
    ids.extend(c.failed.keys().copied());
    ids.join(" ")
}

fn count_cells(page: &mut String, c: &Counts) {
    let _ = write!(
        page,
        "<td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{:.4}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td>{}</td>",
        c.handshakes,
        c.handshakes,
        c.complete,
        c.complete,
        c.complete_rate(),
        percent(c.complete, c.handshakes),
        c.cut.middlebox,
        c.cut.middlebox,
        c.cut.server,
        c.cut.server,
        c.cut.client,
        c.cut.client,
        c.cut.unknown,
        c.cut.unknown,
        esc(&c.other_failures())
    );
}

fn aggregate_table(
    page: &mut String,
    id: &str,
    title: &str,
    first: &str,
    rows: &[(String, &Counts)],
    other: (&str, &Counts),
) {
    let _ = write!(
        page,
        "<section id=\"{id}\"><h2>{title}</h2><div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>{first}</th><th>handshakes</th><th>complete</th><th>complete %</th><th>cut: middlebox</th><th>cut: server</th><th>cut: client</th><th>cut: unknown</th><th>other failures</th></tr></thead><tbody>"
    );
    for (name, c) in rows.iter().take(MAX_AGGREGATE_ROWS) {
        let _ = write!(
            page,
            "<tr data-verdicts=\"{}\" data-text=\"{}\"><td>{}</td>",
            esc(&verdicts_of(c)),
            esc(&name.to_lowercase()),
            esc(name)
        );
        count_cells(page, c);
        page.push_str("</tr>");
    }
    if other.1.handshakes > 0 {
        let _ = write!(
            page,
            "<tr data-verdicts=\"{}\" data-text=\"\"><td><i>{}</i></td>",
            esc(&verdicts_of(other.1)),
            other.0
        );
        count_cells(page, other.1);
        page.push_str("</tr>");
    }
    page.push_str("</tbody></table></div>");
    if rows.len() > MAX_AGGREGATE_ROWS {
        let _ = write!(
            page,
            "<p class=\"dim\">… {} more rows; <code>--json --summary</code> lists them all.</p>",
            rows.len() - MAX_AGGREGATE_ROWS
        );
    }
    page.push_str("</section>");
}

fn aggregate_tables<W: Write>(page: &mut String, h: &Html<W>) {
    let a = &h.aggregates;
    let names: Vec<(String, &Counts)> = a
        .sni_rows()
        .into_iter()
        .map(|(n, c)| (n.unwrap_or("(no SNI)").to_string(), c))
        .collect();
    aggregate_table(
        page,
        "names",
        "By server name",
        "server name",
        &names,
        ("other names, not tracked", a.other_names()),
    );
    let servers: Vec<(String, &Counts)> = a
        .server_rows()
        .into_iter()
        .map(|(e, c)| (endpoint(&e.ip, e.port), c))
        .collect();
    aggregate_table(
        page,
        "servers",
        "By server",
        "server",
        &servers,
        ("other servers, not tracked", a.other_servers()),
    );
}

fn failures<W: Write>(page: &mut String, h: &Html<W>) {
    let failed: u64 = h
        .verdicts
        .iter()
        .filter(|(id, _)| **id != VerdictId::Complete)
        .map(|(_, t)| t.count)
        .sum();
    let _ = write!(
        page,
        "<section id=\"failures\"><h2>Failed handshakes ({failed})</h2>"
    );
    if failed == 0 {
        page.push_str("<p>None: every handshake completed.</p></section>");
        return;
    }
    let _ = write!(
        page,
        "<p class=\"dim\">The first {} of each verdict are drawn in full ({} here); the rest are in the tables. Each ladder shows one arrow per packet kept while the handshake was open, times in ms from the connection's first packet, sequence numbers relative; the judged packet is red, with its evidence beside it, the other packets the verdict cites are blue; dashed: retransmission, dotted: out of order, orange dot: data never acknowledged.</p>",
        h.detail,
        h.details.len()
    );
    for d in &h.details {
        page.push_str(d);
    }
    page.push_str("</section>");
}

/// The chains with problems that are not only on connections drawn in full already.
fn chains<W: Write>(page: &mut String, h: &Html<W>) {
    let listed: Vec<&super::ChainSeen> = h
        .chain_order
        .iter()
        .filter_map(|k| h.chains.get(k))
        .filter(|seen| seen.in_details < seen.connections)
        .collect();
    if listed.is_empty() && h.more_chains == 0 {
        return;
    }
    page.push_str("<section id=\"chains\"><h2>Certificate chains with problems</h2>");
    for seen in listed {
        let mut names: Vec<String> = seen.names.iter().map(|n| esc(n)).collect();
        if seen.more_names > 0 {
            names.push(format!("and {} more", seen.more_names));
        }
        let _ = write!(
            page,
            "<div class=\"chainset\" data-text=\"{}\"><h3>{} <span class=\"dim\">({} connections)</span></h3>{}</div>",
            esc(&seen.names.join(" ").to_lowercase()),
            if names.is_empty() {
                "(no SNI)".to_string()
            } else {
                names.join(", ")
            },
            seen.connections,
            seen.html
        );
    }
    if h.more_chains > 0 {
        let _ = write!(
            page,
            "<p class=\"dim\">{} more connections sent other chains with problems (only the first {MAX_CHAINS} chains are drawn).</p>",
            h.more_chains
        );
    }
    page.push_str("</section>");
}

/// One row of the connection table, linked to its detail section when it has one.
pub(super) fn table_row(c: &Connection, detail: Option<usize>) -> String {
    let (version, cipher) = super::super::version_and_cipher(c);
    let sni = c.client_hello.as_ref().and_then(|h| h.sni.as_deref());
    let verdict = match detail {
        Some(id) => format!(
            "<a href=\"#{}\">{}</a>",
            anchor(id),
            esc(c.verdict.id.as_str())
        ),
        None => esc(c.verdict.id.as_str()),
    };
    format!(
        "<tr data-verdicts=\"{}\" data-text=\"{}\"><td data-v=\"{}\">{}</td><td class=\"wrap\">{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"badge {}\">{verdict}</span></td></tr>",
        esc(c.verdict.id.as_str()),
        esc(&detail::filter_text(c)),
        c.first_frame,
        c.first_frame,
        esc(&c.capture),
        esc(&endpoint(&c.client.ip, c.client.port)),
        esc(&endpoint(&c.server.ip, c.server.port)),
        sni.map_or_else(|| "-".to_string(), esc),
        esc(&version),
        esc(&cipher),
        Colour::of(c).class(),
    )
}

fn connections<W: Write>(page: &mut String, h: &Html<W>) {
    let _ = write!(
        page,
        "<section id=\"connections\"><h2>Connections ({})</h2><div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>frame</th><th>input</th><th>client → server</th><th>SNI</th><th>version</th><th>cipher</th><th>verdict</th></tr></thead><tbody>",
        h.total
    );
    for r in &h.table {
        page.push_str(r);
    }
    page.push_str("</tbody></table></div>");
    if h.total > h.table.len() as u64 {
        let _ = write!(
            page,
            "<p class=\"dim\">… {} more connections (the first {MAX_TABLE_ROWS} are listed; all of them with <code>--json</code>).</p>",
            h.total - h.table.len() as u64
        );
    }
    page.push_str("</section>");
}
