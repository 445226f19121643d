"""The kinds of board a target can name (host VM, QEMU, serial port), finding their ports, and the
one-round-trip capability probe.
"""
