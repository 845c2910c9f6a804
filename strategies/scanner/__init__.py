"""Symbol scanner: which coins a delta-neutral task is worth running on (pure functions).

* :mod:`strategies.scanner.discovery` -- symbols tradable on Gate spot, the Gate USDT perpetual
  and MEXC spot at once (matched by base and quote), with the reasons others were left out;
* :mod:`strategies.scanner.edge` -- executable cross-spot edge after both taker fees, top-of-book
  depth against minimum orders and ``max_order_usdt``, hedge in whole contracts, funding, basis;
* :mod:`strategies.scanner.window` -- share of a streaming window the edge was executable;
* :mod:`strategies.scanner.rank` -- one row of figures per symbol and the ranking order.

No I/O anywhere here: the venue clients are :mod:`exchanges.discovery`, the command is
``python run.py scan`` (:mod:`taskmanager.scan`).
"""
