from decimal import Decimal as D

import pytest

from strategies.delta_neutral.config import ConfigError, DeltaNeutralConfig, load_config


def test_defaults_valid_and_json_roundtrip():
    import msgspec

    cfg = load_config(None, {})
    assert cfg.position_usdt == D("200") and cfg.single_leg_policy == "hedge"
    again = msgspec.json.decode(msgspec.json.encode(cfg), type=DeltaNeutralConfig)
    assert again == cfg
    # defaults must let the simulator trade: fees 10 + 5 bps, threshold small
    assert 0 < cfg.entry_threshold_bps <= 10


def test_toml_file_and_overrides(tmp_path):
    p = tmp_path / "dn.toml"
    p.write_text('symbol = "NEIROETH_USDT"\nposition_usdt = 300.5\ngate_spot_fraction = 0.6\n'
                 'single_leg_policy = "reverse"\nflatten_on_exit = true\n')
    cfg = load_config(str(p), {"max_order_usdt": "40", "entry_threshold_bps": None})
    assert cfg.position_usdt == D("300.5")  # TOML float read exactly
    assert cfg.gate_spot_fraction == D("0.6") and cfg.mexc_spot_fraction == D("0.4")
    assert cfg.max_order_usdt == D("40") and cfg.flatten_on_exit is True
    assert cfg.single_leg_policy == "reverse"
    assert cfg.symbol_obj.base == "NEIROETH"


def test_table_form(tmp_path):
    p = tmp_path / "dn.toml"
    p.write_text("[delta_neutral]\nposition_usdt = 50\n")
    assert load_config(str(p), {}).position_usdt == D(50)


@pytest.mark.parametrize("overrides, field", [
    ({"position_usdt": "-5"}, "position_usdt"),
    ({"max_order_usdt": "0"}, "max_order_usdt"),
    ({"gate_spot_fraction": "1.5"}, "gate_spot_fraction"),
    ({"gate_spot_fraction": "0"}, "gate_spot_fraction"),
    ({"min_inventory_fraction": "0"}, "min_inventory_fraction"),
    ({"min_inventory_fraction": "1.01"}, "min_inventory_fraction"),
    ({"delta_tolerance_base": "-1"}, "delta_tolerance_base"),
    ({"max_book_age_ms": "0"}, "max_book_age_ms"),
    ({"order_timeout_s": "-1"}, "order_timeout_s"),
    ({"max_loss_usdt": "-1"}, "max_loss_usdt"),
    ({"single_leg_policy": "pray"}, "single_leg_policy"),
    ({"position_usdt": "lots"}, "position_usdt"),
    ({"symbol": "no good!"}, "symbol"),
    ({"postion_usdt": "5"}, "postion_usdt"),
])
def test_invalid_values_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as ei:
        load_config(None, overrides)
    assert str(ei.value).startswith(field + ":"), str(ei.value)


def test_missing_and_malformed_file(tmp_path):
    with pytest.raises(ConfigError, match="config file"):
        load_config(str(tmp_path / "nope.toml"), {})
    bad = tmp_path / "bad.toml"
    bad.write_text("position_usdt = = 3")
    with pytest.raises(ConfigError, match="config file"):
        load_config(str(bad), {})
