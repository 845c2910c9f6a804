"""Validated configuration of the 3-venue delta-neutral strategy (docs/design.md section 5).

Loaded from an optional TOML file (``--config``) and overridden by CLI flags::

    cfg = load_config("dn.toml", {"symbol": "NEIROETH", "position_usdt": "300"})

Every invalid value is refused with a :class:`ConfigError` whose message names
the field and the reason (``position_usdt: must be > 0, got -5``). Unknown keys
are refused too (a typo must never silently fall back to a default).

Defaults are small and sized for the bundled simulator scenario, whose taker
fees are ~0.1 % (Gate spot), ~0.05 % (MEXC spot) and ~0.05 % (Gate perp): the
cross-spot edge must beat 15 bps of fees plus ``entry_threshold_bps``.

Why these defaults (a user trading a small-cap pair would pick similar ones):

* ``entry_threshold_bps = 10``: a trade must clear both taker fees plus 10 bps,
  so a partial fill or a one-sided leg (hedged on the perp at ~5 bps) still
  leaves a margin. The bundled scenario shows such spreads every few seconds.
* ``rebalance_threshold_bps = 0``: inventory is moved back toward target
  through the cross-spot trade in the NEEDED direction as soon as that trade
  at least pays its fees (it is an arbitrage, not a cost), once a venue holds
  less than ``rebalance_trigger_fraction`` (80 %) of its target.
* A forced rebalance (a paired sell/buy that crosses both spreads) happens only
  when a venue stays below ``min_inventory_fraction`` (30 %) of target for
  ``rebalance_patience_s`` (60 s): it costs fees and spread, so it is a last resort.
* The perp is re-hedged only when |net delta| exceeds the tolerance
  max(``delta_tolerance_base``, one contract).
* ``reanalyze_s = 5``: without any trigger MONITORING still re-analyses every
  5 s (funding, exits, a missed event), so the journal grows by ~2 rows / 5 s
  when idle, and otherwise only with real decisions.
* ``sync_timeout_s = 15``: SYNCING that cannot reach a venue (no network, bad
  URL) gives up and ends the task ``halted`` with the venue and error named.
* ``arb_legs = "sequential"``: the leg most likely to miss (on the laggier book, else the thinner
  quote) goes first as fill-or-kill, the other leg only once it filled; a first leg that misses
  leaves nothing to hedge. On the real two-book scenario (``stmx``) this took single legs from most
  arbitrage pairs to a few percent (README, "Arbitrage legs"); ``concurrent`` sends both IOC legs at
  once (one round trip less on the second leg, many more single legs on real markets).
* ``arb_slippage_bps = 10``: the second leg (both legs when concurrent) may be priced this far
  through its quote, never spending more than half the quoted net edge, so a quote that moved a
  tick or two still fills it.
* ``min_inventory_fraction = 0.3`` is also a floor: an arbitrage never sells a venue below this
  share of its target, so each venue keeps inventory for the next arb in either direction.
* ``max_unhedged_fraction = 0.1``: the perp hedges in whole contracts, so up to one contract of the
  position stays unhedged; a position smaller than one contract / 0.1 is refused at ``start``.
"""

from __future__ import annotations

import math
import tomllib
from decimal import Decimal
from typing import Any, Literal

import msgspec

from exchanges.models import Symbol


class ConfigError(ValueError):
    """A config value is missing, malformed or out of range. The message names the field."""


SingleLegPolicy = Literal["hedge", "complete", "reverse"]
ArbLegMode = Literal["sequential", "concurrent"]


def _require(cond: bool, field: str, reason: str, value: Any) -> None:
    if not cond:
        raise ConfigError(f"{field}: {reason}, got {value!r}")


def _require_finite(config: msgspec.Struct) -> None:
    """Refuse NaN and infinity in every number field: they pass (or break) the range checks below
    (``nan > 0`` raises for a Decimal and is False for a float; ``inf > 0`` is True) and an
    infinite timeout leaves a task that can neither finish nor be stopped."""
    for name in config.__struct_fields__:
        value = getattr(config, name)
        if isinstance(value, Decimal) and not value.is_finite():
            raise ConfigError(f"{name}: must be a finite number, got {str(value)!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name}: must be a finite number, got {str(value)!r}")


class DeltaNeutralConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Strategy parameters; units are in the names.

    * ``position_usdt``: target notional of the spot inventory over both spot
      venues; ``gate_spot_fraction`` of it on Gate spot, the rest on MEXC spot.
      The perp short matches the spot base quantity.
    * ``entry_threshold_bps``: net edge (after both taker fees) required to arb.
    * ``min_inventory_fraction``: the inventory floor: an arbitrage never sells a spot venue below
      this fraction of its target (the larger of the target now and at the end of the build-up);
      a venue below it (prices moved) is restored toward target (REBALANCING).
    * ``delta_tolerance_base``: |net delta| tolerated before re-hedging; the
      effective tolerance is max(this, one perp contract).
    * ``max_duration_s`` / ``max_loss_usdt``: 0 disables the limit.
    * ``exit_funding_rate_bps``: exit when the perp funding rate per interval is
      below ``-exit_funding_rate_bps`` (our short pays); 0 disables.
    * ``exit_basis_bps``: exit when |perp mid - spot mid| / spot mid exceeds it; 0 disables.
    * ``single_leg_policy``: what to do when only one arb leg filled:
      ``hedge`` (hedge the imbalance on the perp), ``complete`` (retry the
      missing leg within ``single_leg_price_limit_bps`` of the original price
      until ``single_leg_timeout_s``, then hedge), ``reverse`` (undo the filled
      leg within the price limit, then hedge what is left).
    * ``hedge_slippage_bps``: how far through the perp top a hedge IOC may be priced.
    * ``build_tolerance_fraction``: initial build-up stops within this fraction of target.
    * ``stale_halt_s``: books stale (or SYNCING without fresh books) this long halts the task.
    * ``rebalance_threshold_bps``: net edge (after fees, may be negative) accepted for a
      cross-spot trade that moves inventory toward target (opportunistic rebalance).
    * ``rebalance_trigger_fraction``: opportunistic rebalancing starts once a spot venue
      holds less than this fraction of its target.
    * ``rebalance_patience_s``: a venue below ``min_inventory_fraction`` for this long gets a
      forced (paired, spread-crossing) rebalance.
    * ``reanalyze_s``: MONITORING re-analyses at least this often even when nothing triggers.
    * ``sync_timeout_s``: SYNCING gives up (task ends ``halted``) when a venue cannot be
      reached or reconciled within this time.
    * ``arb_legs``: ``sequential`` (the leg most likely to miss first, fill-or-kill; the other
      only once it filled) or ``concurrent`` (both IOC legs at once).
    * ``arb_slippage_bps``: how far through its quote the second arb leg (both legs when
      concurrent) is priced; at most half the quoted net edge is spent.
    * ``arb_depth_fraction``: an arb takes at most this share of the displayed quantity at each
      leg's quote.
    * ``max_unhedged_fraction``: one perp contract must be worth at most this share of
      ``position_usdt`` (else ``start`` refuses the configuration).
    * ``build_tolerance_fraction`` is also the tolerance of TOTAL spot inventory: after single legs
      moved it further from its target, it is brought back through the cheapest spot venue
      (the perp follows by the per-fill hedge) within ``rebalance_patience_s``.
    """

    symbol: str = "NEIROETH"
    position_usdt: Decimal = Decimal("200")
    gate_spot_fraction: Decimal = Decimal("0.5")
    entry_threshold_bps: Decimal = Decimal("10")
    max_order_usdt: Decimal = Decimal("25")
    min_inventory_fraction: Decimal = Decimal("0.3")
    delta_tolerance_base: Decimal = Decimal("0")
    max_book_age_ms: int = 3000
    order_timeout_s: float = 5.0
    max_duration_s: float = 0.0
    max_loss_usdt: Decimal = Decimal("20")
    exit_funding_rate_bps: Decimal = Decimal("0")
    exit_basis_bps: Decimal = Decimal("0")
    single_leg_policy: SingleLegPolicy = "hedge"
    single_leg_price_limit_bps: Decimal = Decimal("30")
    single_leg_timeout_s: float = 10.0
    hedge_slippage_bps: Decimal = Decimal("20")
    flatten_on_exit: bool = False
    rebalance_cooldown_s: float = 5.0
    build_tolerance_fraction: Decimal = Decimal("0.05")
    stale_halt_s: float = 120.0
    rebalance_threshold_bps: Decimal = Decimal("0")
    rebalance_trigger_fraction: Decimal = Decimal("0.8")
    rebalance_patience_s: float = 60.0
    reanalyze_s: float = 5.0
    sync_timeout_s: float = 15.0
    arb_legs: ArbLegMode = "sequential"
    arb_slippage_bps: Decimal = Decimal("10")
    arb_depth_fraction: Decimal = Decimal("1")
    max_unhedged_fraction: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        _require_finite(self)
        try:
            Symbol.parse(self.symbol)
        except ValueError as exc:
            raise ConfigError(f"symbol: {exc}") from None
        _require(self.position_usdt > 0, "position_usdt", "must be > 0", str(self.position_usdt))
        _require(0 < self.gate_spot_fraction < 1, "gate_spot_fraction",
                 "must be in (0, 1) (MEXC spot gets the rest)", str(self.gate_spot_fraction))
        _require(self.entry_threshold_bps >= 0, "entry_threshold_bps", "must be >= 0",
                 str(self.entry_threshold_bps))
        _require(self.max_order_usdt > 0, "max_order_usdt", "must be > 0", str(self.max_order_usdt))
        _require(0 < self.min_inventory_fraction <= 1, "min_inventory_fraction", "must be in (0, 1]",
                 str(self.min_inventory_fraction))
        _require(self.delta_tolerance_base >= 0, "delta_tolerance_base", "must be >= 0",
                 str(self.delta_tolerance_base))
        _require(self.max_book_age_ms > 0, "max_book_age_ms", "must be > 0", self.max_book_age_ms)
        _require(self.order_timeout_s > 0, "order_timeout_s", "must be > 0", self.order_timeout_s)
        _require(self.max_duration_s >= 0, "max_duration_s", "must be >= 0 (0 = no limit)",
                 self.max_duration_s)
        _require(self.max_loss_usdt >= 0, "max_loss_usdt", "must be >= 0 (0 = no limit)",
                 str(self.max_loss_usdt))
        _require(self.exit_funding_rate_bps >= 0, "exit_funding_rate_bps", "must be >= 0 (0 = off)",
                 str(self.exit_funding_rate_bps))
        _require(self.exit_basis_bps >= 0, "exit_basis_bps", "must be >= 0 (0 = off)",
                 str(self.exit_basis_bps))
        _require(self.single_leg_price_limit_bps >= 0, "single_leg_price_limit_bps", "must be >= 0",
                 str(self.single_leg_price_limit_bps))
        _require(self.single_leg_timeout_s > 0, "single_leg_timeout_s", "must be > 0",
                 self.single_leg_timeout_s)
        _require(0 <= self.hedge_slippage_bps <= 500, "hedge_slippage_bps", "must be in [0, 500]",
                 str(self.hedge_slippage_bps))
        _require(self.rebalance_cooldown_s >= 0, "rebalance_cooldown_s", "must be >= 0",
                 self.rebalance_cooldown_s)
        _require(self.stale_halt_s > 0, "stale_halt_s", "must be > 0", self.stale_halt_s)
        _require(-100 <= self.rebalance_threshold_bps <= self.entry_threshold_bps, "rebalance_threshold_bps",
                 "must be in [-100, entry_threshold_bps]", str(self.rebalance_threshold_bps))
        _require(self.min_inventory_fraction <= self.rebalance_trigger_fraction <= 1, "rebalance_trigger_fraction",
                 "must be in [min_inventory_fraction, 1]", str(self.rebalance_trigger_fraction))
        _require(self.rebalance_patience_s >= 0, "rebalance_patience_s", "must be >= 0", self.rebalance_patience_s)
        _require(self.reanalyze_s > 0, "reanalyze_s", "must be > 0", self.reanalyze_s)
        _require(self.sync_timeout_s > 0, "sync_timeout_s", "must be > 0", self.sync_timeout_s)
        _require(0 <= self.build_tolerance_fraction < 1, "build_tolerance_fraction", "must be in [0, 1)",
                 str(self.build_tolerance_fraction))
        _require(0 <= self.arb_slippage_bps <= 500, "arb_slippage_bps", "must be in [0, 500]",
                 str(self.arb_slippage_bps))
        _require(0 < self.arb_depth_fraction <= 1, "arb_depth_fraction", "must be in (0, 1]",
                 str(self.arb_depth_fraction))
        _require(0 < self.max_unhedged_fraction <= 1, "max_unhedged_fraction", "must be in (0, 1]",
                 str(self.max_unhedged_fraction))

    @property
    def symbol_obj(self) -> Symbol:
        """The parsed :class:`Symbol`."""
        return Symbol.parse(self.symbol)

    @property
    def mexc_spot_fraction(self) -> Decimal:
        return 1 - self.gate_spot_fraction


def config_from_dict(values: dict[str, Any]) -> DeltaNeutralConfig:
    """Build and validate a config from plain values (strings allowed, as from a CLI).

    Raises :class:`ConfigError` naming the field on any problem.
    """
    try:
        return msgspec.convert(values, DeltaNeutralConfig, strict=False)
    except ConfigError:
        raise
    except msgspec.ValidationError as exc:
        text = str(exc)
        # msgspec says "... - at `$.field`" or "unknown field `x`"; rephrase field first.
        if " - at `$." in text:
            reason, _, where = text.partition(" - at `$.")
            raise ConfigError(f"{where.rstrip('`')}: {reason}") from None
        if "unknown field" in text:
            name = text.split("`")[1] if "`" in text else "?"
            raise ConfigError(f"{name}: unknown config key") from None
        raise ConfigError(text) from None


def load_config(path: str | None, overrides: dict[str, Any] | None = None) -> DeltaNeutralConfig:
    """Load ``path`` (TOML; None = defaults only), apply ``overrides`` (None values ignored).

    TOML floats are read as Decimal so ``0.1`` stays exact. Raises
    :class:`ConfigError` (missing/unreadable file, TOML syntax error, unknown
    key, bad value) with the file or field named. A ``[notify]`` table belongs to the
    runner's alerts (``taskmanager.notify.load_notify_config`` reads it from the same file)
    and is skipped here.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                values = tomllib.load(fh, parse_float=Decimal)
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        if isinstance(values.get("notify"), dict):
            values.pop("notify")
        # Allow an optional [delta_neutral] table.
        if set(values) == {"delta_neutral"} and isinstance(values["delta_neutral"], dict):
            values = dict(values["delta_neutral"])
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    return config_from_dict(values)
