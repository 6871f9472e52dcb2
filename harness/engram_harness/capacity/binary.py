"""Which engramd to profile: the one ``engram serve`` would run, or, when that copy is stripped
(the installed wheel's is), an unstripped build with the same GNU build ID, so perf resolves the
engine's function names. Same code either way: the build ID is a hash of it."""

from __future__ import annotations

from pathlib import Path

_NOTE = b"\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00"  # namesz 4, descsz 20, NT_GNU_BUILD_ID


def build_id(path: Path) -> str | None:
    """The 20-byte GNU build ID of an ELF file (read from its first 64 KiB, where the note lives)."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return None
    i = head.find(_NOTE)
    return head[i + len(_NOTE) : i + len(_NOTE) + 20].hex() if i >= 0 else None


def has_symbols(path: Path) -> bool:
    """Whether the file keeps a symbol table (``.symtab`` in its section names)."""
    try:
        return b".symtab\x00" in Path(path).read_bytes()
    except OSError:
        return False


def profiling_engramd(installed: str | None, search_roots: list[Path]) -> tuple[str | None, str]:
    """(path, note): ``installed`` when it has symbols, else an unstripped engramd with its build ID
    under ``search_roots`` (``<root>/*/engramd``), else ``installed`` with a note that perf will show
    addresses for its frames."""
    if installed is None:
        return None, "no engramd found"
    p = Path(installed)
    if has_symbols(p):
        return installed, f"{installed} (symbols kept)"
    bid = build_id(p)
    for root in search_roots:
        for cand in sorted(root.glob("*/engramd")):
            if cand.resolve() != p.resolve() and build_id(cand) == bid and bid and has_symbols(cand):
                return str(
                    cand
                ), f"{cand}: same build ID {bid[:12]} as the stripped {installed}, with symbols"
    return (
        installed,
        f"{installed} is stripped and no unstripped build with its ID was found: frames show as [engramd]",
    )
