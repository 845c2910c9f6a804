"""Registry of bundled replay scenarios (``exchanges/sim/scenarios/<name>/``).

A scenario is a folder holding ``recording.jsonl.gz`` (format
:mod:`exchanges.sim.recording.format`), a README.md documenting its derivation and
the licence files of its data. The default scenario ``neiroeth`` serves the
symbol NEIROETH on gate_spot, gate_perp and mexc_spot.

API::

    available() -> dict[str, Path]          # name -> recording path
    symbols() -> dict[str, str]             # name -> base symbol (e.g. "NEIROETH")
    resolve(name_or_path=None) -> Path      # name, or path of a user recording
    load(name_or_path=None) -> Recording
    scenario_for_symbol(symbol) -> str      # the scenario serving a symbol

Unknown names/symbols raise :class:`UnknownScenario` (a ValueError) whose
message lists the available scenarios and their symbols.
"""

from __future__ import annotations

from pathlib import Path

from exchanges.models import Symbol
from exchanges.sim.recording.format import Recording, read_header, read_recording

SCENARIOS_DIR = Path(__file__).resolve().parent
DEFAULT_SCENARIO = "neiroeth"
RECORDING_FILE = "recording.jsonl.gz"


class UnknownScenario(ValueError):
    """No scenario by that name (or serving that symbol)."""


def available() -> dict[str, Path]:
    """Bundled scenarios: name -> path of its recording, sorted by name."""
    found = {}
    for child in sorted(SCENARIOS_DIR.iterdir()):
        rec = child / RECORDING_FILE
        if child.is_dir() and rec.is_file():
            found[child.name] = rec
    return found


def symbols() -> dict[str, str]:
    """Scenario name -> base symbol it serves (read from the header only)."""
    out = {}
    for name, path in available().items():
        try:
            out[name] = str(read_header(path).get("symbol", "?")).upper()
        except ValueError:
            out[name] = "?"
    return out


def _listing() -> str:
    items = symbols()
    if not items:
        return "no scenarios are bundled"
    return "available scenarios: " + ", ".join(f"{n} (symbol {s})" for n, s in items.items())


def resolve(name_or_path: str | Path | None = None) -> Path:
    """Path of the recording for a scenario name (default ``neiroeth``) or an
    existing recording file path. Raises UnknownScenario."""
    name = DEFAULT_SCENARIO if name_or_path in (None, "") else name_or_path
    scenarios = available()
    if isinstance(name, str) and name.lower() in scenarios:
        return scenarios[name.lower()]
    path = Path(name).expanduser()
    if path.is_file():
        return path
    raise UnknownScenario(f"unknown scenario {str(name)!r}; {_listing()}")


def load(name_or_path: str | Path | None = None) -> Recording:
    """Open a scenario's recording (header parsed, events read lazily)."""
    return read_recording(resolve(name_or_path))


def scenario_for_symbol(symbol: str | Symbol) -> str:
    """Name of the bundled scenario serving ``symbol`` (e.g. "NEIROETH",
    "NEIROETH_USDT"). Raises UnknownScenario listing what is available."""
    try:
        base = (symbol if isinstance(symbol, Symbol) else Symbol.parse(symbol)).base
    except ValueError as exc:
        raise UnknownScenario(f"{exc}; {_listing()}") from exc
    for name, sym in symbols().items():
        if sym == base:
            return name
    raise UnknownScenario(f"no scenario serves symbol {base!r}; {_listing()}")
