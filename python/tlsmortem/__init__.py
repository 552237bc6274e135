"""tlsmortem: per connection in a packet capture, what happened to the TLS handshake and why.

The records are those of ``tlsmortem --json`` (the README gives the keys), as Arrow: one row per
connection, nested objects as structs, arrays as lists, times as UTC timestamps.

    >>> import tlsmortem
    >>> table = tlsmortem.analyze("captures/rst-after-client-hello.pcap")
    >>> table.column("verdict").combine_chunks().field("id").to_pylist()
    ['rst-after-client-hello']

Options are the command line's flags as keyword arguments, dashes as underscores: ``threads=2``,
``sni="*.example.com"``, ``verdict=["rst-after-client-hello"]``, ``keylog="keys.txt"``,
``all_flows=True``, ``shard="0/4"``, ``max_memory="1G"``… A flag that repeats takes a list.
Flags that choose what the command writes (``json``, ``format``, ``html``, ``summary``…) are
refused: here the records are the output.
"""

import os
from typing import Iterable, Iterator, List, Union

import pyarrow as pa
import pyarrow.ipc

from . import _native
from ._native import TlsmortemError

__all__ = ["analyze", "iter_batches", "schema", "captures", "TlsmortemError"]
__version__ = _native.__version__

Paths = Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]


def _paths(path_or_paths: Paths) -> List[str]:
    if isinstance(path_or_paths, (str, os.PathLike)):
        return [os.fspath(path_or_paths)]
    return [os.fspath(p) for p in path_or_paths]


def _args(options: dict) -> List[str]:
    """Keyword arguments as command-line flags."""
    args = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
        else:
            args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args


def schema() -> pa.Schema:
    """The schema of every table and batch this package returns."""
    return pa.ipc.open_stream(_native.schema()).schema


def iter_batches(path_or_paths: Paths, **options) -> Iterator[pa.RecordBatch]:
    """The records of the captures, one ``pyarrow.RecordBatch`` at a time (up to 8192 rows), as
    the analysis makes them: memory stays bounded whatever the size of the captures. Stopping
    early stops the analysis."""
    for stream in _native.batches(_args(options), _paths(path_or_paths)):
        reader = pa.ipc.open_stream(stream)
        for batch in reader:
            yield batch


def analyze(path_or_paths: Paths, **options) -> pa.Table:
    """The records of the captures (files, folders of them) as one ``pyarrow.Table``, in the
    command line's order: input by input, each in order of the connections' first packets."""
    return pa.Table.from_batches(list(iter_batches(path_or_paths, **options)), schema=schema())


def captures(path_or_paths: Paths) -> List[str]:
    """The capture files the paths name, folders expanded as the command line does."""
    return _native.captures(_paths(path_or_paths))
