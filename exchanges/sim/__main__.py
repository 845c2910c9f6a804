"""``python -m exchanges.sim [run|stop|status] [options]`` -- the simulator
process entry (used by :func:`exchanges.sim.process.ensure_sim_running`);
same options as ``run.py sim`` (see :mod:`exchanges.sim.cli`)."""

from __future__ import annotations

import argparse
import sys

from exchanges.sim.cli import add_sim_arguments, sim_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchanges.sim", description="local exchange simulator")
    add_sim_arguments(parser)
    return sim_main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
