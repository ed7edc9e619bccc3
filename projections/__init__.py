"""Views built from the log: disposable tables, each with its tracked log position."""
