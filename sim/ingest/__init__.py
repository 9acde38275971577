"""Recorded activity in: the trace format that `tokensim ingest` writes and replay and fit read (issue 15).

This branch has only the reader (sim/ingest/trace.py); the log parsers are another branch's work.
"""
