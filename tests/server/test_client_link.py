"""The client's view of its link (engram.client.LinkHealth): a partition is suspected, logged and
counted after consecutive transport failures, and its end logged at the next answer."""

from __future__ import annotations

import logging

import httpx
import pytest

from engram.client import Client, LinkHealth, RetryPolicy
from engram.client.errors import RemoteError


def test_three_failures_in_a_row_suspect_a_partition_once(caplog: pytest.LogCaptureFixture) -> None:
    h = LinkHealth("http://server", threshold=3)
    caplog.set_level(logging.INFO, logger="engram.client")
    h.failure(TimeoutError("1"))
    h.answered()  # an answer resets the run
    h.failure(TimeoutError("2"))
    h.failure(TimeoutError("3"))
    assert not h.suspected and h.partitions_suspected == 0
    h.failure(TimeoutError("4"))
    h.failure(TimeoutError("5"))  # still the same partition
    assert h.suspected and h.partitions_suspected == 1 and h.transport_failures == 5
    h.answered()
    assert not h.suspected and h.snapshot()["consecutive_failures"] == 0
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("partition suspected: 3 consecutive requests to http://server" in m for m in msgs) == 1
    assert sum(m.startswith("partition healed: http://server answers again after") for m in msgs) == 1
    with pytest.raises(ValueError, match="threshold must be at least 1"):
        LinkHealth("http://server", threshold=0)


def test_the_client_reports_its_link(caplog: pytest.LogCaptureFixture) -> None:
    answer = {"up": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if not answer["up"]:
            raise httpx.ConnectTimeout("no route", request=request)
        return httpx.Response(
            404, json={"error": {"code": "space_not_found", "message": "no", "status": 404}}
        )

    caplog.set_level(logging.INFO, logger="engram.client")
    with Client("http://server", retry=RetryPolicy(attempts=1), transport=httpx.MockTransport(handler)) as c:
        for _ in range(4):
            with pytest.raises(RemoteError):
                c.spaces()
        assert c.link.suspected and c.link.partitions_suspected == 1
        answer["up"] = True
        with pytest.raises(RemoteError):  # an error status is still an answer: the link is back
            c.space("nope")
        assert not c.link.suspected and c.link.transport_failures == 4
    assert any("partition healed" in r.getMessage() for r in caplog.records)
