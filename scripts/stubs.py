"""Type stubs of ``engram._core``: generate them, or check the checked-in ones.

``python scripts/stubs.py`` writes ``engram/_core.pyi`` from the installed extension with
pybind11-stubgen, then lints and formats it with ruff so the repository's own checks pass on it.
``python scripts/stubs.py --check`` generates the same way into a temporary folder and exits 1,
printing a diff, when the checked-in file differs: the stubs cannot drift from the bindings.
Needs a release build of ``engram`` installed (the test build adds the ``faults`` submodule),
``pybind11-stubgen`` and ``ruff``; tests/packaging/test_wheel.py runs the check on the release wheel.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "engram" / "_core.pyi"


def generate() -> str:
    """The stub text for the installed extension, linted and formatted as the repository wants."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [sys.executable, "-m", "pybind11_stubgen", "engram._core", "--exit-code", "-o", out],
            check=True,
            cwd=out,  # import the installed engram, not a checkout's sources by accident
        )
        text = (Path(out) / "engram" / "_core.pyi").read_text(encoding="utf-8")
    name = str(STUB.relative_to(ROOT))
    for ruff in (["check", "--fix-only", "--exit-zero"], ["format"]):
        text = subprocess.run(
            ["ruff", *ruff, "--stdin-filename", name, "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when engram/_core.pyi is out of date")
    args = parser.parse_args()
    text = generate()
    if not args.check:
        STUB.write_text(text, encoding="utf-8")
        print(f"wrote {STUB.relative_to(ROOT)}")
        return 0
    current = STUB.read_text(encoding="utf-8") if STUB.exists() else ""
    if current == text:
        print(f"{STUB.relative_to(ROOT)} matches the extension")
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(
            current.splitlines(keepends=True), text.splitlines(keepends=True), "checked in", "generated"
        )
    )
    print(f"\n{STUB.relative_to(ROOT)} is out of date: run `python scripts/stubs.py` and commit it")
    return 1


if __name__ == "__main__":
    sys.exit(main())
