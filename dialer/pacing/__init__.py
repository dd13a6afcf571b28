"""
Pacing: how many calls a campaign launches, and the abandonment ledger it must respect.

Pure (no Twisted, no clock): the campaign controller builds a L{snapshot.PacingInput} each tick,
a policy from L{base.policy_for_mode} answers with a L{snapshot.Decision}.  L{estimators} learns
the call and agent distributions online, L{ledger} keeps abandoned / live-answered per campaign,
L{scenario} defines the benchmark scenario and L{harness} plays it fast.
"""

__all__ = [
    "base",
    "estimators",
    "harness",
    "ledger",
    "predictive",
    "progressive",
    "scenario",
    "snapshot",
]
