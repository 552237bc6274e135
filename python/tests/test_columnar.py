"""`--format parquet` read as is by DuckDB, and Dask giving one process's records."""

import json
import os
import pathlib

import pyarrow as pa
import pytest

import tlsmortem
import tlsmortem.dask
from conftest import CAPTURES, CORPUS

# The README's query.
COMPLETION_PER_SNI = """
SELECT client_hello.sni AS sni,
       count(*) AS handshakes,
       count(*) FILTER (WHERE verdict.id = 'complete') AS complete,
       round(complete / handshakes, 4) AS complete_rate
FROM '{file}'
GROUP BY ALL
ORDER BY handshakes DESC, sni
"""


def test_duckdb_reads_the_parquet_and_gets_the_summarys_completion_rates(cli, tmp_path):
    import duckdb

    f = tmp_path / "connections.parquet"
    cli("--format", "parquet", "-o", f, CAPTURES)
    rows = duckdb.sql(COMPLETION_PER_SNI.format(file=f)).fetchall()
    got = {sni: (n, complete, rate) for sni, n, complete, rate in rows}
    summary = [json.loads(l) for l in cli("summary", "--json", CAPTURES).stdout.splitlines()]
    expected = {
        s["sni"]: (s["handshakes"], s["complete"], s["complete_rate"])
        for s in summary
        if s["summary"] == "sni"
    }
    assert len(expected) > 3
    assert got == expected


def test_the_parquet_file_holds_the_python_tables_rows(cli, tmp_path):
    import pyarrow.parquet as pq

    f = tmp_path / "connections.parquet"
    cli("--format", "parquet", "-o", f, CAPTURES)
    assert pq.read_table(f).equals(tlsmortem.analyze(CAPTURES))


def dask_rows(df) -> pa.Table:
    """A computed Dask frame as an Arrow table of the records' schema."""
    return pa.Table.from_pandas(df.compute(), preserve_index=False).cast(tlsmortem.schema())


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        with Client(c) as client:
            yield client


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_dask_over_the_shared_corpus_gives_one_processs_records(cluster):
    single = tlsmortem.analyze(CORPUS, all_flows=True)
    df = tlsmortem.dask.analyze(CORPUS, client=cluster, all_flows=True)
    assert df.npartitions == len(tlsmortem.captures(CORPUS))
    assert dask_rows(df).equals(single)
    assert single.num_rows > 250


def test_dask_with_files_split_by_flow_gives_one_processs_records(cluster):
    single = tlsmortem.analyze(CAPTURES, all_flows=True)
    df = tlsmortem.dask.analyze(CAPTURES, client=cluster, parts=7, all_flows=True)
    assert len(tlsmortem.dask.tasks(CAPTURES, parts=7)) == 7 * df.npartitions
    assert dask_rows(df).equals(single)


def cut_pcap(src: pathlib.Path, pieces: int, into: pathlib.Path):
    """A little-endian pcap cut into `pieces` files at record boundaries, as tcpdump -C cuts."""
    data = src.read_bytes()
    header, rest, records = data[:24], data[24:], []
    while len(rest) >= 16:
        n = 16 + int.from_bytes(rest[8:12], "little")
        records.append(rest[:n])
        rest = rest[n:]
    per = -(-len(records) // pieces)
    files = []
    for i in range(0, len(records), per):
        f = into / f"rotated{i // per:02d}.pcap"
        f.write_bytes(header + b"".join(records[i : i + per]))
        files.append(f)
    return files


def test_dask_joins_a_rotated_capture_into_the_uncut_captures_records(cluster, tmp_path):
    src = CAPTURES / "keylog" / "tls12-suites.pcap"
    files = cut_pcap(src, 5, tmp_path)
    uncut = tlsmortem.analyze(src).drop_columns(["capture"])
    apart = tlsmortem.dask.analyze(files, client=cluster)
    # Apart, the connections that cross a cut are reported in pieces.
    assert len(apart.compute()) > uncut.num_rows
    joined = tlsmortem.dask.analyze(files, client=cluster, parts=3, join=True)
    assert joined.npartitions == 3
    got = dask_rows(joined).sort_by("first_frame").drop_columns(["capture"])
    assert got.equals(uncut)


BENCH = os.environ.get("TLSMORTEM_BENCH_PCAP")


@pytest.mark.skipif(not BENCH, reason="set TLSMORTEM_BENCH_PCAP to the benchmark capture")
def test_dask_splits_the_benchmark_capture_eight_ways_into_one_processs_records(cluster):
    import time

    t0 = time.monotonic()
    single = tlsmortem.analyze(BENCH)
    t1 = time.monotonic()
    df = tlsmortem.dask.analyze(BENCH, client=cluster, parts=8)
    got = dask_rows(df)
    t2 = time.monotonic()
    print(f"\nbenchmark capture: one process {t1 - t0:.1f} s, Dask 8 parts on 2 workers {t2 - t1:.1f} s, {single.num_rows} rows")
    assert got.equals(single)
