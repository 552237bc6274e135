"""The Python package gives the command line's records: every capture, the options, streaming."""

import io
import json
import os

import pyarrow as pa
import pyarrow.json as pj
import pytest

import tlsmortem
from conftest import CAPTURES, CORPUS, every_capture


def cli_table(stdout: bytes) -> pa.Table:
    """The command line's JSON lines read by pyarrow's own JSON reader with the package's
    schema: a key the schema lacks is an error, so the comparison covers every key."""
    if not stdout:
        return tlsmortem.schema().empty_table()
    opts = pj.ParseOptions(explicit_schema=tlsmortem.schema(), unexpected_field_behavior="error")
    return pj.read_json(io.BytesIO(stdout), parse_options=opts).cast(tlsmortem.schema())


def test_python_records_equal_the_command_lines_json_on_every_capture(cli):
    files = every_capture()
    assert len(files) > 50
    rows = 0
    for f in files:
        r = cli("--json", "--all-flows", f, check=False)
        if r.returncode == 2:
            with pytest.raises(tlsmortem.TlsmortemError):
                tlsmortem.analyze(f, all_flows=True)
            continue
        table = tlsmortem.analyze(f, all_flows=True)
        expected = cli_table(r.stdout)
        assert table.schema == tlsmortem.schema()
        assert table.equals(expected), f
        # And a few values read with nothing but json, in case both Arrow readings agreed on
        # something wrong.
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        got = table.to_pylist()
        assert [l["verdict"]["id"] for l in lines] == [g["verdict"]["id"] for g in got], f
        assert [l["first_frame"] for l in lines] == [g["first_frame"] for g in got], f
        assert [(l["client_hello"] or {}).get("sni") for l in lines] == [
            (g["client_hello"] or {}).get("sni") for g in got
        ], f
        assert [len(l["findings"]) for l in lines] == [len(g["findings"]) for g in got], f
        rows += len(lines)
    assert rows > 400


def test_options_are_the_command_lines_flags(cli):
    cases = [
        {"sni": "*.example.test"},
        {"verdict": ["rst-after-client-hello", "incomplete-chain"]},
        {"port": 443, "threads": 1},
        {"shard": "1/3"},
    ]
    for options in cases:
        args = []
        for k, v in options.items():
            for one in v if isinstance(v, list) else [v]:
                args += ["--" + k, str(one)]
        r = cli("--json", *args, CAPTURES)
        table = tlsmortem.analyze(CAPTURES, **options)
        assert table.num_rows > 0, options
        assert table.equals(cli_table(r.stdout)), options


def test_flags_that_pick_the_output_and_unknown_flags_are_refused():
    for options in [{"json": True}, {"format": "parquet"}, {"html": "x.html"}, {"summary": True}]:
        with pytest.raises(ValueError, match="returns the records as Arrow"):
            tlsmortem.analyze(CAPTURES, **options)
    with pytest.raises(ValueError, match="--no-such-flag"):
        tlsmortem.analyze(CAPTURES, no_such_flag=1)


def test_a_missing_capture_raises_naming_it():
    with pytest.raises(tlsmortem.TlsmortemError, match="no-such.pcap"):
        tlsmortem.analyze(CAPTURES / "no-such.pcap")


def test_a_file_that_is_not_a_capture_raises_naming_it(tmp_path):
    bad = tmp_path / "text.pcap"
    bad.write_text("not a capture\n")
    with pytest.raises(tlsmortem.TlsmortemError, match="text.pcap"):
        tlsmortem.analyze(bad)


def test_batches_stream_in_order_and_add_up_to_the_table():
    # The captures folder sixty times over: more rows than one batch holds.
    paths = [CAPTURES] * 60
    whole = tlsmortem.analyze(paths)
    batches = list(tlsmortem.iter_batches(paths))
    assert whole.num_rows > 8192
    assert len(batches) == -(-whole.num_rows // 8192)
    assert all(b.num_rows <= 8192 for b in batches)
    assert pa.Table.from_batches(batches).equals(whole)


def test_stopping_early_stops_the_analysis():
    it = tlsmortem.iter_batches([CAPTURES] * 200)
    first = next(it)
    assert first.num_rows == 8192
    it.close()
    # Nothing left hanging: a new run goes through.
    assert tlsmortem.analyze(CAPTURES / "tls12-openssl.pcap").num_rows == 1


def test_the_schema_follows_the_json_contracts_nesting():
    s = tlsmortem.schema()
    assert pa.types.is_struct(s.field("verdict").type)
    assert pa.types.is_list(s.field("findings").type)
    assert pa.types.is_timestamp(s.field("start").type)
    assert s.names[:3] == ["capture", "transport", "encapsulation"]


def test_a_header_only_capture_gives_an_empty_table_with_the_schema(tmp_path):
    f = tmp_path / "empty.pcap"
    f.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    t = tlsmortem.analyze(f)
    assert t.num_rows == 0 and t.schema == tlsmortem.schema()


def test_a_folder_walk_warns_of_what_it_passes_over_and_reads_each_file_once(tmp_path):
    (tmp_path / "a.pcap").write_bytes((CAPTURES / "tls12-openssl.pcap").read_bytes())
    (tmp_path / "again.pcap").symlink_to("a.pcap")
    (tmp_path / "up").symlink_to("..")
    os.mkfifo(tmp_path / "fifo.pcap")
    with pytest.warns(UserWarning) as seen:
        t = tlsmortem.analyze(tmp_path)
    said = " ".join(str(w.message) for w in seen)
    assert "again.pcap: the same file as" in said
    assert "fifo.pcap: a FIFO" in said
    assert "up: a link to a folder" in said
    assert t.num_rows == 1
