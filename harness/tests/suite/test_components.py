"""A missing component fails under CI and skips elsewhere, naming what to install."""

from __future__ import annotations

import pytest

from engram_harness.suite import missing_component, require_modules


def test_missing_component_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="install libfoo"):
        missing_component("needs libfoo: install libfoo")


def test_missing_component_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install libfoo"):
        missing_component("needs libfoo: install libfoo")


def test_require_modules_names_the_module_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    require_modules("json", "math")  # present: nothing happens
    with pytest.raises(pytest.fail.Exception, match=r"no_such_module_xyz .*engram-harness\[bench\]"):
        require_modules("json", "no_such_module_xyz")
