"""CPU time of the processes of a run, from /proc: a cost the machine's other load barely moves.

Wall-clock rates on a shared machine drift with whatever else runs; the CPU seconds a
process spends per release do not (much). :class:`CpuMeter` follows a set of processes
(a command and its children, a server's own process, and the PostgreSQL backends
serving them, found by their client's TCP port) and their threads, and remembers the
last CPU time it saw of each, so a backend or a thread that ends between two looks
still counts up to the last one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
POSTGRES_PORT = 5432
Snapshot = dict[str, dict[tuple[int, int], float]]
"""Role -> (pid, tid) -> CPU seconds."""


def _stat(path: str) -> list[str] | None:
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, tid: int | None = None) -> float | None:
    """User plus system CPU of a process (or one of its threads), ``None`` once gone."""
    fields = _stat(f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat")
    return None if fields is None else (int(fields[11]) + int(fields[12])) / TICK


def threads(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(f"/proc/{entry}/stat")) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _client_ports(pids: Iterable[int]) -> set[int]:
    """Local ports of these processes' TCP connections to PostgreSQL."""
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[9] in inodes and int(cols[2].rsplit(":", 1)[1], 16) == POSTGRES_PORT:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def postgres_backends(clients: Iterable[int]) -> list[int]:
    """The PostgreSQL backends whose client is one of these processes (same machine)."""
    ports = _client_ports(clients)
    if not ports:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if command.startswith("postgres: ") and "(" in command:
            port = command.split("(", 1)[1].split(")", 1)[0]
            if port.isdigit() and int(port) in ports:
                found.append(int(entry))
    return found


@dataclass
class CpuMeter:
    """The last CPU time seen of every process and thread of each role, by role."""

    roles: dict[str, Callable[[], list[int]]]
    """Role name -> the pids that play it now (looked up again at every :meth:`look`)."""
    seen: Snapshot = field(default_factory=dict)

    def look(self) -> None:
        for role, pids in self.roles.items():
            mine = self.seen.setdefault(role, {})
            for pid in pids():
                for tid in threads(pid):
                    if (seconds := cpu_seconds(pid, tid)) is not None:
                        mine[(pid, tid)] = seconds

    def snapshot(self) -> Snapshot:
        self.look()
        return {role: dict(values) for role, values in self.seen.items()}


def spent(before: Snapshot, after: Snapshot) -> Snapshot:
    """CPU seconds each thread of each role spent between two snapshots."""
    return {
        role: {key: seconds - before.get(role, {}).get(key, 0.0) for key, seconds in values.items()}
        for role, values in after.items()
    }


def busiest_per_process(threads_spent: dict[tuple[int, int], float]) -> float:
    """The sum over processes of each one's busiest thread (a worker's analysis thread)."""
    busiest: dict[int, float] = {}
    for (pid, _), seconds in threads_spent.items():
        busiest[pid] = max(busiest.get(pid, 0.0), seconds)
    return sum(busiest.values())
