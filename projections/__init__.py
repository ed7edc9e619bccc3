"""Views built from the log: disposable tables, each with its tracked log position.

* ``runtime`` — the follower: pages of events applied exactly once (a
  compare-and-set on each view's tracking row, in the page's transaction),
  tickets and cases folded once per page for every view of a group
  (``facts``), LISTEN/NOTIFY wake-ups on PostgreSQL, polling on SQLite.
* ``tally`` — tables that keep their history by log position, so that any
  view can be read as of any page it applied; ``base`` — report views as
  changes computed without the database, then written (the same code serves
  ``replay.as_of``).
* the views: ``catalog`` (lists), ``clock`` (time → log position: the
  definition of "as of"), ``quota``, ``sla``, ``quality``, ``access_log``;
  ``registry`` names them and groups the report views under one follower.
* pure helpers: ``contract`` (targets, periods, plan to date), ``stats``.
"""
