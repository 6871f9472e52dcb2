"""A small SVG flame graph renderer for folded stacks (``a;b;c count``), in the layout of Brendan
Gregg's flamegraph.pl: root at the bottom, width proportional to samples, a tooltip per frame.

Written here because no maintained renderer is packaged for this environment (Debian has no
``flamegraph`` package; py-spy renders only Python processes; inferno needs cargo). Frames under
``min_width_px`` are dropped, as flamegraph.pl does, so large profiles stay small.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from html import escape
from pathlib import Path


class _Node:
    __slots__ = ("children", "count", "name")

    def __init__(self, name: str) -> None:
        self.name, self.count, self.children = name, 0, {}


def _tree(folded: Mapping[str, int]) -> _Node:
    root = _Node("all")
    for stack, n in folded.items():
        if n <= 0:
            continue
        root.count += n
        node = root
        for frame in stack.split(";"):
            node = node.children.setdefault(frame, _Node(frame))
            node.count += n
    return root


def _colour(name: str) -> str:
    h = hashlib.md5(name.encode(), usedforsecurity=False).digest()
    # flamegraph.pl's "hot" palette: reds to yellows
    return f"rgb({205 + h[0] % 50},{h[1] % 230},{h[2] % 55})"


def render_svg(folded: Mapping[str, int], title: str = "Flame graph", *, width: int = 1200,
               frame_height: int = 16, min_width_px: float = 0.1) -> str:  # fmt: skip
    root = _tree(folded)
    total = max(root.count, 1)
    scale = (width - 20) / total
    rects: list[tuple[int, float, float, _Node]] = []  # depth, x, w, node

    def walk(node: _Node, depth: int, x: float) -> int:
        w = node.count * scale
        if w < min_width_px:
            return depth
        rects.append((depth, x, w, node))
        deepest, cx = depth, x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            deepest = max(deepest, walk(child, depth + 1, cx))
            cx += child.count * scale
        return deepest

    depth = walk(root, 0, 10.0)
    height = (depth + 1) * frame_height + 60
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="Verdana, sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="#f8f8f8"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for d, x, w, node in rects:
        y = height - 20 - (d + 1) * frame_height
        pct = 100.0 * node.count / total
        label = escape(node.name)
        out.append(f'<g><title>{label} ({node.count} samples, {pct:.2f}%)</title>'
                   f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{frame_height - 1}" '
                   f'fill="{_colour(node.name)}" rx="2"/>')  # fmt: skip
        chars = int(w / 7)
        if chars >= 3:
            text = node.name if len(node.name) <= chars else node.name[: chars - 2] + ".."
            out.append(f'<text x="{x + 3:.2f}" y="{y + frame_height - 4}">{escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(folded: Mapping[str, int], path: Path, title: str = "Flame graph") -> Path:
    path.write_text(render_svg(folded, title))
    return path
