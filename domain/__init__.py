"""The domain: aggregates, value objects, the working calendar and the rules.

Pure: imports only the standard library and ``eventsourcing``; no I/O.
"""
