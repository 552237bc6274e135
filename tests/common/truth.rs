//! The ground truth beside the captures: `captures/truth.json` and the `truth.json` of each
//! capture folder (`certs/`, `netns/`, `quic/`, `starttls/`), written by the `make.sh` that made
//! the captures from how it made them, never from tlsmortem. Each has a `files` object keyed by
//! capture file name whose entries carry a `connections` list; what else an entry holds differs
//! per folder and is read by the tests with plain indexing. Reading fails loudly, naming the
//! file: a test without its truth has nothing to check against.

use std::ops::Index;

use serde_json::{Map, Value};

use super::fixtures;

/// One parsed truth.json.
pub struct Truth {
    /// The file, relative to the package root, for messages.
    name: String,
    json: Value,
}

impl Truth {
    /// `captures/DIR/truth.json`; `DIR` is `""` for `captures/truth.json`.
    pub fn of(dir: &str) -> Self {
        let rel = if dir.is_empty() {
            "truth.json".to_owned()
        } else {
            format!("{dir}/truth.json")
        };
        let path = fixtures::captures(&rel);
        let name = format!("captures/{rel}");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let json =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        Truth { name, json }
    }

    /// The `files` object: capture file name → what was made.
    pub fn files(&self) -> &Map<String, Value> {
        self.json["files"]
            .as_object()
            .unwrap_or_else(|| panic!("{} has no files object", self.name))
    }

    /// The entry for capture `file`, which must be there.
    pub fn file(&self, file: &str) -> &Value {
        let entry = &self.json["files"][file];
        assert!(entry.is_object(), "{} has no entry for {file}", self.name);
        entry
    }

    /// The `connections` list of capture `file`, which must be there.
    pub fn connections(&self, file: &str) -> &[Value] {
        self.json["files"][file]["connections"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: {file} has no connections list", self.name))
    }
}

/// Top-level keys (`files`, `pki`, `leaf_sha256`, …) as in the JSON; missing ones are `null`.
impl Index<&str> for Truth {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        &self.json[key]
    }
}
