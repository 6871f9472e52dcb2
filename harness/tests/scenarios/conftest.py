from __future__ import annotations

from collections.abc import Callable

import pytest
from engram_harness.scenarios import Scenario
from workload_helpers import make


@pytest.fixture
def scenario_factory() -> Callable[..., Scenario]:
    return make
