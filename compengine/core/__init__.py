"""Core value types shared by every layer: money, periods, sources and errors.

Inputs: plain strings, ints and Decimals. Outputs: immutable values. No I/O.
"""

from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.money import CENT, ZERO, D, Money, money_str, round_money
from compengine.core.periods import Period

__all__ = ["CENT", "ZERO", "D", "Money", "money_str", "round_money", "Period", "Source", "CompError", "CompErrors"]
