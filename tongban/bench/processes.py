"""The servers a stage runs (API, dashboards, Dagster's daemon) and their memory.

Each server is a child process in a session of its own, so that stopping it stops its
workers too; its output goes to a log file beside the bench university, named in any error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class BenchError(RuntimeError):
    """A stage cannot run: the message says what is missing or what failed."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(command: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`command` in a session of its own (stopping it stops its children), output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command),
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return 200 <= answer.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


@contextlib.contextmanager
def serving(
    name: str,
    command: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    url: str,
    ready_path: str = "/",
    wait_s: float = 120.0,
) -> Iterator[Server]:
    """Run `command` until the block ends; yields once `url + ready_path` answers."""
    process = start(command, env, log)
    server = Server(name, process, log, url)
    try:
        deadline = time.monotonic() + wait_s
        while not _ready(url + ready_path):
            if process.poll() is not None:
                raise BenchError(f"{name} exited with status {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not answer {url} within {wait_s:.0f} s; see {log}")
            time.sleep(0.2)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (from /proc: gunicorn's workers, Dagster's children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            # The command name may hold spaces and parentheses: the fields follow the last ")".
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 when it is gone)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pss_bytes(pid: int) -> int:
    """Proportional memory of one process: its own pages plus its share of those it shares
    (forked workers share their parent's imported code; RSS counts that in every one)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants, summed."""
    return sum(rss_bytes(p) for p in descendants(pid))


class PeakMemory:
    """Samples a process tree's resident memory every `interval_s` while the block runs."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(self.pid))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(
    command: Sequence[str], env: Mapping[str, str], log: Path
) -> tuple[float, int, int]:
    """Run a command to its end: (seconds, peak resident bytes of its tree, exit status)."""
    started = time.perf_counter()
    process = start(command, env, log)
    try:
        with PeakMemory(process.pid) as memory:
            # wait4 gives the kernel's own high-water mark, which sampling can miss.
            _, raw_status, usage = os.wait4(process.pid, 0)
    except BaseException:
        stop(process)
        raise
    elapsed = time.perf_counter() - started
    status = os.waitstatus_to_exitcode(raw_status)
    process.returncode = status
    return elapsed, max(memory.peak_bytes, usage.ru_maxrss * 1024), status


@contextlib.contextmanager
def running(
    name: str, command: Sequence[str], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process with no address to wait for (a daemon, a traffic generator) until the
    block ends; `check_alive` tells whether it died meanwhile."""
    process = start(command, env, log)
    try:
        yield process
    finally:
        stop(process)


def check_alive(name: str, process: subprocess.Popen[bytes], log: Path) -> None:
    if process.poll() is not None:
        raise BenchError(f"{name} exited with status {process.returncode}; see {log}")
