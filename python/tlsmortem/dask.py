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
``tlsmortem.analyze(paths)``. Like the command line, each file is one capture: a flow that runs
on into the next file of a rotated capture is reported once per file.

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


def tasks(paths, parts: Optional[int] = None, part_bytes: int = PART_BYTES) -> List[tuple]:
    """The pieces of work, ``(file, k, n)``: file ``file``, flows of part ``k`` of ``n``."""
    out = []
    for f in tlsmortem.captures(paths):
        n = parts or max(1, math.ceil(os.path.getsize(f) / part_bytes))
        out += [(f, k, n) for k in range(n)]
    return out


def _part(file: str, k: int, n: int, options: dict) -> pa.Table:
    shard = {"shard": f"{k}/{n}"} if n > 1 else {}
    return tlsmortem.analyze(file, **shard, **options)


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
    """The records of the captures as a ``dask.dataframe.DataFrame``, one partition per file.

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
    by_file = {}
    for f, k, n in tasks(paths, parts, part_bytes):
        by_file.setdefault(f, []).append(dask.delayed(_part)(f, k, n, options))
    partitions = [dask.delayed(_merge)(ps) for ps in by_file.values()]
    if not partitions:
        return dd.from_pandas(meta(), npartitions=1)
    df = dd.from_delayed(partitions, meta=meta(), verify_meta=False)
    if client is not None:
        df = client.persist(df)
    return df
