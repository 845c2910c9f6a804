"""Strategy FSMs: the base machinery and the bundled strategies."""
