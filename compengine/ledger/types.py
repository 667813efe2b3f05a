"""Column types that store money and exact decimals identically on SQLite and PostgreSQL.

SQLAlchemy's ``Numeric`` goes through float on SQLite, so money is stored as
integer thousandths of its unit (:class:`Thousandths`, migration 0008; before it, cents)
and other exact decimals (rates, multipliers, attainment, split percents) as canonical
strings (:class:`DecimalText`).

Thousandths hold every currency's minor units exactly: JPY (0 decimals) as ``1235000``
for 1,235, USD (2) as ``1234560`` for 1,234.56, KWD (3) as ``1234567`` for 1,234.567. The
amounts are rounded to their currency's minor units (``currency.round_minor``) where the
engine finalizes them; the storage only scales, and refuses anything finer than a thousandth.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, String
from sqlalchemy.types import TypeDecorator

from compengine.core.money import from_thousandths, to_thousandths


class Thousandths(TypeDecorator):
    """An amount (a Decimal in its currency's minor units) stored as a BIGINT of thousandths of a unit.

    Read back with two places when it is a whole number of cents, else three
    (:func:`compengine.core.money.from_thousandths`)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> int | None:  # noqa: ANN001
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("refusing to store a float as money")
        return to_thousandths(Decimal(value))

    def process_result_value(self, value: int | None, dialect) -> Decimal | None:  # noqa: ANN001
        return None if value is None else from_thousandths(int(value))


Cents = Thousandths  # the name migration 0001 (written when the ledger stored cents) imports: the same BIGINT


class DecimalText(TypeDecorator):
    """An exact Decimal stored as its canonical text."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> str | None:  # noqa: ANN001
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("refusing to store a float as a decimal")
        return f"{Decimal(value):f}"

    def process_result_value(self, value: str | None, dialect) -> Decimal | None:  # noqa: ANN001
        return None if value is None else Decimal(value)
