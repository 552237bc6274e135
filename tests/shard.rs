//! `--shard K/N` ([`tlsmortem::Part`]): the N parts of a capture's flows, run apart, report
//! together exactly what one run reports, each connection in one part only. Checked on every
//! capture under `captures/` and `../shared/corpus`, for N = 1, 2 and 7, with every flow
//! reported (`all_flows`) so that no connection hides behind the TLS-only filter; and on the
//! command line, where the flag is parsed.

mod common;

use common::fixtures::{captures_dir, shared};
use common::run::{run, tlsmortem};
use std::path::{Path, PathBuf};
use tlsmortem::{analyze_input, captures_in, Config, Input, Part};

/// Every connection record of `path` as JSON, for one part (all flows when `None`), sorted:
/// parts interleave in first-packet order, so the union is compared as a multiset.
fn records(path: &Path, part: Option<Part>) -> Vec<String> {
    let config = Config {
        all_flows: true,
        threads: 2,
        part,
        ..Default::default()
    };
    let mut out = Vec::new();
    // A capture that is not readable at all gives no records either way.
    let _ = analyze_input(&Input::Path(path.to_path_buf()), &config, &mut |c| {
        out.push(serde_json::to_string(&c).expect("serializable"))
    });
    out.sort();
    out
}

fn all_captures() -> Vec<PathBuf> {
    let mut files = captures_in(&captures_dir()).expect("captures/ lists");
    let corpus = shared("corpus");
    if corpus.is_dir() {
        files.extend(captures_in(&corpus).expect("../shared/corpus lists"));
    } else {
        eprintln!("../shared/corpus is absent: only captures/ checked");
    }
    files
}

#[test]
fn the_parts_of_every_capture_together_are_the_whole_run_each_connection_once() {
    let files = all_captures();
    assert!(files.len() > 50, "only {} captures found", files.len());
    let (mut connections, mut split) = (0, 0);
    for path in &files {
        let whole = records(path, None);
        connections += whole.len();
        for n in [1u32, 2, 7] {
            let parts: Vec<Vec<String>> = (0..n).map(|k| records(path, Part::new(k, n))).collect();
            if parts.iter().filter(|p| !p.is_empty()).count() > 1 {
                split += 1;
            }
            let mut union: Vec<String> = parts.into_iter().flatten().collect();
            union.sort();
            assert_eq!(union, whole, "{}: {n} parts", path.display());
        }
    }
    // Guards against a part filter that lets everything through (or nothing): the unions above
    // would still match, but the work would not be split.
    assert!(connections > 400, "only {connections} connections");
    assert!(
        split > 20,
        "the flows of only {split} (capture, N) runs were split"
    );
}

#[test]
fn the_command_line_takes_a_part_counted_from_zero_and_refuses_others() {
    let capture = "captures/netns";
    let one = run(tlsmortem().args(["--json", capture])).expect_ran();
    assert!(one.json_lines().len() > 5);
    let lines = |k: &str| {
        run(tlsmortem().args(["--json", "--shard", k, capture]))
            .expect_ran()
            .json_lines()
            .len()
    };
    assert_eq!(lines("0/2") + lines("1/2"), one.json_lines().len());
    assert_eq!(lines("0/1"), one.json_lines().len());
    for bad in ["2/2", "1", "a/3", "0/0", "-1/2"] {
        let r = run(tlsmortem().args(["--json", &format!("--shard={bad}"), capture]));
        assert_eq!(r.code, Some(2), "--shard {bad}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains("K/N"), "--shard {bad}: {err}");
    }
}
