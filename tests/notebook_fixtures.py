"""Real Jupyter notebooks for the tests: the test notebooks of jupytext's source distribution on PyPI
(MIT license), pinned by version and checked against PyPI's sha256 by the sample corpus's downloader.

    python -m tests.notebook_fixtures      # fetch (once) and print where the notebooks are

The sdist is cached under $CODECORPUS_CACHE (default ~/.cache/codecorpus) like the sample corpus; the
notebooks of ``tests/data/notebooks/inputs/`` (one folder per kernel: ipynb_py, ipynb_R, ipynb_rust, ...)
are extracted once into ``notebook-fixtures-<FORMAT>/jupytext-<VERSION>/``, in a temporary directory
renamed into place, so the result is the same on every machine.
"""
from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from codecorpus.sources.sample import SourceEntry, cache_root, fetch_all

JUPYTEXT = SourceEntry("pypi", "jupytext", "1.16.4")
INPUTS = f"jupytext-{JUPYTEXT.version}/tests/data/notebooks/inputs/"
FORMAT = 1


def notebook_dir(cache_dir: Path | None = None) -> Path:
    """The folder of real notebooks (``ipynb_<kernel>/<name>.ipynb``), fetched and extracted on first use."""
    root = cache_root(cache_dir)
    final = root / f"notebook-fixtures-{FORMAT}" / f"jupytext-{JUPYTEXT.version}"
    if final.is_dir():
        return final
    archive = fetch_all([JUPYTEXT], root / "downloads", progress=lambda message: None)[JUPYTEXT.key]
    final.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    with tarfile.open(archive) as sdist:
        for member in sdist.getmembers():
            if member.isfile() and member.name.startswith(INPUTS) and member.name.endswith(".ipynb"):
                target = build / member.name[len(INPUTS):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(sdist.extractfile(member).read())
    try:
        build.rename(final)
    except OSError:  # another process finished first
        shutil.rmtree(build, ignore_errors=True)
    return final


if __name__ == "__main__":
    path = notebook_dir()
    print(f"{len(list(path.rglob('*.ipynb')))} notebooks in {path}")
