"""How many tasks run at once, and on how many threads each: one rule for every caller.

The daemon's workers (``daemon.workers: 0``), ``spectssp batch``'s local cluster,
``spectssp process`` (one task) and training all ask :func:`plan`. It is a pure function of
the machine's facts (:class:`Machine`: the cores this process may run on and the memory it may
use), so it is tested with any machine; :func:`this_machine` reads the facts, cgroup-aware: a
container limited to 4 cores and 8 GB gets 4 and 8, not the host's 64 and 512.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

GB = 1024 ** 3
# One series' working set (volume, registration, SSP, model), peak resident memory with
# margin: the daemon sized its workers by this before the rule was shared.
MEMORY_PER_TASK_GB = 1.5


@dataclass(frozen=True)
class Machine:
    """What this process may use: cores (CPU affinity) and memory (cgroup limit, else RAM)."""

    cores: int
    memory_bytes: int

    @property
    def memory_gb(self) -> float:
        return self.memory_bytes / GB


@dataclass(frozen=True)
class Plan:
    """``tasks`` run in parallel, each with ``threads`` threads (ITK, torch)."""

    tasks: int
    threads: int


def plan(machine: Machine, *, tasks: int = 0, threads: int = 0,
         memory_per_task_gb: float = MEMORY_PER_TASK_GB) -> Plan:
    """Parallel tasks and threads per task; 0 means "from the machine", a positive value is an
    override that is kept as given.

    Throughput first: registration scales sublinearly with threads, so with enough memory
    every core runs its own task on one thread; memory caps the tasks (each needs
    ``memory_per_task_gb``) and the cores left over go to the tasks as threads.
    """
    if tasks < 0 or threads < 0:
        raise ValueError("tasks and threads must be 0 (from the machine) or positive")
    cores = max(1, machine.cores)
    by_memory = max(1, int(machine.memory_gb // memory_per_task_gb))
    if not tasks:
        tasks = max(1, min(cores // (threads or 1), by_memory))
    if not threads:
        threads = max(1, cores // tasks)
    return Plan(tasks, threads)


def this_machine(*, affinity: set[int] | None = None, cgroup_root: Path = Path("/sys/fs/cgroup"),
                 total_memory: int | None = None) -> Machine:
    """The facts :func:`plan` needs, read from this process (arguments replace a fact, for tests)."""
    if affinity is None:
        try:
            affinity = os.sched_getaffinity(0)
        except AttributeError:   # not Linux
            affinity = set(range(os.cpu_count() or 1))
    total = psutil.virtual_memory().total if total_memory is None else total_memory
    limit = cgroup_memory_limit(cgroup_root)
    return Machine(max(1, len(affinity)), min(total, limit) if limit else total)


def cgroup_memory_limit(root: Path) -> int | None:
    """The cgroup's memory limit in bytes (v2 ``memory.max``, else v1), or None when unlimited."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text == "max" or not text.isdigit():
            return None
        value = int(text)
        return value if value < 1 << 60 else None   # v1 writes a huge number for "no limit"
    return None


def threads_for_one_task(threads: int = 0) -> int:
    """Threads for a process that runs one task at a time (``process``, training): all cores
    unless ``threads`` says otherwise."""
    return plan(this_machine(), tasks=1, threads=threads).threads
