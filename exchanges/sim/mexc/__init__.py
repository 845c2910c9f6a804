"""MEXC spot v3 protocol of the simulator: REST (:mod:`.rest`), protobuf
WebSocket pushes (:mod:`.ws`) and wire formats (:mod:`.format`)."""
