"""Velocity counters: how fast reports, reporters, new subjects and bank hits arrive around a case.

Each counter is a routing fact (`[system] author.reports_24h ≥ 20`) with two sources that agree:

- live, from Redis (`VELOCITY_REDIS_URL`): one key per time bucket (an INCRBY counter, or a HyperLogLog for
  distinct counts), expiring once no window can reach it. A read sums the buckets of the window, which is
  rounded out to whole buckets: a live value covers between `window` and `window + bucket` of history.
- point in time, from the database (`counters_at`): exactly (at - window, at], never anything after `at`, so
  a backtest sees what a rule would have seen then. With no Redis configured, or Redis unreachable, the live
  values come from here too, so intake and routing never depend on Redis being up.

Recording is after commit, one Redis round trip per intake request or batch (a pipeline). Events recorded
while Redis was down are missing from the live values until their buckets expire; the twin has them.
"""

from cases.counters.buckets import forget_redis_state, live_counters, record_bank_hits, record_reports
from cases.counters.catalogue import (
    BANK_SOURCE,
    COUNTER_NAMES,
    COUNTERS,
    NewSubjectEvent,
    ReportEvent,
    VelocityCounter,
)
from cases.counters.panel import VelocityReading, velocity_panel
from cases.counters.point_in_time import counters_at

__all__ = [
    "BANK_SOURCE",
    "COUNTERS",
    "COUNTER_NAMES",
    "NewSubjectEvent",
    "ReportEvent",
    "VelocityCounter",
    "VelocityReading",
    "counters_at",
    "forget_redis_state",
    "live_counters",
    "record_bank_hits",
    "record_reports",
    "velocity_panel",
]
