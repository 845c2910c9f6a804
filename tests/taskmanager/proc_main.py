"""Subprocess entry for cross-process tests: the real CLI with the test strategy and fake venue.

``python -m tests.taskmanager.proc_main start --strategy tm_test --symbol NEIROETH --db ...``
"""

import sys

from taskmanager.cli import main
from tests.taskmanager.tm_strategy import fake_venue_factory

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], venue_factory=fake_venue_factory))
