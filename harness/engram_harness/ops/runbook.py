"""The runbooks of ``docs/operations/`` as data, so tests can follow them as written.

A runbook is Markdown with, in order: a ``# title``; ``**Alerts:**`` naming the alerts (in
backticks) that send an on-call engineer there, or ``none``; ``**Resolves within:** N minutes``
(or seconds, or ``-`` for a checklist); sections ``## Look``, ``## What it means``, ``## Fix`` and
``## Verify``. Commands are the ``$ `` lines of ``console`` blocks (``sh`` blocks are
illustrations: not run); a line ``Expect: `REGEX` `` after a section's commands is what their output
shows (Look: the stated diagnosis; Verify: the fix held).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SECTIONS = ("Look", "What it means", "Fix", "Verify")


class RunbookError(ValueError):
    """A runbook does not follow the format (the message names the file and what is missing)."""


@dataclass
class Section:
    commands: list[str] = field(default_factory=list)
    expect: str | None = None


@dataclass
class Runbook:
    path: Path
    title: str
    alerts: list[str]
    resolves_s: float | None  # None: a checklist, no alert to clear
    sections: dict[str, Section]

    @property
    def name(self) -> str:
        return self.path.stem

    def commands(self, section: str) -> list[str]:
        return self.sections[section].commands


def _seconds(text: str, path: Path) -> float | None:
    text = text.strip()
    if text.startswith("-"):
        return None
    m = re.match(r"(\d+(?:\.\d+)?)\s*(second|minute|hour)s?", text)
    if not m:
        raise RunbookError(
            f"{path}: 'Resolves within:' must start with N seconds|minutes|hours or '-'; got {text!r}"
        )
    return float(m.group(1)) * {"second": 1, "minute": 60, "hour": 3600}[m.group(2)]


def parse(path: Path) -> Runbook:
    text = path.read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", text, re.M)
    alerts = re.search(r"^\*\*Alerts:\*\*(.*)$", text, re.M)
    resolves = re.search(r"^\*\*Resolves within:\*\*(.*)$", text, re.M)
    if not (title and alerts and resolves):
        raise RunbookError(
            f"{path}: needs a '# title', an '**Alerts:**' line and a '**Resolves within:**' line"
        )
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    sections: dict[str, Section] = {}
    for part in parts:
        head, _, body = part.partition("\n")
        head = head.strip()
        sec = Section()
        for lang, block in FENCE.findall(body):
            if lang == "console":
                sec.commands += [ln[2:] for ln in block.splitlines() if ln.startswith("$ ")]
        m = re.search(r"^Expect: `(.+)`\s*$", body, re.M)
        if m:
            re.compile(m.group(1))
            sec.expect = m.group(1)
        sections[head] = sec
    missing = [s for s in SECTIONS if s not in sections]
    if missing:
        raise RunbookError(f"{path}: sections missing: {', '.join(missing)}")
    for s in ("Look", "Verify"):
        if not sections[s].commands or sections[s].expect is None:
            raise RunbookError(f"{path}: '## {s}' needs console commands and an 'Expect: `regex`' line")
    return Runbook(path, title.group(1).strip(), re.findall(r"`(\w+)`", alerts.group(1)),
                   _seconds(resolves.group(1), path), sections)  # fmt: skip


def load_all(directory: Path) -> list[Runbook]:
    return [parse(p) for p in sorted(directory.glob("*.md")) if p.name != "README.md"]
