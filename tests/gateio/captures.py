"""Loaders for the copied Gate fixtures (tests/fixtures/gateio, see its README)."""

from __future__ import annotations

import json
import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gateio"
_RECV = re.compile(r"^(\d+(?:\.\d+)?): (.*)$")
_HTTP = re.compile(r"^(\S+) -> (\d+(?:\.\d+)?): (.*)$")


def ws_received(name: str) -> list[str]:
    """Raw received frames (JSON text) of a ``*.ws.1.0`` capture, in order."""
    out = []
    for line in (FIXTURES / name).read_text().splitlines():
        m = _RECV.match(line)
        if m:
            out.append(m.group(2))
    return out


def http_answers(name: str) -> dict[str, str]:
    """REST answers of a ``*.http.0.0`` capture keyed by the pair/contract in the URL."""
    out = {}
    for line in (FIXTURES / name).read_text().splitlines():
        m = _HTTP.match(line)
        if m:
            key = re.search(r"(?:currency_pair|contract)=([A-Z0-9_]+)", m.group(1)).group(1)
            out[key] = m.group(3)
    return out


def ws_samples() -> list[dict]:
    return [json.loads(x) for x in (FIXTURES / "gate_ws_samples.jsonl").read_text().splitlines() if x.strip()]


def signature_vectors() -> list[dict]:
    data = json.loads((FIXTURES / "signature_vectors.json").read_text())
    return [v for v in data["vectors"] if v["venue"] == "gate"]
