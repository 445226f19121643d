"""Target files: their schema and loader, the built-in targets shipped in ``builtin/``, and
differences between two targets.
"""
