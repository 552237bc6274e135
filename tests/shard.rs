//! Splitting the work: `--shard K/N` ([`tlsmortem::Part`]): the N parts of a capture's flows,
//! run apart, report together exactly what one run reports, each connection in one part only.
//! Checked on every capture under `captures/` and `../shared/corpus`, for N = 1, 2 and 7, with
//! every flow reported (`all_flows`) so that no connection hides behind the TLS-only filter;
//! and on the command line, where the flag is parsed. And `--join` ([`Config::join`]): a capture
//! cut into files at packet boundaries, as a rotating capture cuts it, read back as one gives
//! the uncut capture's records.

mod common;

use common::fixtures::{captures, captures_dir, shared, TempDir};
use common::run::{run, tlsmortem};
use std::path::{Path, PathBuf};
use tlsmortem::{analyze_input, analyze_inputs, captures_in, Config, Input, Part};

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

/// A little-endian pcap (`bytes`) cut into `pieces` files of about as many records each, every
/// file with the original's header: what `tcpdump -C` or `editcap -c` leave.
fn cut_pcap(bytes: &[u8], pieces: usize, dir: &Path) -> Vec<Input> {
    let (header, mut rest) = bytes.split_at(24);
    assert_eq!(
        &header[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "a little-endian pcap"
    );
    let mut records = Vec::new();
    while rest.len() >= 16 {
        let len = u32::from_le_bytes(rest[8..12].try_into().unwrap()) as usize;
        let (record, tail) = rest.split_at(16 + len);
        records.push(record);
        rest = tail;
    }
    let per = records.len().div_ceil(pieces);
    records
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let path = dir.join(format!("piece{i:02}.pcap"));
            let mut file = header.to_vec();
            chunk.iter().for_each(|r| file.extend_from_slice(r));
            std::fs::write(&path, file).unwrap();
            Input::Path(path)
        })
        .collect()
}

/// The records of `inputs` as JSON, without the `capture` key (a joined run names its files).
fn records_of(inputs: &[Input], join: bool) -> Vec<serde_json::Value> {
    let config = Config {
        all_flows: true,
        join,
        ..Default::default()
    };
    let mut out = Vec::new();
    analyze_inputs(
        inputs,
        &config,
        &|c| c,
        &mut |_, c| {
            let mut v = serde_json::to_value(&c).unwrap();
            v.as_object_mut().unwrap().remove("capture");
            out.push(v)
        },
        &mut |i, r| {
            r.unwrap_or_else(|e| panic!("input {i}: {e}"));
            true
        },
    );
    out
}

#[test]
fn a_capture_cut_into_files_and_joined_gives_the_uncut_captures_records() {
    for name in [
        "keylog/tls12-suites.pcap",
        "netns/normal-ipv6-curl-nginx.client.pcap",
    ] {
        let whole_path = captures(name);
        let whole = records_of(&[Input::Path(whole_path.clone())], false);
        assert!(!whole.is_empty(), "{name}");
        let bytes = std::fs::read(&whole_path).unwrap();
        for pieces in [2, 5, 13] {
            let dir = TempDir::new(&format!("join-{pieces}"));
            let files = cut_pcap(&bytes, pieces, dir.path());
            assert_eq!(
                records_of(&files, true),
                whole,
                "{name} in {pieces} files, joined"
            );
            // Apart, connections that cross a cut come out in pieces: the join is what makes
            // them whole.
            assert_ne!(
                records_of(&files, false),
                whole,
                "{name} in {pieces} files, apart"
            );
        }
    }
}
