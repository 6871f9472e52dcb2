from __future__ import annotations

from collections.abc import Callable

import pytest
from workload_helpers import make

from engram_harness.scenarios import Scenario


@pytest.fixture
def scenario_factory() -> Callable[..., Scenario]:
    return make
