"""Market-data recordings: the ``arb-recording/1`` format (:mod:`.format`),
replay into the engine (:mod:`.replay`), the live recorder (:mod:`.record`),
paper-mode live feeds (:mod:`.paper`), aliased symbols (:mod:`.aliases`) and
the bundled scenario's builder (:mod:`.scenario_build`)."""
