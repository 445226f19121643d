"""Judging a board run against its reference: normalisers, traceback parsing, the VM message table,
and the verdict.
"""
