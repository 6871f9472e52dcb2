"""The client conformance scenario (clients/conformance/README.md) in Python: references to saved
results, matching an actual result against an expected one, the server the scenario runs against,
and the Python client's calls turned into the scenario's JSON shapes. The Python client's own
runner is tests/server/test_conformance.py; workflow 114 runs the previous release's client
through the same scenario (any object with the client's API will do)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from engram.server.launcher import find_engramd

#: clients/conformance in the checkout (the harness is installed editable from it), or $ENGRAM_CONFORMANCE_DIR
CONFORMANCE = Path(
    os.environ.get("ENGRAM_CONFORMANCE_DIR")
    or Path(__file__).resolve().parents[3] / "clients" / "conformance"
)
NUMBER_TOLERANCE = 1e-4
RANGE_SLACK = 1e-6


def load_scenario() -> dict[str, Any]:
    return json.loads((CONFORMANCE / "scenario.json").read_text())


def lookup(saved: dict[str, Any], ref: str) -> Any:
    """``"$name.1.id"``: the saved result ``name``, then index 1, then key ``id``."""
    name, *path = ref[1:].split(".")
    if name not in saved:
        raise KeyError(f"{ref}: no step saved a result named {name!r}")
    value = saved[name]
    for part in path:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def resolve(value: Any, saved: dict[str, Any]) -> Any:
    """Arguments with their ``$`` references replaced by saved results."""
    if isinstance(value, str) and value.startswith("$$"):
        return value[1:]
    if isinstance(value, str) and value.startswith("$"):
        return lookup(saved, value)
    if isinstance(value, list):
        return [resolve(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, saved) for k, v in value.items()}
    return value


def _is_matcher(expected: Any) -> bool:
    return isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$")


def _type_ok(kind: str, actual: Any) -> bool:
    checks = {
        "id": lambda a: isinstance(a, int) and not isinstance(a, bool),
        "number": lambda a: isinstance(a, (int, float)) and not isinstance(a, bool),
        "string": lambda a: isinstance(a, str),
        "bool": lambda a: isinstance(a, bool),
        "array": lambda a: isinstance(a, list),
        "object": lambda a: isinstance(a, dict),
        "null": lambda a: a is None,
    }
    if kind not in checks:
        raise ValueError(f"unknown $type {kind!r}")
    return checks[kind](actual)


def mismatch(actual: Any, expected: Any, saved: dict[str, Any], at: str = "result") -> str | None:
    """None when ``actual`` matches ``expected``; otherwise where and how it differs."""
    if isinstance(expected, str) and expected.startswith("$$"):
        expected = expected[1:]
    elif isinstance(expected, str) and expected.startswith("$"):
        expected = lookup(saved, expected)
        return None if actual == expected else f"{at}: {actual!r} != {expected!r}"
    if _is_matcher(expected):
        ((op, arg),) = expected.items()
        if op == "$type":
            return None if _type_ok(arg, actual) else f"{at}: {actual!r} is not of type {arg}"
        if op == "$len":
            ok = isinstance(actual, (list, str)) and len(actual) == arg
            return None if ok else f"{at}: {actual!r} does not have length {arg}"
        if op == "$range":
            lo, hi = arg
            ok = isinstance(actual, (int, float)) and lo - RANGE_SLACK <= actual <= hi + RANGE_SLACK
            return None if ok else f"{at}: {actual!r} is not in [{lo}, {hi}]"
        if op == "$all":
            if not isinstance(actual, list):
                return f"{at}: {actual!r} is not an array"
            free = list(range(len(actual)))
            for i, m in enumerate(arg):
                hit = next((j for j in free if mismatch(actual[j], m, saved) is None), None)
                if hit is None:
                    return f"{at}: no element matches $all[{i}] = {m!r} in {actual!r}"
                free.remove(hit)
            return None
        raise ValueError(f"unknown matcher {op!r}")
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{at}: {actual!r} is not an object"
        for k, v in expected.items():
            if k not in actual:
                return f"{at}.{k}: missing"
            if (why := mismatch(actual[k], v, saved, f"{at}.{k}")) is not None:
                return why
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{at}: {actual!r} is not an array of length {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            if (why := mismatch(a, e, saved, f"{at}.{i}")) is not None:
                return why
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        ok = isinstance(actual, (int, float)) and not isinstance(actual, bool)
        ok = ok and math.isclose(
            actual, expected, rel_tol=0, abs_tol=NUMBER_TOLERANCE * max(1.0, abs(expected))
        )
        return None if ok else f"{at}: {actual!r} != {expected!r}"
    return (
        None if actual == expected and type(actual) is type(expected) else f"{at}: {actual!r} != {expected!r}"
    )


@contextmanager
def conformance_server(scenario: dict[str, Any]) -> Iterator[str]:
    """engramd as the README says: loopback, any port, the scenario's keys and arguments."""
    engramd = find_engramd()
    if engramd is None:
        raise RuntimeError("engramd not found: set ENGRAM_ENGRAMD or put engramd on PATH")
    keys = CONFORMANCE / scenario["server"]["keys_file"]
    args = [
        engramd,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--api-keys",
        str(keys),
        *scenario["server"]["args"],
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        assert proc.stderr is not None
        for _ in range(200):  # the listening line comes within the first few
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(r'"event":"listening","url":"([^"]+)"', line)
            if m:
                url = m.group(1)
                break
        if url is None:
            raise RuntimeError(f"engramd did not start (exit {proc.poll()})")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=float(os.environ.get("ENGRAM_CONFORMANCE_STOP_S", "20")))
        except subprocess.TimeoutExpired:
            proc.kill()


