"""Where the tests find the captures and the command-line binary they compare with."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def cli():
    """The command line: $TLSMORTEM_BIN, or the release build `cargo test --release` makes."""
    path = pathlib.Path(os.environ.get("TLSMORTEM_BIN", ROOT / "target" / "release" / "tlsmortem"))
    if not path.exists():
        pytest.fail(f"{path}: no tlsmortem binary; run `cargo build --release` or set TLSMORTEM_BIN")

    def run(*args, check=True):
        r = subprocess.run([str(path), *map(str, args)], capture_output=True)
        if check and r.returncode not in (0, 1):
            raise AssertionError(f"tlsmortem {args}: exit {r.returncode}: {r.stderr.decode()}")
        return r

    return run


def every_capture():
    """Every capture file under captures/ and ../shared/corpus, as the command line lists them."""
    import tlsmortem

    dirs = [CAPTURES] + ([CORPUS] if CORPUS.is_dir() else [])
    return tlsmortem.captures(dirs)
