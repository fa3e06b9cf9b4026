"""ROO_GC_FREEZE: the start-up heap is moved out of the garbage collector's sight once the
service has started, and put back when it stops."""

from __future__ import annotations

import gc

from roo.app import create_app
from roo.config import Settings
from tests.conftest import started


async def test_the_start_up_heap_is_frozen_while_the_service_runs(settings: Settings) -> None:
    assert gc.get_freeze_count() == 0
    async with started(create_app(settings.model_copy(update={"gc_freeze": True}))):
        # the app, its routes and schemas, the modules: tens of thousands of objects
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


async def test_nothing_is_frozen_when_turned_off(settings: Settings) -> None:
    async with started(create_app(settings.model_copy(update={"gc_freeze": False}))):
        assert gc.get_freeze_count() == 0
