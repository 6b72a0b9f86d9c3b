"""Send batch request lines to any OpenAI-compatible chat endpoint (vLLM, TGI, OpenAI...).

Bounded concurrency (a fixed pool of workers), an optional requests-per-minute limit, retries with
exponential backoff and jitter on 429, 5xx, timeouts and connection errors (a server's Retry-After
wins), and resume: every answered request is appended to ``responses.jsonl`` at once, and a later run
skips the ids found there, so an answered request is never sent twice. Output lines have the OpenAI
Batch API's output format, so `build` reads ours, OpenAI's and vLLM ``run_batch``'s alike.

The API key is read from the environment variable the config names; it is sent in the Authorization
header only and scrubbed from anything written (error texts included).
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import aiohttp

from codecorpus.instruct.config import GenerateConfig

RESPONSES = "responses.jsonl"
ERRORS = "errors.jsonl"
RETRYABLE = {408, 409, 429, 500, 502, 503, 504}


class AuthError(RuntimeError):
    """The endpoint refused the credentials: every further request would fail too."""


@dataclass
class Session:
    """What one `generate` call did (the totals over all calls are recomputed from responses.jsonl)."""
    skipped_done: int = 0
    sent: int = 0
    answered: int = 0
    failed: int = 0
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def done_ids(path: Path) -> set[str]:
    """custom_ids already answered. A line cut short by a kill is removed first."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    ids = set()
    for line in data.decode("utf-8").splitlines():
        try:
            ids.add(json.loads(line)["custom_id"])
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def request_lines(files: list[Path]) -> Iterator[dict]:
    for path in files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


class RateLimit:
    """At most ``per_minute`` starts per minute, evenly spaced."""

    def __init__(self, per_minute: float | None):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.next_start = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        await asyncio.sleep(start - now)


class Generator:
    def __init__(self, cfg: GenerateConfig, out_dir: Path, progress: Callable[[str], None] = print):
        self.cfg = cfg
        self.out_dir = out_dir
        self.progress = progress
        self.key = os.environ.get(cfg.api_key_env) or None
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self.session_stats = Session()
        self.rate = None
        self.fatal: AuthError | None = None

    def scrub(self, text: str) -> str:
        return text.replace(self.key, "***") if self.key else text

    def _write(self, fh, record: dict) -> None:
        fh.write(self.scrub(json.dumps(record, ensure_ascii=False)) + "\n")
        fh.flush()

    def _count(self, status: str) -> None:
        self.session_stats.statuses[status] = self.session_stats.statuses.get(status, 0) + 1

    async def _send(self, http: aiohttp.ClientSession, request: dict) -> tuple[dict | None, dict | None]:
        """(response record, None) when answered; (None, error record) when it finally failed."""
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        attempt, error = 0, None
        while True:
            await self.rate.wait()
            retry_after = None
            try:
                async with http.post(self.url, json=request["body"], headers=headers) as reply:
                    text = await reply.text()
                    self._count(str(reply.status))
                    if reply.status == 200:
                        try:
                            body, error = json.loads(text), None
                        except ValueError:
                            body, error = None, {"code": "invalid_json", "message": text[:2000]}
                        return {"id": f"batch_req_{request['custom_id']}", "custom_id": request["custom_id"],
                                "response": {"status_code": 200, "request_id": reply.headers.get("x-request-id", ""),
                                             "body": body}, "error": error}, None
                    error = {"code": str(reply.status), "message": text[:2000]}
                    if reply.status in (401, 403):
                        raise AuthError(f"{self.url} answered {reply.status}: check the key in ${self.cfg.api_key_env}")
                    if reply.status not in RETRYABLE:
                        break
                    retry_after = reply.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self._count(type(exc).__name__)
                error = {"code": type(exc).__name__, "message": str(exc)[:2000]}
            if attempt >= self.cfg.max_retries:
                break
            attempt += 1
            self.session_stats.retries += 1
            await asyncio.sleep(self._delay(attempt, retry_after))
        return None, {"custom_id": request["custom_id"], "error": error, "attempts": attempt + 1}

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.cfg.max_backoff_s)
            except ValueError:
                pass
        return min(self.cfg.backoff_s * 2 ** (attempt - 1), self.cfg.max_backoff_s) * random.uniform(0.5, 1.0)

    async def run(self, files: list[Path]) -> Session:
        started = time.monotonic()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        done = done_ids(self.out_dir / RESPONSES)
        self.rate = RateLimit(self.cfg.requests_per_minute)
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.cfg.concurrency * 2)
        timeout = aiohttp.ClientTimeout(total=self.cfg.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.cfg.concurrency)
        with open(self.out_dir / RESPONSES, "a", encoding="utf-8") as answers, \
                open(self.out_dir / ERRORS, "a", encoding="utf-8") as errors:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
                async def worker():
                    while (request := await queue.get()) is not None:
                        if self.fatal:
                            continue      # drain the queue so the feeder never blocks
                        self.session_stats.sent += 1
                        try:
                            record, error = await self._send(http, request)
                        except AuthError as exc:
                            self.fatal = exc
                            continue
                        if record:
                            self._write(answers, record)
                            self.session_stats.answered += 1
                        else:
                            self._write(errors, error)
                            self.session_stats.failed += 1
                        if (self.session_stats.answered + self.session_stats.failed) % 1000 == 0:
                            self.progress(f"[generate] {self.session_stats.answered} answered, "
                                          f"{self.session_stats.failed} failed")

                workers = [asyncio.create_task(worker()) for _ in range(self.cfg.concurrency)]
                for request in request_lines(files):
                    if self.fatal:
                        break
                    if request["custom_id"] in done:
                        self.session_stats.skipped_done += 1
                        continue
                    done.add(request["custom_id"])
                    await queue.put(request)
                for _ in workers:
                    await queue.put(None)
                await asyncio.gather(*workers)
        if self.fatal:
            raise self.fatal
        self.session_stats.seconds = round(time.monotonic() - started, 3)
        return self.session_stats


def totals(out_dir: Path, cfg: GenerateConfig) -> dict:
    """Token and cost accounting over every answered request in responses.jsonl."""
    prompt = completion = answered = 0
    path = out_dir / RESPONSES
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                usage = (json.loads(line)["response"]["body"] or {}).get("usage") or {}
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            answered += 1
            prompt += int(usage.get("prompt_tokens") or 0)
            completion += int(usage.get("completion_tokens") or 0)
    cost = prompt / 1e6 * cfg.input_price_per_mtok + completion / 1e6 * cfg.output_price_per_mtok
    return {"answered": answered, "prompt_tokens": prompt, "completion_tokens": completion,
            "estimated_cost": round(cost, 6)}


def generate(files: list[Path], out_dir: Path, cfg: GenerateConfig, progress: Callable[[str], None] = print) -> dict:
    """Send every request of ``files`` not yet answered; write generate.json and return it."""
    generator = Generator(cfg, out_dir, progress)
    session = asyncio.run(generator.run(files))
    report = {"endpoint": generator.url, "this_run": asdict(session), "total": totals(out_dir, cfg)}
    (out_dir / "generate.json").write_text(json.dumps(report, indent=1, sort_keys=True))
    return report
