"""Real Jupyter notebooks for the tests: the test notebooks of jupytext's and nbformat's source
distributions on PyPI (jupytext: MIT, nbformat: BSD-3-Clause), pinned by version and checked against PyPI's sha256 by the
sample corpus's downloader.

    python -m tests.notebook_fixtures      # fetch (once) and print where the notebooks are

The sdists are cached under $CODECORPUS_CACHE (default ~/.cache/codecorpus) like the sample corpus; their
test notebooks are extracted once into ``notebook-fixtures-<FORMAT>/<package>-<version>/``, in a temporary
directory renamed into place, so the result is the same on every machine:
- jupytext 1.16.4 ``tests/data/notebooks/inputs/``: one folder per kernel (ipynb_py, ipynb_R, ipynb_rust...)
- nbformat 5.11.1 ``tests/``: nbformat 2, 3 and 4 notebooks, some deliberately invalid
"""
from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from codecorpus.sources.sample import SourceEntry, cache_root, fetch_all

JUPYTEXT = SourceEntry("pypi", "jupytext", "1.16.4")
NBFORMAT = SourceEntry("pypi", "nbformat", "5.11.1")
INSIDE = {JUPYTEXT: "tests/data/notebooks/inputs/", NBFORMAT: "tests/"}
FORMAT = 2


def _fixtures(entry: SourceEntry, cache_dir: Path | None) -> Path:
    root = cache_root(cache_dir)
    final = root / f"notebook-fixtures-{FORMAT}" / f"{entry.name}-{entry.version}"
    if final.is_dir():
        return final
    archive = fetch_all([entry], root / "downloads", progress=lambda message: None)[entry.key]
    prefix = f"{entry.name}-{entry.version}/{INSIDE[entry]}"
    final.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    with tarfile.open(archive) as sdist:
        for member in sdist.getmembers():
            if member.isfile() and member.name.startswith(prefix) and member.name.endswith(".ipynb"):
                target = build / member.name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(sdist.extractfile(member).read())
    try:
        build.rename(final)
    except OSError:  # another process finished first
        shutil.rmtree(build, ignore_errors=True)
    return final


def notebook_dir(cache_dir: Path | None = None) -> Path:
    """jupytext's test notebooks (``ipynb_<kernel>/<name>.ipynb``), fetched and extracted on first use."""
    return _fixtures(JUPYTEXT, cache_dir)


def nbformat_dir(cache_dir: Path | None = None) -> Path:
    """nbformat's test notebooks (``test2.ipynb``, ``test3.ipynb``, ``test4.ipynb``, ``invalid.ipynb``...)."""
    return _fixtures(NBFORMAT, cache_dir)


if __name__ == "__main__":
    for path in (notebook_dir(), nbformat_dir()):
        print(f"{len(list(path.rglob('*.ipynb')))} notebooks in {path}")
