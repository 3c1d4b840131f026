"""PostgreSQL for the tests: a throw-away cluster (flows.demo.postgres), skipped where
PostgreSQL is not installed and a failure under CI=true (CI installs it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from flows.demo.postgres import create_database, postgres_bin, throwaway_postgres, url_of

__all__ = ["create_database", "postgres_bin", "postgres_or_skip", "url_of"]


def postgres_or_skip() -> Iterator[str]:
    """A throw-away cluster for a fixture; skipped where PostgreSQL is not installed,
    a failure under CI=true (CI installs it)."""
    import pytest

    bin_dir = postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed; CI installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with throwaway_postgres(bin_dir) as conninfo:
        yield conninfo
