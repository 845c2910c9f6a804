"""Gate.io v4 protocol of the simulator: spot REST (:mod:`.spot_rest`), USDT
futures REST (:mod:`.futures_rest`), WebSocket v4 (:mod:`.ws`), wire formats
(:mod:`.format`) and shared helpers: signatures, errors (:mod:`.common`)."""
