"""Run untrusted Python (a generated solution and its tests) in a sandbox the operating system enforces.

A separate process in new network, mount and PID namespaces (``unshare``; a user namespace too when not
root): no network at all (only a down loopback of its own), every mount read-only except a fresh
temporary working directory, no capabilities left (codecorpus/instruct/jail.py), rlimits on address
space, CPU time and file size, an empty environment, and a wall-clock limit after which the whole
process group is killed. What the machine allows is detected once; when isolation is unavailable,
``require_isolation`` (default) refuses to execute rather than run code unconfined.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from codecorpus.instruct.config import SandboxConfig

log = logging.getLogger(__name__)
JAIL = str(Path(__file__).with_name("jail.py"))

PASSED, FAILED, TIMEOUT, MEMORY, KILLED = "passed", "failed", "timeout", "memory_limit", "killed"


class IsolationUnavailable(RuntimeError):
    """This machine cannot isolate a program (no namespaces); the message says what was tried."""


@dataclass
class Outcome:
    status: str          # passed, failed, timeout, memory_limit, killed
    returncode: int | None
    detail: str          # the last line of stderr, or what stopped the program
    seconds: float
    stdout: str = ""
    stderr: str = ""


def unshare_prefix(user_namespace: bool) -> list[str]:
    prefix = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child"]
    return prefix + (["--user", "--map-root-user"] if user_namespace else [])


@lru_cache(maxsize=None)
def isolation() -> tuple[str, list[str]]:
    """(description, command prefix) of the best isolation this machine allows, or ("none", [])."""
    if shutil.which("unshare") is None:
        return "none (the unshare command is missing)", []
    tried = []
    for user_ns in ([False, True] if os.geteuid() == 0 else [True]):
        prefix = unshare_prefix(user_ns)
        probe = tempfile.mkdtemp(prefix="codecorpus-probe-")
        try:
            done = subprocess.run(prefix + [sys.executable, "-I", JAIL, probe, str(1 << 30), "5", "1024", "1",
                                            "--", "-c", "pass"], capture_output=True, text=True, timeout=30)
            if done.returncode == 0:
                return ("namespaces (net, mount, pid" + (", user" if user_ns else "") + ") + rlimits"), prefix
            tried.append(f"{' '.join(prefix)}: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried.append(f"{' '.join(prefix)}: {exc}")
        finally:
            shutil.rmtree(probe, ignore_errors=True)
    return "none (" + "; ".join(tried) + ")", []


class Sandbox:
    def __init__(self, cfg: SandboxConfig):
        self.cfg = cfg
        self.description, self.prefix = isolation()
        self.isolated = bool(self.prefix)
        if not self.isolated:
            message = (f"sandbox: this machine cannot isolate programs: {self.description}. Network, file "
                       "system and process isolation need unprivileged user namespaces (or root) and unshare "
                       "from util-linux.")
            if cfg.require_isolation:
                raise IsolationUnavailable(message + " Refusing to execute generated code; set "
                                           "instruct.build.execution.sandbox.require_isolation: false to run "
                                           "with rlimits only on a disposable machine.")
            log.warning("%s Running with rlimits only (require_isolation is false).", message)

    def run(self, code: str) -> Outcome:
        """Run ``code`` as main.py in a fresh temporary directory and say how it ended."""
        workdir = tempfile.mkdtemp(prefix="codecorpus-sandbox-")
        try:
            Path(workdir, "main.py").write_text(code, encoding="utf-8")
            return self._run(workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run(self, workdir: str) -> Outcome:
        cfg = self.cfg
        cpu = max(1, int(cfg.time_limit_s + 0.999))
        command = self.prefix + [sys.executable, "-I", JAIL, workdir, str(cfg.memory_mb << 20), str(cpu),
                                 str(cfg.max_output_bytes), "1" if self.isolated else "0", "--", "main.py"]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "PYTHONDONTWRITEBYTECODE": "1"}
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
        timed_out = False
        try:
            out, err = process.communicate(timeout=cfg.time_limit_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)      # the whole group: unshare, the jail, the program
            out, err = process.communicate()
        seconds = time.monotonic() - started
        limit = cfg.max_output_bytes
        stdout, stderr = out[-limit:].decode("utf-8", "replace"), err[-limit:].decode("utf-8", "replace")
        last = (stderr.strip().splitlines() or [""])[-1][:500]
        code = process.returncode
        if timed_out or code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            status, detail = TIMEOUT, f"stopped after {cfg.time_limit_s}s"
        elif code == 0:
            status, detail = PASSED, ""
        elif "MemoryError" in stderr:
            status, detail = MEMORY, f"over {cfg.memory_mb} MB: {last}"
        elif code < 0 or code > 128:
            status, detail = KILLED, f"signal {-code if code < 0 else code - 128} {last}".strip()
        else:
            status, detail = FAILED, last
        return Outcome(status, code, detail, round(seconds, 3), stdout, stderr)
