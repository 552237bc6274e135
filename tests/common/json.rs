//! Reading fields of the connection objects the binary writes (and of truth entries shaped the
//! same way) into plain Rust values to compare: string lists, certificate hashes in wire order,
//! finding ids. A missing or mistyped field reads as empty or as a placeholder that matches
//! nothing, so the comparison that follows fails and shows both sides.

use std::collections::BTreeSet;

use serde_json::Value;

/// A JSON array of strings; a non-string element reads as `<not a string>`, a non-array as
/// empty.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("<not a string>").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The lowercase `sha256` of each certificate of a certificate list, in list (wire) order; a
/// certificate without one reads as `<no sha256>`.
pub fn sha256_list(certs: &Value) -> Vec<String> {
    certs
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    c["sha256"]
                        .as_str()
                        .unwrap_or("<no sha256>")
                        .to_ascii_lowercase()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The ids of a connection's findings.
pub fn finding_ids(conn: &Value) -> BTreeSet<String> {
    conn["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
