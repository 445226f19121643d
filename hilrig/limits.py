"""The allowed range of every number a user gives hilrig, checked in one place.

Options (``--hil-timeout``, ``--hil-count``, ``--hil-lock-timeout``), the ini value
``hilrig_timeout``, target-file fields and ``# hilrig: timeout_s=`` directives all go through
:meth:`Limit.check`, so ``-1``, ``0``, ``nan``, ``inf``, ``ten`` and ``1e12`` are refused with one
sentence naming the setting, the value and the range, instead of a traceback or a board that
"times out" at once (``nan`` compares false with everything, so a bare ``< minimum`` lets it by).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hilrig.errors import ConfigError

DAY_S = 86_400.0


@dataclass(frozen=True)
class Limit:
    """An inclusive range for one kind of number, and the unit it is counted in."""

    low: float
    high: float
    unit: str = ""  # "seconds", "runs", "bytes"; "" when the number has none
    whole: bool = False

    def describe(self) -> str:
        """'a number from 0.1 to 86400 seconds', as messages say it."""
        kind = "a whole number" if self.whole else "a number"
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind} from {_plain(self.low)} to {_plain(self.high)}{unit}"

    def check(self, value: object, what: str) -> float:
        """``value`` (a number, or text from a command line) as a number in range.

        ConfigError says ``what`` (e.g. "--hil-timeout", "targets/x.toml: field timeout_s"),
        the value as given, and the range.
        """
        number = _number(value, self.whole)
        if number is None or not math.isfinite(number) or not self.low <= number <= self.high:
            raise ConfigError(f"{what} = {_shown(value)} is not allowed: use {self.describe()}.")
        return number

    def check_whole(self, value: object, what: str) -> int:
        """:meth:`check` for a whole-number limit, typed as int."""
        return int(self.check(value, what))


TIMEOUT = Limit(0.1, DAY_S, "seconds")  # a program's wall-clock limit
LOCK_TIMEOUT = Limit(0.0, DAY_S, "seconds")  # 0: take a free board now or give up, do not wait
COUNT = Limit(1, 1000, "runs", whole=True)
FLASH_TIMEOUT = Limit(1.0, DAY_S, "seconds")  # one board's flashing, erase included
HEAP = Limit(4096, 2**30, "bytes", whole=True)  # [hostvm] heap_bytes: the unix port's GC heap


def _number(value: object, whole: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip()) if whole else float(value)
        except ValueError:
            return None
    if isinstance(value, int) or (isinstance(value, float) and not whole):
        return float(value)
    return None


def _plain(number: float) -> str:
    """86400 rather than 86400.0 or 8.64e+04."""
    return str(int(number)) if number == int(number) else str(number)


def _shown(value: object) -> str:
    return value if isinstance(value, str) else repr(value)
