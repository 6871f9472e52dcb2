"""The imported build says what it is, and only the test build carries the fault API
(docs/faults.md). That a release build carries none of it is checked on the release wheel, in
tests/packaging/test_wheel.py."""

from __future__ import annotations

from engram import _core


def test_this_build_says_what_it_is() -> None:
    info = _core.build_info()
    assert info.flavour in ("release", "test")
    assert info.fault_injection == (info.flavour == "test") == hasattr(_core, "faults")
