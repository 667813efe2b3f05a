"""The ledger: reps, plan versions, deals and their events, periods, payout lines,
balances, adjustments, disputes and the audit log, in SQLite or PostgreSQL.

Inputs: a database URL and a session owned by the caller. The close feeds the
pure engine (``compengine.engine``) and stores its lines; locked months are
read-only; corrections are new rows.
"""

from compengine.ledger.close import lock_period, run_close
from compengine.ledger.db import open_ledger, transaction, upgrade
from compengine.ledger.importer import import_folder
from compengine.ledger.ops import add_adjustment, audit_rows, export_payouts, payout_rows, status_rows

__all__ = ["add_adjustment", "audit_rows", "export_payouts", "import_folder", "lock_period", "open_ledger", "payout_rows",
           "run_close", "status_rows", "transaction", "upgrade"]
