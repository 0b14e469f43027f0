"""Real ``threatfeed`` processes for the pipeline tests: started, killed (SIGKILL), restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fakeregistry import FakeRegistry

THREATFEED = str(Path(sys.executable).with_name("threatfeed"))


def pipeline_env(
    fake: FakeRegistry, database_url: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    env = {
        **os.environ,
        **fake.env(),
        "THREATFEED_DATABASE_URL": database_url,
        "THREATFEED_DATA_DIR": str(data_dir),
        "THREATFEED_SECRET_KEY": "test-secret",
        "THREATFEED_LEASE_SECONDS": "2",
        "THREATFEED_POLL_SECONDS": "0.2",
    }
    env.update(extra)
    return env


def running(pid: int) -> bool:
    """Whether a process is alive (a zombie has ended, only not been reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Processes:
    """Named ``threatfeed`` subprocesses; logs go to files under ``logs``."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.started = 0

    def start(self, name: str, *args: str) -> None:
        self.started += 1
        log = (self.logs / f"{name}-{self.started}.log").open("wb")
        self.running[name] = subprocess.Popen(
            [THREATFEED, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def kill(self, name: str) -> None:
        """SIGKILL: no handler, no cleanup, whatever the process was doing."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.running.clear()

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.logs.glob("*")))


@contextmanager
def processes(env: dict[str, str], logs: Path) -> Iterator[Processes]:
    logs.mkdir(parents=True, exist_ok=True)
    group = Processes(env, logs)
    try:
        yield group
    finally:
        group.stop_all()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
