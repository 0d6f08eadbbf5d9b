"""Hypothesis profiles for the fuzz properties, chosen with HYPOTHESIS_PROFILE (default ``ci``).

- ``ci``: small and derandomized, so `make test` stays fast and is never flaky; no example
  database (it would replay one machine's history on another).
- ``overnight``: effectively unbounded examples and a directory example database shared by every
  process of a campaign (``stackcheck fuzz`` points STACKCHECK_FUZZ_DB at it, or at redis://).
- ``replay``: only the examples saved in that database (a campaign's failures), then stop:
  ``HYPOTHESIS_PROFILE=replay STACKCHECK_FUZZ_DB=DIR pytest fuzz`` checks a fix against them.

Tests take their settings from ``budget(n)``: ``n`` examples under ``ci`` (each property's own
share of the ~2 minute CI budget), the profile's count otherwise. An explicit
``@settings(max_examples=...)`` would pin the count and defeat the overnight profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# No "explain" phase in campaigns: its line tracer displaces coverage.py's, and the campaign
# report measures branch coverage.
_CAMPAIGN_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]


def _database() -> ExampleDatabase:
    where = os.environ.get("STACKCHECK_FUZZ_DB", ".hypothesis/fuzz-examples")
    if where.startswith("redis://"):
        import redis  # the optional extra `fuzz`; `stackcheck fuzz` checks it is installed
        from hypothesis.extra.redis import RedisExampleDatabase

        return RedisExampleDatabase(redis.Redis.from_url(where), key_prefix=b"stackcheck-fuzz:")
    return DirectoryBasedExampleDatabase(where)


settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    # Fresh stacks and Scapy dissection make single examples slow; that is the point, not a smell.
    suppress_health_check=_SLOW_OK,
)
if PROFILE == "replay":
    settings.register_profile("replay", max_examples=1_000, deadline=None, database=_database(),
                              phases=[Phase.explicit, Phase.reuse], suppress_health_check=_SLOW_OK)
if PROFILE == "overnight":  # build the database only when asked (redis may be unreachable otherwise)
    settings.register_profile(
        "overnight",
        max_examples=100_000_000,
        deadline=None,
        database=_database(),
        print_blob=True,
        phases=_CAMPAIGN_PHASES,
        suppress_health_check=_SLOW_OK,
    )
else:
    settings.register_profile("overnight", max_examples=100_000_000, deadline=None, suppress_health_check=_SLOW_OK)


def budget(ci_examples: int, **overrides: object) -> settings:
    """Settings for one property: ``ci_examples`` under the ci profile, unbounded overnight."""
    parent = settings.get_profile(PROFILE)
    count = ci_examples if PROFILE == "ci" else parent.max_examples
    return settings(parent, max_examples=count, **overrides)  # type: ignore[arg-type]
