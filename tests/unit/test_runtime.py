"""The server process's garbage-collector tuning (maestro_graph/runtime.py)."""

import gc

from maestro_graph.runtime import GC_THRESHOLDS, tune_gc


def test_tune_gc_freezes_what_is_alive_and_makes_collections_rarer() -> None:
    before = gc.get_threshold()
    alive = [{"a": [1, 2]} for _ in range(100)]  # containers the collector tracks
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() >= len(alive)
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        gc.set_threshold(*before)
