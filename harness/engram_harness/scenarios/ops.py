"""Operation codes shared by the schedule, the executors and the results."""

from __future__ import annotations

from enum import IntEnum


class Op(IntEnum):
    """One code per operation type; the values are stable (the C++ executor uses the same numbers)."""

    REMEMBER = 0
    RECALL_EPISODIC = 1
    RECALL_SEMANTIC = 2
    RECALL_BLENDED = 3
    SEARCH = 4
    SPREAD = 5
    COMPLETE = 6
    CONSOLIDATE = 7

    @property
    def label(self) -> str:
        return self.name.lower()


OP_NAMES: tuple[str, ...] = tuple(op.label for op in Op)

#: Names accepted in scenario files for each operation (the older loadtest spellings included).
OP_ALIASES: dict[str, Op] = {
    **{op.label: op for op in Op},
    "store": Op.REMEMBER,
    "recall": Op.RECALL_EPISODIC,
    "embedding_search": Op.SEARCH,
    "pattern_completion": Op.COMPLETE,
    "completion": Op.COMPLETE,
}

RECALL_MODES: dict[Op, str] = {
    Op.RECALL_EPISODIC: "episodic",
    Op.RECALL_SEMANTIC: "semantic",
    Op.RECALL_BLENDED: "blended",
}


def op_from_name(name: str) -> Op:
    """Accepts ``remember`` as well as ``remember_weight`` style keys; raises ``KeyError`` otherwise."""
    key = name.removesuffix("_weight")
    return OP_ALIASES[key]
