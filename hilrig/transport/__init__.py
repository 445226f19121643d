"""Byte streams to a board: links (pty, pipe, serial port, RFC 2217), the raw REPL spoken over
them, and the transcript of everything that crossed.
"""
