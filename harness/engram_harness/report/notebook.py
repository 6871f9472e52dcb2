"""Execute an analysis notebook against a results directory (``nox -s notebooks``, tests, CI).

Needs nbclient, nbformat and ipykernel (the harness's ``acceptance`` or ``test`` extra); the kernel inherits this process's
environment, which is how the notebook learns which run to load (``ENGRAM_RESULTS_RUN``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def execute_notebook(
    notebook: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    out: str | Path | None = None,
    timeout_s: int = 300,
) -> Path | None:
    """Run every cell of ``notebook`` (working directory: the notebook's folder) with ``env`` added to
    the environment; raise ``nbclient.exceptions.CellExecutionError`` on the first failing cell.
    With ``out``, also save the executed notebook there and return its path."""
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as exc:  # say what is missing and where it comes from
        raise ImportError(
            f"executing notebooks needs nbclient, nbformat and ipykernel: pip install -e './harness[acceptance]' ({exc})"
        ) from exc
    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.update(env or {})  # the kernel process is started with this environment
    try:
        NotebookClient(
            nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if out is None:
        return None
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target
