"""PII scan speed per core vs detect-secrets' default plugins and a passthrough floor, on real files.

    .venv/bin/python bench/pii_speed.py [N_FILES]

Files: a fixed-seed sample of .py/.js/.json/.yaml files from the virtualenv's site-packages (real
open-source code). One process, one core.
"""
from __future__ import annotations

import random
import sys
import sysconfig
import time
from pathlib import Path

from codecorpus.pii.config import PiiConfig
from codecorpus.pii.detect import find_pii
from codecorpus.pii.redact import redact_text


def sample(n: int, seed: int = 0) -> list[Path]:
    site = Path(sysconfig.get_paths()["purelib"])
    paths = sorted(p for ext in ("py", "js", "json", "yaml", "yml", "cfg", "ini") for p in site.rglob(f"*.{ext}")
                   if p.is_file() and p.stat().st_size < 1_000_000)
    random.Random(seed).shuffle(paths)
    return paths[:n]


def timed(fn, items) -> float:
    started = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - started


def main(n: int) -> None:
    paths = sample(n)
    texts = [(p, p.read_text(encoding="utf-8", errors="replace")) for p in paths]
    mb = sum(len(t.encode()) for _, t in texts) / 1e6
    cfg = PiiConfig(max_seconds_per_file=60)

    floor = timed(lambda pt: pt[1].encode().decode(), texts)
    ours = timed(lambda pt: redact_text(pt[1], find_pii(pt[1], cfg, str(pt[0])), 0, str(pt[0])), texts)

    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings
    ds_n = min(len(paths), max(50, n // 10))     # detect-secrets is slow: time a prefix, report per file
    ds_paths = [str(p) for p in paths[:ds_n]]
    ds_mb = sum(len(t.encode()) for _, t in texts[:ds_n]) / 1e6
    with default_settings():
        collection = SecretsCollection()
        ds = timed(collection.scan_file, ds_paths)

    rows = [("passthrough (decode/encode)", len(texts), mb, floor),
            ("codecorpus.pii find+redact", len(texts), mb, ours),
            ("detect-secrets 1.5.0 default plugins", ds_n, ds_mb, ds)]
    print(f"{'what':40s} {'files':>6s} {'MB':>7s} {'s':>7s} {'files/s':>9s} {'MB/s':>7s}")
    for name, files, size, secs in rows:
        print(f"{name:40s} {files:6d} {size:7.2f} {secs:7.2f} {files / secs:9.1f} {size / secs:7.2f}")
    print(f"ours / detect-secrets (MB/s): {(mb / ours) / (ds_mb / ds):.0f}x;"
          f" ours / passthrough (MB/s): {(mb / ours) / (mb / floor):.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
