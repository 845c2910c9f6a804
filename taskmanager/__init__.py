"""The task runner: manager (leases, control, supervision), CLI commands, dashboard, logging."""

__version__ = "0.1.0"
