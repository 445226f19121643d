"""Running one program: the program model, the runner on a board, the reference run, and the
session that drives both and judges them.
"""
