"""spectssp.resources: one rule for parallel tasks and threads, on machines we do not have."""
from __future__ import annotations

import pytest

from spectssp.resources import GB, Machine, Plan, cgroup_memory_limit, plan, this_machine

BIG = Machine(cores=16, memory_bytes=64 * GB)


def test_a_16_core_64_gb_machine_runs_one_task_per_core_on_one_thread():
    assert plan(BIG) == Plan(tasks=16, threads=1)


def test_one_task_gets_every_core():
    assert plan(BIG, tasks=1) == Plan(1, 16)
    assert plan(BIG, tasks=4) == Plan(4, 4)
    assert plan(BIG, tasks=3) == Plan(3, 5)   # cores left over stay idle rather than oversubscribe


def test_threads_override_sets_how_many_tasks_fit():
    assert plan(BIG, threads=2) == Plan(8, 2)
    assert plan(BIG, threads=32) == Plan(1, 32)   # an override is kept as given


def test_memory_caps_the_tasks_and_the_spare_cores_become_threads():
    small = Machine(cores=16, memory_bytes=6 * GB)   # four tasks of 1.5 GB
    assert plan(small) == Plan(4, 4)
    assert plan(small, memory_per_task_gb=3.0) == Plan(2, 8)
    assert plan(Machine(cores=16, memory_bytes=GB // 2)) == Plan(1, 16)   # never zero tasks


def test_overrides_must_not_be_negative():
    with pytest.raises(ValueError):
        plan(BIG, tasks=-1)


def test_cgroup_v2_and_v1_limits(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("8589934592\n")
    assert cgroup_memory_limit(v2) == 8 * GB
    (v2 / "memory.max").write_text("max\n")
    assert cgroup_memory_limit(v2) is None
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")   # v1's "no limit"
    assert cgroup_memory_limit(tmp_path / "v1") is None
    (v1 / "memory.limit_in_bytes").write_text(str(4 * GB))
    assert cgroup_memory_limit(tmp_path / "v1") == 4 * GB
    assert cgroup_memory_limit(tmp_path / "none") is None


def test_this_machine_reads_affinity_and_the_lower_of_cgroup_and_ram(tmp_path):
    (tmp_path / "memory.max").write_text(str(8 * GB))
    m = this_machine(affinity=set(range(16)), cgroup_root=tmp_path, total_memory=64 * GB)
    assert m == Machine(16, 8 * GB)
    assert plan(m) == Plan(5, 3)
    unlimited = this_machine(affinity=set(range(16)), cgroup_root=tmp_path / "none", total_memory=64 * GB)
    assert plan(unlimited) == Plan(16, 1)
    real = this_machine()
    assert real.cores >= 1 and real.memory_bytes > 0
