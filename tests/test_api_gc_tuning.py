"""The API process tunes the cyclic garbage collector before serving (producer_api.serve).

With the default threshold a 50-event request ran young collections, and the objects of the
requests waiting for Kafka were traversed again and again (docs/performance.md, second round).
"""

import gc
from collections.abc import Iterator

import pytest

from producer_api.serve import GC_THRESHOLDS, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_freezes_the_start_objects_and_raises_the_thresholds() -> None:
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] >= 10_000  # above what one 50-event request allocates
    assert gc.get_freeze_count() > 0
    assert gc.isenabled()  # cycles are still collected, only less often
