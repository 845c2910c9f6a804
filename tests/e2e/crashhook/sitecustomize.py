"""Test shim: a runner process started with this directory first on PYTHONPATH (and the project
root after it) wraps its venues in crash-point proxies (tests/e2e/crashpoints.py) when
``ARB_CRASH_AT`` is set. A malformed ``ARB_CRASH_AT`` is bad input: one line, exit 2, before
anything starts. Used by tests/e2e/test_crash_resume.py; the product itself has no crash hook."""

import os
import sys

if os.environ.get("ARB_CRASH_AT", "").strip():
    from tests.e2e import crashpoints

    try:
        _plan = crashpoints.plan_from_env()
    except crashpoints.CrashSpecError as _exc:
        sys.stderr.write(f"error: {_exc}\n")
        sys.stderr.flush()
        os._exit(2)  # site.py would turn SystemExit into a traceback and exit 1

    import exchanges.factory as _factory

    _build = _factory.build_venues

    def _build_crashing(*args, **kwargs):  # type: ignore[no-untyped-def]
        return crashpoints.wrap_venues(_build(*args, **kwargs), _plan)

    _factory.build_venues = _build_crashing
