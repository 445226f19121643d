"""Compiled programs: the .mpy reader, the choice of an mpy-cross that matches the firmware, and
the payload sent to the raw REPL.
"""
