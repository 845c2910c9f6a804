"""Symbol discovery on the venues' PUBLIC endpoints (no keys), for ``run.py scan``.

* :mod:`exchanges.discovery.client` -- one round of bulk REST requests (one per venue and
  endpoint) -> :class:`~exchanges.discovery.types.VenueSnapshot` per venue;
* :mod:`exchanges.discovery.gate`, :mod:`exchanges.discovery.mexc` -- the venues' answers in their
  own spellings -> listings, rules, tops of book, volumes, funding (pure, on bytes);
* :mod:`exchanges.discovery.stream` -- book-ticker WebSockets of many symbols within the
  documented subscription limits;
* :mod:`exchanges.discovery.endpoints` -- the real venues' URLs, or the simulator's.

Nothing is imported here, so :mod:`exchanges.discovery.types` stays free of I/O libraries.
"""
