"""``store``: an open store of the parametrised ``db`` backend (tests/conftest.py), closed afterwards."""

from __future__ import annotations

import pytest


@pytest.fixture
async def store(db):
    s = await db.open()
    yield s
    await s.close()
