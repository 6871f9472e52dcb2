"""What a workflow drives: an engine with the in-process API and its Prometheus exposition.

``engine`` is :class:`engram.Engine` in process, or the HTTP client (which mirrors its API) when
a workflow runs against ``engram serve``; ``metrics_text`` returns the ``/metrics`` text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass
class Backend:
    kind: Literal["inprocess", "server"]
    engine: Any
    metrics_text: Callable[[], str]
