"""State changes for queues: routing cases into queues, and claiming them out (leases, skips, releases)."""

from queues.services.claims import (
    ClaimRefused,
    HoldLimitReached,
    claim_case,
    claim_next_case,
    release_case,
    release_expired_leases,
    renew_lease,
    skip_case,
)
from queues.services.handover import can_reassign, eligible_agents, reassign_case
from queues.services.routing import (
    RoutingOutcome,
    lock_case_for_routing,
    route_case,
    route_locked_case,
)

__all__ = [
    "ClaimRefused",
    "HoldLimitReached",
    "RoutingOutcome",
    "can_reassign",
    "claim_case",
    "claim_next_case",
    "eligible_agents",
    "lock_case_for_routing",
    "reassign_case",
    "release_case",
    "release_expired_leases",
    "renew_lease",
    "route_case",
    "route_locked_case",
    "skip_case",
]
