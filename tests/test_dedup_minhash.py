"""The vectorised MinHash equals its plain per-shingle definition and estimates Jaccard as well as
datasketch, on real files of the installed packages."""
from __future__ import annotations

import itertools
import re
import sys
import sysconfig
from pathlib import Path

import numpy as np
from datasketch import MinHash

sys.path.insert(0, str(Path(__file__).parent))
from test_dedup_data import mit_licenses, site_file  # noqa: E402

from codecorpus.dedup import minhash  # noqa: E402

PAIRS = [("pip/_vendor/packaging/version.py", "packaging/version.py"),
         ("pip/_vendor/packaging/specifiers.py", "packaging/specifiers.py"),
         ("pip/_vendor/packaging/markers.py", "packaging/markers.py"),
         ("pip/_vendor/certifi/core.py", "certifi/core.py"),
         ("pip/_vendor/requests/models.py", "requests/models.py"),
         ("pip/_vendor/pygments/lexer.py", "pygments/lexer.py")]


def real_texts(count: int, non_ascii: bool) -> list[str]:
    """The first ``count`` .py files (sorted by path) that are, or are not, pure ASCII."""
    out = []
    for path in sorted(Path(sysconfig.get_paths()["purelib"]).rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if text.isascii() != non_ascii:
            out.append(text)
            if len(out) == count:
                return out
    return out


def shingle_set(text: str) -> set[bytes]:
    tokens = re.split(r"\W", text.lower())
    return {" ".join(tokens[i:i + 5]).encode() for i in range(len(tokens) - 4)}


def test_vectorised_signatures_equal_the_plain_per_shingle_computation():
    texts = real_texts(40, non_ascii=False) + real_texts(10, non_ascii=True)
    texts += ["", "x", "pass\n"]          # real too-short files: empty, one token
    a, b = minhash.permutations(250, 42)
    sig, has = minhash.signatures(texts, a, b)
    for i, text in enumerate(texts):
        want = minhash.reference_signature(text, a, b)
        assert has[i] == (want is not None)
        if want is not None:
            assert (sig[i] == want).all(), i


def test_estimates_jaccard_as_well_as_datasketch_on_real_pairs():
    pairs = [(site_file(x), site_file(y)) for x, y in PAIRS]
    pairs += list(itertools.combinations(list(mit_licenses().values())[:12], 2))
    a, b = minhash.permutations(250, 42)
    ours, theirs = [], []
    for left, right in pairs:
        true = len(shingle_set(left) & shingle_set(right)) / len(shingle_set(left) | shingle_set(right))
        sig, _ = minhash.signatures([left, right], a, b)
        ours.append(abs((sig[0] == sig[1]).mean() - true))
        m1, m2 = MinHash(num_perm=250, seed=1), MinHash(num_perm=250, seed=1)
        m1.update_batch(list(shingle_set(left)))
        m2.update_batch(list(shingle_set(right)))
        theirs.append(abs(m1.jaccard(m2) - true))
    assert len(pairs) >= 60
    # Theory for 250 permutations: mean absolute error ~0.02 at J=0.5, less near 0 and 1.
    assert np.mean(ours) < 0.03
    assert np.mean(ours) <= np.mean(theirs) * 1.25 + 0.003
