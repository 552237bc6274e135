"""Captures analysed over a Dask cluster: ``tlsmortem.dask.analyze(paths, client=None)``.

The work is cut two ways, and each piece is one ``tlsmortem.analyze`` call on a worker:

- by file: every capture file (folders expanded as the command line does) is its own task;
- within a large file, by flow: a file of more than ``part_bytes`` is split into
  ``ceil(size / part_bytes)`` parts (or ``parts``), each task analysing only the flows of its
  part (``--shard K/N``: a hash of addresses and ports). A flow never straddles two tasks, so
  nothing has to be stitched back together, and the parts' records are exactly one run's.
  (Cutting a file into byte ranges instead would cut flows: their handshakes and TCP state
  would have to be rebuilt from two half-records, which records cannot do.)

A reduce step per file puts its parts' records back in the command line's order (first packet
first), so the DataFrame has one partition per file, in input order, with exactly the rows of
``tlsmortem.analyze(paths)``.

Rotated captures (``join=True``, the command line's ``--join``): the files are one capture, cut
where tcpdump -C/-G or dumpcap's ring buffer cut it, given in order. Then the flows are what is
split: each task reads every file, in order, and keeps the flows of its part, so a flow that
runs on from one file into the next meets all its packets in one task and is one record — the
merge by flow key happens on the way in, where the packets still are, not between half-records.
One partition per part, each in first-packet order; together exactly the rows of
``tlsmortem.analyze(paths, join=True)`` (sort by ``first_frame`` for its order).

Each worker reads the files from its own file system: on a real cluster, put the captures on
storage every worker mounts at the same path (NFS, a parallel file system).
"""

import math
import os
from typing import List, Optional

import pandas as pd
import pyarrow as pa

import tlsmortem

__all__ = ["analyze", "tasks", "PART_BYTES"]

#: Bytes of capture per part when a file is split by flow.
PART_BYTES = 256 << 20


def _parts(size: int, parts: Optional[int], part_bytes: int) -> int:
    return parts or max(1, math.ceil(size / part_bytes))


def tasks(paths, parts: Optional[int] = None, part_bytes: int = PART_BYTES, join: bool = False) -> List[tuple]:
    """The pieces of work, ``(files, k, n)``: the flows of part ``k`` of ``n`` of ``files``
    (one file, or with ``join`` every file as one capture)."""
    files = tlsmortem.captures(paths)
    if join:
        n = _parts(sum(os.path.getsize(f) for f in files), parts, part_bytes)
        return [(files, k, n) for k in range(n)]
    out = []
    for f in files:
        n = _parts(os.path.getsize(f), parts, part_bytes)
        out += [([f], k, n) for k in range(n)]
    return out


def _part(files: List[str], k: int, n: int, options: dict) -> pa.Table:
    shard = {"shard": f"{k}/{n}"} if n > 1 else {}
    return tlsmortem.analyze(files, **shard, **options)


def _merge(tables: List[pa.Table]) -> pd.DataFrame:
    """One file's parts, in first-packet order, as pandas with Arrow-backed columns."""
    table = pa.concat_tables(tables)
    if len(tables) > 1:
        table = table.sort_by([("first_frame", "ascending")])
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def meta() -> pd.DataFrame:
    """An empty frame with the records' columns and dtypes."""
    return tlsmortem.schema().empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def analyze(paths, client=None, parts: Optional[int] = None, part_bytes: int = PART_BYTES, **options):
    """The records of the captures as a ``dask.dataframe.DataFrame``, one partition per file
    (with ``join=True``, per part).

    ``client``: a ``distributed.Client`` to run on (its cluster computes the partitions when
    the frame is computed); otherwise Dask's current scheduler. ``parts`` splits every file
    into that many parts by flow (default: one part per ``part_bytes`` of file). Other keyword
    arguments are ``tlsmortem.analyze``'s options (the command line's flags); ``threads``
    defaults to 1 here, the cluster's workers being the parallelism.
    """
    import dask
    import dask.dataframe as dd

    options.setdefault("threads", 1)
    if "shard" in options:
        raise ValueError("tlsmortem.dask.analyze splits files itself: give parts=N, not shard")
    join = bool(options.get("join"))
    by_file = {}
    for files, k, n in tasks(paths, parts, part_bytes, join):
        task = dask.delayed(_part)(files, k, n, options)
        # Joined: each part is a partition. Apart: a file's parts are merged into one.
        by_file.setdefault(k if join else files[0], []).append(task)
    partitions = [dask.delayed(_merge)(ps) for ps in by_file.values()]
    if not partitions:
        return dd.from_pandas(meta(), npartitions=1)
    df = dd.from_delayed(partitions, meta=meta(), verify_meta=False)
    if client is not None:
        df = client.persist(df)
    return df
