"""Finance views over the ledger: plans modeled on history, an earnings forecast from the
pipeline, and the ASC 340-40 journal of capitalized commissions.

Inputs: a read-only session on the ledger (``ledger.db.transaction(engine, write=False)``),
plan files, a pipeline file, an accounting config. Outputs: one report object per command
(``as_dict()`` for JSON, ``text()`` for the terminal, ``tables()`` for CSV; HTML and PDF are
rendered from ``as_dict()`` by ``statements.finance_report``). Nothing here writes to the
ledger: the engine runs in memory.

* ``history``: a month's engine inputs read from the ledger, with state carried by the caller.
* ``model``: ``compengine model``, candidate plans repriced over stored history.
* ``forecast``: ``compengine forecast``, expected, commit and best-case earnings.
* ``accounting``: ``compengine accounting``, capitalize and amortize (ASC 340-40).
"""
