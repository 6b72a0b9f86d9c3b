"""Near-dedup quality against exact ground truth, on a sample corpus run through the real stages.

1. The runner runs ingest, annotate, filter and dedup on a built-in sample (`--sample small|default|large`)
   in RUN_DIR (kept, so a second call only re-reads it). The near-dedup input is the filter stage's files
   minus the ledger's `exact_dup` rows.
2. Ground truth: every pair with exact Jaccard >= THRESHOLD on the same shingle sets (BigCode's 5-token
   shingles of `re.split(r"\\W", text.lower())`, each shingle string hashed to 64 bits), found by prefix
   filtering (AllPairs, Bayardo et al. 2007): with tokens ordered rarest first, two sets with J >= t share
   a token among the first |x| - ceil(t|x|) + 1 of each, so indexing those prefixes cannot miss a pair;
   every candidate is then verified exactly. The count of candidates and true pairs is printed.
3. Figures, against the stage's decisions (ledger `near_dup` rows, `clusters` table):
   - detection: "flagged" (in clusters: removed, or the survivor of removed files) against "has a true
     partner": precision and recall;
   - removal precision: removed files that keep at least one kept file with true J >= t to them;
   - redundancy left: kept files that still have another kept file with true J >= t.

    .venv/bin/python bench/dedup_quality.py --sample small --run-dir RUN_DIR [--set dedup.verify=off]
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

NON_WORD = re.compile(r"\W")


def shingle_set(text: str, ngram: int, max_chars: int) -> frozenset[int]:
    tokens = NON_WORD.split(text[:max_chars].lower())
    if len(tokens) < max(ngram, 5):
        return frozenset()
    return frozenset(xxhash.xxh64_intdigest(" ".join(tokens[i:i + ngram]))
                     for i in range(len(tokens) - ngram + 1))


def all_pairs(sets: dict[str, frozenset[int]], t: float) -> tuple[dict[str, set[str]], int]:
    """{file: files with exact J >= t}, and the number of candidate pairs verified."""
    freq: dict[int, int] = defaultdict(int)
    for s in sets.values():
        for x in s:
            freq[x] += 1
    order = {}
    index: dict[int, list[str]] = defaultdict(list)
    for name, s in sets.items():
        ranked = sorted(s, key=lambda x: (freq[x], x))
        order[name] = ranked[:len(ranked) - math.ceil(t * len(ranked)) + 1]
        for x in order[name]:
            index[x].append(name)
    partners: dict[str, set[str]] = defaultdict(set)
    candidates = 0
    for name, prefix in order.items():
        seen = set()
        size = len(sets[name])
        for x in prefix:
            for other in index[x]:
                if other <= name or other in seen:
                    continue
                seen.add(other)
                if t * size <= len(sets[other]) and t * len(sets[other]) <= size:   # size filter
                    candidates += 1
                    a, b = sets[name], sets[other]
                    inter = len(a & b)
                    if inter >= t * (len(a) + len(b) - inter):
                        partners[name].add(other)
                        partners[other].add(name)
    return partners, candidates


def run_stages(sample: str, run_dir: str, overrides: list[str]):
    from codecorpus.config import parse_config
    from codecorpus.pipeline import STAGES
    from codecorpus.runner import Runner
    from codecorpus.session import get_spark
    raw = {"run_dir": run_dir, "sources": {"sample": sample},
           "stages": ["ingest", "annotate", "filter", "dedup"]}
    for item in overrides:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        raw.setdefault(section, {})[name] = type_of(value)
    config = parse_config(raw)
    spark = get_spark("local[2]", {"spark.ui.showConsoleProgress": "false"})
    start = time.perf_counter()
    Runner(config, spark, STAGES, progress=print).run()
    print(f"stages: {time.perf_counter() - start:.0f} s")
    return config


def type_of(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", default="small")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--set", action="append", default=[], help="config override, e.g. dedup.verify=off")
    args = parser.parse_args()
    config = run_stages(args.sample, args.run_dir, args.set)
    cfg, root = config.dedup, Path(args.run_dir)
    ledger = pq.read_table(root / "ledger" / "dedup", columns=["id", "rule", "value"])
    exact = set(ledger.filter(pc.equal(ledger["rule"], "exact_dup"))["id"].to_pylist())
    near = ledger.filter(pc.equal(ledger["rule"], "near_dup"))
    removed = dict(zip(near["id"].to_pylist(), near["value"].to_pylist()))
    flagged = set(pq.read_table(root / "stages" / "dedup" / "clusters", columns=["file_id"])["file_id"].to_pylist())
    files = pq.read_table(root / "stages" / "filter" / "files", columns=["file_id", "content"])
    start = time.perf_counter()
    sets = {}
    for fid, text in zip(files["file_id"].to_pylist(), files["content"].to_pylist()):
        if fid not in exact:
            sets[fid] = shingle_set(text, cfg.ngram, cfg.max_hash_chars)
    sets = {k: v for k, v in sets.items() if v}
    partners, candidates = all_pairs(sets, cfg.threshold)
    print(f"ground truth: {len(sets)} files with shingles, {candidates} candidate pairs verified, "
          f"{sum(map(len, partners.values())) // 2} pairs with J >= {cfg.threshold}, "
          f"{len(partners)} files with a partner ({time.perf_counter() - start:.0f} s)")
    has_partner = set(partners)
    kept = set(sets) - set(removed)
    tp = len(flagged & has_partner)
    good_removals = sum(1 for f in removed if partners.get(f, set()) & kept)
    redundant = sum(1 for f in kept if partners.get(f, set()) & kept)
    bands, rows = cfg.lsh_params()
    print(f"parameters: threshold {cfg.threshold}, {cfg.num_perm} permutations, {bands} bands x {rows} rows, "
          f"verify {cfg.verify}")
    print(f"detection: precision {tp / max(len(flagged), 1):.4f} ({tp}/{len(flagged)}), "
          f"recall {tp / max(len(has_partner), 1):.4f} ({tp}/{len(has_partner)})")
    print(f"removal precision: {good_removals / max(len(removed), 1):.4f} ({good_removals}/{len(removed)})")
    print(f"redundancy left: {redundant / max(len(kept), 1):.4f} ({redundant}/{len(kept)} kept files)")


if __name__ == "__main__":
    sys.exit(main())
