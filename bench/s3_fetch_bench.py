"""Blob fetch throughput: codecorpus's BlobFetcher at its default concurrency against a plain
sequential `get_object` loop, in the same run, on a loopback S3 (moto's server) behind a proxy adding
a fixed latency to every request, so the figures measure concurrency rather than CPU. Then the same
with 10% of requests throttled (503 SlowDown), where the baseline and a 32-thread boto3 pool in
botocore's adaptive retry mode get botocore's retries.

moto and the proxy each run in their own process; blobs are real files of the small sample corpus.

    .venv/bin/python bench/s3_fetch_bench.py --blobs 600 --baseline-blobs 100
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

from codecorpus.s3.config import S3Config
from codecorpus.s3.fetch import BlobFetcher
from codecorpus.sources.sample import build_sample

BUCKET = "softwareheritage"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def start_proxy(upstream: str, latency: float, throttle: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "codecorpus.s3.loopback", "--upstream", upstream,
                             "--latency", str(latency), "--throttle", str(throttle)], stdout=subprocess.PIPE, text=True)
    return proc, f"http://127.0.0.1:{proc.stdout.readline().strip()}"


def load_blobs(endpoint: str, n: int) -> list[tuple[str, int]]:
    root = build_sample("small", progress=lambda m: None) / "repos"
    client = boto3.client("s3", endpoint_url=f"http://{endpoint}", region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    blobs = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.stat().st_size < 1 << 20):
        data = path.read_bytes()
        blob_id = hashlib.sha1(data).hexdigest()
        if blob_id not in blobs:
            client.put_object(Bucket=BUCKET, Key=f"content/{blob_id}", Body=gzip.compress(data, mtime=0))
            blobs[blob_id] = len(data)
        if len(blobs) >= n:
            break
    return list(blobs.items())


def plain_client(endpoint: str, mode: str, attempts: int, pool: int = 10):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench",
                        config=Config(retries={"mode": mode, "total_max_attempts": attempts}, max_pool_connections=pool,
                                      s3={"addressing_style": "path"}))


def get_plain(client, blob_id: str) -> int:
    body = client.get_object(Bucket=BUCKET, Key=f"content/{blob_id}")["Body"].read()
    return len(gzip.decompress(body))


def measure(label: str, blobs: list[tuple[str, int]], fetch) -> dict:
    started = time.perf_counter()
    decoded, failed = fetch(blobs)
    seconds = time.perf_counter() - started
    return {"method": label, "blobs": len(blobs), "failed": failed, "seconds": round(seconds, 2),
            "blobs_per_s": round(len(blobs) / seconds, 1), "mb_per_s": round(decoded / seconds / 1e6, 3)}


def sequential(client):
    def run(blobs):
        decoded = failed = 0
        for blob_id, _ in blobs:
            try:
                decoded += get_plain(client, blob_id)
            except Exception:          # noqa: BLE001 - counted, as a loop of get_object would see it
                failed += 1
        return decoded, failed
    return run


def threaded_adaptive(client, threads: int):
    def run(blobs):
        def one(blob_id):
            try:
                return get_plain(client, blob_id), 0
            except Exception:          # noqa: BLE001
                return 0, 1
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(one, [b for b, _ in blobs]))
        return sum(r[0] for r in results), sum(r[1] for r in results)
    return run


def fetcher(endpoint: str):
    cfg = S3Config(endpoint_url=endpoint, region="us-east-1", anonymous=True)   # the defaults otherwise

    def run(blobs):
        results = BlobFetcher(cfg, BUCKET).fetch(b for b, _ in blobs)
        return sum(len(r.data) for r in results.values() if r.data), sum(1 for r in results.values() if r.rule)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blobs", type=int, default=600)
    parser.add_argument("--baseline-blobs", type=int, default=100, help="the sequential loop reads this many")
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    moto, upstream = start_moto()
    procs = [moto]
    try:
        blobs = load_blobs(upstream, args.blobs)
        print(f"{len(blobs)} blobs, {sum(s for _, s in blobs) / 1e6:.2f} MB decoded; "
              f"default concurrency {S3Config().concurrency}; latency {args.latency * 1000:.0f} ms per request")
        rows = []
        for throttle in (0.0, 0.1):
            proxy, endpoint = start_proxy(upstream, args.latency, throttle)
            procs.append(proxy)
            attempts = 8 if throttle else 1
            base = measure("sequential get_object" + (" (standard retries)" if throttle else ""),
                           blobs[: args.baseline_blobs], sequential(plain_client(endpoint, "standard", attempts)))
            ours = measure("BlobFetcher", blobs, fetcher(endpoint))
            group = [base, ours]
            if throttle:
                group.append(measure("32 threads, boto3 adaptive retries", blobs,
                                     threaded_adaptive(plain_client(endpoint, "adaptive", 8, 32), 32)))
            for row in group:
                row.update(throttle=throttle, x_sequential=round(row["blobs_per_s"] / base["blobs_per_s"], 1))
                rows.append(row)
            proxy.terminate()
        print("| throttled | method | blobs | failed | s | blobs/s | MB/s | x sequential |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['throttle']:.0%} | {r['method']} | {r['blobs']} | {r['failed']} | {r['seconds']} | "
                  f"{r['blobs_per_s']} | {r['mb_per_s']} | {r['x_sequential']} |")
        print(json.dumps(rows))
    finally:
        for proc in procs:
            proc.terminate()


if __name__ == "__main__":
    main()
