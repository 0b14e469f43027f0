"""Drives ``wrk`` (the HTTP load generator) and reads its results as numbers.

A small Lua script sends the access token and, when wrk finishes, prints one
JSON line with the request count, duration, latency percentiles and error
counts; error responses (non-2xx/3xx) are counted so that a run served by the
rate limiter or by 500s cannot pass for a fast one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_MARK = "BENCH_JSON "
_SCRIPT = """
wrk.headers["x-access-token"] = os.getenv("BENCH_TOKEN")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"status_errors":%d,"socket_errors":%d}\\n',
    "BENCH_JSON ", summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


class WrkMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Load:
    threads: int
    connections: int
    seconds: int

    def describe(self) -> str:
        return f"wrk -t{self.threads} -c{self.connections} -d{self.seconds}s --latency"


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    bytes: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    status_errors: int
    socket_errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(
            "wrk, the HTTP load generator, is not installed: "
            "`apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`"
        )
    return path


def run(url: str, token: str, load: Load) -> Result:
    wrk = require_wrk()
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "bench.lua"
        script.write_text(_SCRIPT)
        completed = subprocess.run(
            [
                wrk,
                f"-t{load.threads}",
                f"-c{load.connections}",
                f"-d{load.seconds}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"BENCH_TOKEN": token, "PATH": "/usr/bin:/bin"},
        )
    line = next((line for line in completed.stdout.splitlines() if line.startswith(_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix(_MARK))
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        bytes=data["bytes"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        status_errors=data["status_errors"],
        socket_errors=data["socket_errors"],
    )
