#!/usr/bin/env python3
"""Entry point: ``python run.py COMMAND ...`` (see ``python run.py --help`` and README "CLI")."""

import sys

from taskmanager.cli import main

if __name__ == "__main__":
    sys.exit(main())
