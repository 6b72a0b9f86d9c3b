"""An OpenAI-compatible chat completions server on loopback for the tests and the benchmark.

Replies are built deterministically from the request: the seed snippet in the user message and the
request's ``seed`` choose the kind of reply (request seed mod 12): a malformed body, a reply without
[Solution], sections out of order, finish_reason "length", a 429 or a 500 before the real answer, a slow
answer, a solution whose tests fail, a reworded HumanEval problem, a verbatim HumanEval docstring; the
rest are good replies whose Python solution embeds the snippet and whose tests pass.
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from codecorpus.filters.decontaminate import extract_docstring
from codecorpus.instruct.similarity import humaneval_problems

MALFORMED, NO_SOLUTION, FINISH_LENGTH, RATE_LIMITED, SERVER_ERROR, SLOW, FAILING_TESTS, REWORDED, VERBATIM, \
    OUT_OF_ORDER = range(10)
_SNIPPET = re.compile(r"inspiration:\n```(\w*)\n(.*?)\n```\n", re.DOTALL)
REWORDS = {"return": "give back", "list": "sequence", "given": "provided", "numbers": "values",
           "number": "value", "string": "text", "check": "verify", "if": "whether"}


def reword(text: str) -> str:
    return re.sub(r"\b(\w+)\b", lambda m: REWORDS.get(m.group(1).lower(), m.group(1)), text)


def good_reply(language: str, snippet: str, failing: bool) -> str:
    n = len(snippet.splitlines())
    if language != "python":
        return (f"[Problem Description]\nWrite a program that prints the {n} lines of this {language or 'text'} "
                f"code.\n```{language}\n{snippet}\n```\n\n[Solution]\n```{language}\n{snippet}\n```\n")
    expected = n + 1 if failing else n
    return (f"[Problem Description]\nWrite a function `snippet_lines()` returning the {n} lines of the code below "
            f"as a list of strings.\n```python\n{snippet}\n```\n\n[Solution]\n```python\nSNIPPET = {snippet!r}\n\n"
            f"def snippet_lines():\n    return SNIPPET.splitlines()\n```\n\n[Tests]\n```python\n"
            f"assert snippet_lines() == SNIPPET.splitlines()\nassert len(snippet_lines()) == {expected}\n```\n")


def humaneval_reply(seed: int, verbatim: bool) -> str:
    task_id, text = humaneval_problems()[seed % 164]
    docstring = extract_docstring(text) or text
    if verbatim:
        return f"[Problem Description]\n{docstring}\n\n[Solution]\n```python\n{text}\n```\n"
    code = re.sub(r"\b(\w+)\b", lambda m: m.group(1) + "_" if len(m.group(1)) > 2 and m.group(1).isidentifier()
                  and m.group(1) not in ("def", "return", "for", "and", "not", "None", "True", "False", "else",
                                         "elif", "range", "len", "int", "str", "list") else m.group(1), text)
    return f"[Problem Description]\n{reword(docstring)}\n\n[Solution]\n```python\n{code}\n```\n"


class Handler(BaseHTTPRequestHandler):
    server: "OpenAIServer"

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        with srv.lock:
            srv.received.append(request["seed"])
            srv.authorizations.add(self.headers.get("Authorization"))
            attempt = srv.attempts[request["seed"]] = srv.attempts.get(request["seed"], 0) + 1
        if srv.latency:
            time.sleep(srv.latency)
        if srv.fixed_reply:
            return self._send(200, json.dumps(completion(request, srv.fixed_reply, "stop")).encode())
        kind = request["seed"] % 12
        match = _SNIPPET.search(request["messages"][-1]["content"])
        language, snippet = match.groups() if match else ("", "")
        if kind == RATE_LIMITED and attempt == 1:
            return self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "0.01"})
        if kind == SERVER_ERROR and attempt == 1:
            return self._send(500, b'{"error": {"message": "overloaded"}}')
        if kind == SLOW:
            time.sleep(0.2)
        if kind == MALFORMED:
            return self._send(200, b'{"choices": [{"message": ')
        finish = "length" if kind == FINISH_LENGTH else "stop"
        if kind in (REWORDED, VERBATIM):
            text = humaneval_reply(request["seed"], kind == VERBATIM)
        else:
            text = good_reply(language, snippet, kind == FAILING_TESTS)
        if kind == NO_SOLUTION:
            text = text.split("[Solution]")[0]
        if kind == OUT_OF_ORDER:
            problem, rest = text.split("[Solution]", 1)
            text = "[Solution]" + rest + "\n" + problem
        self._send(200, json.dumps(completion(request, text, finish)).encode(), {"x-request-id": f"req-{request['seed']}"})


def completion(request: dict, text: str, finish: str) -> dict:
    prompt = sum(len(m["content"].split()) for m in request["messages"])
    return {"id": f"chatcmpl-{request['seed']}", "object": "chat.completion", "model": request["model"],
            "system_fingerprint": "fp_loopback", "created": 0,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(text.split()),
                      "total_tokens": prompt + len(text.split())}}


class OpenAIServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, latency: float = 0.0, fixed_reply: str | None = None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.latency, self.fixed_reply = latency, fixed_reply
        self.lock = threading.Lock()
        self.received: list[int] = []
        self.attempts: dict[int, int] = {}
        self.authorizations: set = set()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()
