//! Running the library in-process on capture bytes, for tests that compare whole results
//! across ways of reading (worker counts, chunk sizes): every connection record serialized as
//! JSON, in output order, and one line saying what the read found in the capture. Comparing
//! these strings compares everything the analysis produced, not a chosen few fields.

use tlsmortem::{analyze_bytes, Config};

/// Every connection record of capture `name` (`bytes`) as its JSON, and what the read said of
/// the capture: its container facts, packets decoded and skipped, flows and connections. Panics
/// if the bytes are not a capture at all.
pub fn records(name: &str, bytes: &[u8], config: &Config) -> (Vec<String>, String) {
    let mut out = Vec::new();
    let stats = analyze_bytes(name, bytes, config, &mut |c| {
        out.push(serde_json::to_string(&c).expect("serializable"))
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let read = format!(
        "{:?} decoded {} skipped {:?} flows {} connections {}",
        stats.capture, stats.packets_decoded, stats.skipped, stats.flows, stats.connections
    );
    (out, read)
}
