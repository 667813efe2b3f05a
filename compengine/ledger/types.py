"""Column types that store money and exact decimals identically on SQLite and PostgreSQL.

SQLAlchemy's ``Numeric`` goes through float on SQLite, so money is stored as
integer cents (:class:`Cents`) and other exact decimals (rates, multipliers,
attainment, split percents) as canonical strings (:class:`DecimalText`).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, String
from sqlalchemy.types import TypeDecorator

from compengine.core.money import from_cents, to_cents


class Cents(TypeDecorator):
    """A cent amount (Decimal with 2 places) stored as a BIGINT of minor units."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect) -> int | None:  # noqa: ANN001
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("refusing to store a float as money")
        return to_cents(Decimal(value))

    def process_result_value(self, value: int | None, dialect) -> Decimal | None:  # noqa: ANN001
        return None if value is None else from_cents(int(value))


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
