"""`maestro-graph demo --projects N --seed S` as a user runs it: a real process on a SQLite file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maestro_graph.domain.graph import Label
from maestro_graph.settings import Settings
from maestro_graph.store.factory import create_store

EXE = str(Path(sys.executable).parent / "maestro-graph")


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MAESTRO_DATA_DIR": str(tmp_path)}
    return subprocess.run([EXE, "demo", "--store", f"sqlite:///{tmp_path / 'h.db'}", *args], env=env,
                          capture_output=True, text=True, timeout=120)


async def counts(tmp_path: Path, tenant: str) -> dict[Label, int]:
    store = create_store(Settings(data_dir=tmp_path, store_url=f"sqlite:///{tmp_path / 'h.db'}"))
    await store.open()
    try:
        return await store.count_by_label(tenant)
    finally:
        await store.close()


async def test_demo_projects_loads_a_history_with_progress_and_again_changes_nothing(tmp_path):
    done = await asyncio.to_thread(demo, tmp_path, "--projects", "50", "--seed", "3", "--tenant", "hist")
    assert done.returncode == 0, done.stderr
    progress = done.stderr.splitlines()
    assert progress[0].startswith("history: generated 50 projects")
    assert any("nodes" in line and "relationships written" in line for line in progress)
    assert "history loaded into tenant hist: 50 projects" in progress[-1]
    loaded = await counts(tmp_path, "hist")
    assert loaded[Label.PROJECT] == 50 and loaded[Label.PERSON] >= 20

    again = await asyncio.to_thread(demo, tmp_path, "--projects", "50", "--seed", "3", "--tenant", "hist")
    assert again.returncode == 0 and "nothing to do" in again.stderr
    other = await asyncio.to_thread(demo, tmp_path, "--projects", "50", "--seed", "4", "--tenant", "hist")
    assert other.returncode != 0 and "empty tenant" in other.stderr and "Traceback" not in other.stderr
    assert await counts(tmp_path, "hist") == loaded


@pytest.mark.parametrize("args", [("--projects", "0"), ("--projects", "-1"), ("--seed", "3")])
async def test_demo_refuses_a_bad_history_with_a_sentence(tmp_path, args):
    refused = await asyncio.to_thread(demo, tmp_path, *args)
    assert refused.returncode != 0
    assert refused.stderr.startswith("maestro-graph: demo: --") and "Traceback" not in refused.stderr
    assert not (tmp_path / "h.db").exists() or await counts(tmp_path, "default") == {}
