"""API versions for the clients (docs/api-versions.md): which version a client speaks, the path a
call takes in it, the cursor pages of v2's lists, and telling the user, once per route, when the
server answers that a route is deprecated (RFC 9745 ``Deprecation``, RFC 8594 ``Sunset``)."""

from __future__ import annotations

import os
import re
import sys
import threading
import warnings
from collections.abc import Mapping
from typing import Literal

from engram.client.calls import API, Call

ApiVersion = Literal["v1", "v2"]
API_VERSIONS: tuple[ApiVersion, ...] = ("v1", "v2")
#: What a client speaks unless told otherwise: the newest version.
DEFAULT_API_VERSION: ApiVersion = "v2"
#: Lists of v2 come in pages of at most this many items; the clients follow the cursors.
PAGE_LIMIT = 1000
#: Bound on the pages one list call follows (a server that never ends its list is a bug).
MAX_PAGES = 100_000

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def check_api_version(version: str) -> ApiVersion:
    if version not in API_VERSIONS:
        raise ValueError(f"api_version={version!r}; expected one of {', '.join(API_VERSIONS)}")
    return version  # type: ignore[return-value]


def versioned(path: str, version: ApiVersion) -> str:
    """``path`` (written for v1, as calls.py writes every path) in ``version``."""
    if version != "v1" and path.startswith(API + "/"):
        return f"/api/{version}/" + path[len(API) + 1 :]
    return path


def route_of(method: str, path: str) -> str:
    """A path's route: the space and the ids as placeholders (warnings are per route)."""
    route = re.sub(r"/spaces/[^/?]+", "/spaces/{space}", path.split("?", 1)[0])
    return f"{method} {re.sub(r'/-?[0-9]+(?=/|$)', '/{id}', route)}"


def warn_if_deprecated(method: str, path: str, headers: Mapping[str, str]) -> None:
    """A :class:`DeprecationWarning` the first time a route answers ``Deprecation``."""
    if "deprecation" not in headers:
        return
    route = route_of(method, path)
    with _warned_lock:
        if (route, headers["deprecation"]) in _warned:
            return
        _warned.add((route, headers["deprecation"]))
    sunset = headers.get("sunset")
    link = headers.get("link", "")
    notes = link[link.find("<") + 1 : link.find(">")] if "<" in link and ">" in link else None
    warnings.warn(
        f"the server deprecates {route}"
        + (f" (sunset {sunset})" if sunset else "")
        + (f"; migration notes at {notes}" if notes else "")
        + "; a newer API version serves it (Client(api_version='v2'))",
        DeprecationWarning,
        stacklevel=_user_level(),
    )


def _user_level() -> int:
    """The stacklevel of the first caller outside this package (the line the warning names)."""
    frame = sys._getframe(2)  # warn_if_deprecated's caller
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):  # bounded by the stack
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def page(call: Call, cursor: str | None) -> Call:
    """The call for one page of a v2 list (its first when ``cursor`` is None), answered raw."""
    sep = "&" if "?" in call.path else "?"
    query = f"limit={PAGE_LIMIT}" + (f"&cursor={cursor}" if cursor else "")
    return Call(call.method, f"{call.path}{sep}{query}", lambda d: d, call.body, call.headers, call.safe)


def merged(call: Call, pages: list[dict[str, object]]) -> dict[str, object]:
    """The pages of a list as one answer, the shape of v1's."""
    assert call.page_key is not None
    items: list[object] = []
    for p in pages:
        items.extend(p[call.page_key])  # type: ignore[arg-type]
    return {**pages[-1], call.page_key: items, "next_cursor": None}
