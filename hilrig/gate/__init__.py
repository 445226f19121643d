"""Release gating around runs: board leases, the repeat policy against a baseline, failure bundles,
repro, and junit summaries.
"""