def _ids(a: Any) -> list[int]:
    return [int(i) for i in a]


def call(client: Any, name: str, args: dict[str, Any]) -> Any:
    """One scenario call with the Python client, its result in the scenario's JSON shape."""
    sp = client.space(args["space"]) if "space" in args else None
    if name == "create_space":
        s = client.create_space(args["name"], dim=args["dim"])
        return {"name": s.name, "dim": int(s.stats()["dim"])}  # the space as the server describes it
    if name == "spaces":
        return list(client.spaces())
    if name == "drop_space":
        return client.drop_space(args["name"])
    assert sp is not None, f"{name} needs a space"
    if name == "remember":
        opt = {k: args[k] for k in ("content", "confidence", "metadata") if k in args}
        return sp.remember(args["embedding"], idempotency_key=args.get("idempotency_key"), **opt)
    if name == "remember_batch":
        items = args["items"]
        return _ids(sp.remember_batch(
            [it["embedding"] for it in items], contents=[it.get("content", "") for it in items],
            confidences=[it.get("confidence", 1.0) for it in items],
            metadatas=[it.get("metadata") for it in items]))  # fmt: skip
    if name == "get":
        m = sp.get(args["id"])
        return {"id": m.id, "kind": m.kind, "embedding": [float(x) for x in m.embedding], "content": m.content,
                "confidence": m.confidence, "timestamp": m.timestamp, "metadata": dict(m.metadata)}  # fmt: skip
    if name == "forget":
        return sp.forget(args["id"])
    if name == "search":
        ids, scores = sp.search(args["embedding"], k=args["k"], ef=args.get("ef"))
        return [{"id": int(i), "score": float(s)} for i, s in zip(ids, scores, strict=True)]
    if name == "recall":
        return [{"id": r.id, "kind": r.kind, "score": r.score, "confidence": r.confidence, "activation": r.activation}
                for r in sp.recall(args["cue"], k=args["k"])]  # fmt: skip
    if name == "link":
        return sp.link(args["src"], args["dst"], **({"weight": args["weight"]} if "weight" in args else {}))
    if name == "neighbors":
        return [{"id": n.id, "weight": n.weight, "kind": n.kind} for n in sp.neighbors(args["id"])]
    if name == "spread":
        return [{"id": a.id, "activation": a.activation, "hops": a.hops} for a in sp.spread(args["seeds"])]
    if name == "complete":
        partial = np.array([np.nan if v is None else v for v in args["partial"]], dtype=np.float32)
        c = sp.complete(partial)
        return {"vector": [float(x) for x in c.vector], "confidence": c.confidence, "accepted": c.accepted,
                "sources": _ids(c.sources)}  # fmt: skip
    if name == "consolidate":
        r = sp.consolidate()
        return {"formed": _ids(r.formed), "updated": _ids(r.updated)}
    if name == "concepts":
        return [{"id": c.id, "members": _ids(c.members), "coherence": c.coherence, "confidence": c.confidence}
                for c in sp.concepts()]  # fmt: skip
    if name == "concept_members":
        return _ids(sp.concept_members(args["id"]))
    if name == "stream":
        with client.stream(args["space"]) as st:
            order = [st.send(o["embedding"], o.get("content", "")) for o in args["observations"]]
            acked = st.flush()
        return [int(acked[i]) for i in order]
    raise ValueError(f"unknown scenario call {name!r}")


def run_scenario(url: str, make_client: Callable[[str | None], Any]) -> tuple[int, list[str]]:
    """Every step of the scenario in order, each with a client from ``make_client(api_key)``
    (closed at the end). Returns the number of steps run and the failures, each naming its step."""
    scenario = load_scenario()
    saved: dict[str, Any] = {}
    failures: list[str] = []
    clients = {name: make_client(key) for name, key in scenario["keys"].items()}
    try:
        for i, step in enumerate(scenario["steps"]):
            label = f"step {i} ({step['name']})"
            client = clients[step.get("key", "admin")]
            args = resolve(step.get("args", {}), saved)
            try:
                result = call(client, step["call"], args)
            except Exception as e:
                want = step.get("error")
                code, status = getattr(e, "code", None), getattr(e, "status", None)
                if want is None or code is None:
                    failures.append(f"{label}: unexpected error {type(e).__name__}: {e}")
                elif (code, status) != (want["code"], want["status"]):
                    failures.append(
                        f"{label}: error {code}/{status}, expected {want['code']}/{want['status']}"
                    )
                continue
            if "error" in step:
                failures.append(f"{label}: returned {result!r}, expected error {step['error']}")
                continue
            if (why := mismatch(result, step["expect"], saved)) is not None:
                failures.append(f"{label}: {why}")
            if "save" in step:
                saved[step["save"]] = result
    finally:
        for c in clients.values():
            c.close()
    return len(scenario["steps"]), failures
