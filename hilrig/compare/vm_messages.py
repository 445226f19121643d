"""Exception messages the MicroPython VM writes itself, at each error-reporting level and version.

A message a program constructs (``raise ValueError('bad %s' % flag)``) is compared exactly on every
board. Only a message the VM generates may read differently on the board than in the reference,
and only in the ways this table records, taken from MicroPython's ``py/*.c`` (1.9.2 and 1.29) and
checked on the emulated micro:bit (1.9.2, NORMAL), the host VM (1.29, DETAILED) and CPython 3.11.
See docs/comparison.md.

Each row of ``TABLE`` is one message site, as printf-style templates (``%d`` a number, ``%q``
and ``%s`` a name, ``%c`` a character, ``%x`` hex digits), separated by `` | ``:

    type | DETAILED, 1.10+ | NORMAL, 1.10+ | NORMAL and DETAILED, before 1.10 | TERSE, 1.10+ | TERSE, before 1.10

``-`` means the version has no such message; ``(none)`` an empty message; `` OR `` separates texts
that builds of one version print. At the NONE level (1.10+) every VM message is empty.

Two messages are the same VM message when both match templates of one row that their boards can
print (by level and version), and what the less detailed one says is part of what the other says:
its numbers and names, in order. ``f() takes 1 positional arguments but 2 were given`` (DETAILED)
and ``function takes 1 positional arguments but 2 were given`` (NORMAL) are; the same NORMAL text
with ``3 were given`` is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from hilrig.capabilities import Capabilities, ErrorReporting

REWORDED_IN = (1, 10, 0)  # "is not" -> "isn't", "division" -> "divide" (MicroPython b01f66c5f1)

TABLE = """\
TypeError | %q() takes %d positional arguments but %d were given | function takes %d positional arguments but %d were given | function takes %d positional arguments but %d were given | argument num/types mismatch | argument num/types mismatch
TypeError | function takes %d positional arguments but %d were given | function takes %d positional arguments but %d were given | function takes %d positional arguments but %d were given | argument num/types mismatch | argument num/types mismatch
TypeError | function missing %d required positional arguments | function missing %d required positional arguments | function missing %d required positional arguments | argument num/types mismatch | argument num/types mismatch
TypeError | function expected at most %d arguments, got %d | function expected at most %d arguments, got %d | function expected at most %d arguments, got %d | argument num/types mismatch | argument num/types mismatch
TypeError | function doesn't take keyword arguments | function doesn't take keyword arguments | function does not take keyword arguments | argument num/types mismatch | argument num/types mismatch
TypeError | '%q' argument required | '%q' argument required | '%q' argument required | argument num/types mismatch | argument num/types mismatch
TypeError | extra positional arguments given | extra positional arguments given | extra positional arguments given | argument num/types mismatch | argument num/types mismatch
TypeError | extra keyword arguments given | extra keyword arguments given | extra keyword arguments given | argument num/types mismatch | argument num/types mismatch
TypeError | unexpected keyword argument '%q' | unexpected keyword argument '%q' | unexpected keyword argument '%q' | unexpected keyword argument | unexpected keyword argument
TypeError | %q() takes %d positional arguments but %d were given | function takes %d positional arguments but %d were given | function takes %d positional arguments but %d were given | argument num/types mismatch | argument num/types mismatch
TypeError | unexpected keyword argument '%q' | unexpected keyword argument '%q' | unexpected keyword argument '%q' | argument num/types mismatch | argument num/types mismatch
TypeError | function got multiple values for argument '%q' | function got multiple values for argument '%q' | function got multiple values for argument '%q' | argument num/types mismatch | argument num/types mismatch
TypeError | argument should be a '%q' not a '%q' | argument has wrong type | argument has wrong type | argument has wrong type | argument has wrong type
AttributeError | '%s' object has no attribute '%q' | '%s' object has no attribute '%q' | '%s' object has no attribute '%q' | no such attribute | no such attribute
AttributeError | type object '%q' has no attribute '%q' | type object '%q' has no attribute '%q' | type object '%q' has no attribute '%q' | no such attribute | no such attribute
AttributeError | module '%q' has no attribute '%q' | 'module' object has no attribute '%q' | 'module' object has no attribute '%q' | no such attribute | no such attribute
NameError | name '%q' isn't defined | name '%q' isn't defined | name '%q' is not defined | name not defined | name not defined
TypeError | unsupported types for %q: '%s', '%s' | unsupported types for %q: '%s', '%s' | unsupported types for %q: '%s', '%s' | unsupported type for operator | unsupported type for operator
TypeError | unsupported type for %q: '%s' | unsupported type for %q: '%s' | unsupported type for %q: '%s' | unsupported type for operator | unsupported type for operator
TypeError | '%s' object isn't callable | '%s' object isn't callable | '%s' object is not callable | object not callable | object not callable
TypeError | '%s' object isn't subscriptable | '%s' object isn't subscriptable | '%s' object is not subscriptable | object isn't subscriptable | object is not subscriptable
TypeError | '%s' object doesn't support item assignment | '%s' object doesn't support item assignment | '%s' object does not support item assignment | object doesn't support item assignment | object does not support item assignment
TypeError | '%s' object doesn't support item deletion | '%s' object doesn't support item deletion | '%s' object does not support item deletion | object doesn't support item deletion | object does not support item deletion
TypeError | '%s' object isn't iterable | '%s' object isn't iterable | '%s' object is not iterable | object not iterable | object not iterable
TypeError | '%s' object isn't an iterator | '%s' object isn't an iterator | '%s' object is not an iterator | object not an iterator | object not an iterator
TypeError | object of type '%s' has no len() | object of type '%s' has no len() | object of type '%s' has no len() | object has no len | object has no len
IndexError | %q index out of range | %q index out of range | %q index out of range | index out of range | index out of range
TypeError | %q indices must be integers, not %s | %q indices must be integers, not %s | %q indices must be integers, not %s | indices must be integers | indices must be integers
TypeError | object '%s' isn't a tuple or list | object '%s' isn't a tuple or list | object '%s' is not a tuple or list | expected tuple/list | expected tuple/list
ValueError | requested length %d but object has length %d | requested length %d but object has length %d | requested length %d but object has length %d | tuple/list has wrong length | tuple/list has wrong length
ValueError | need more than %d values to unpack | need more than %d values to unpack | need more than %d values to unpack | wrong number of values to unpack | wrong number of values to unpack
ValueError | too many values to unpack (expected %d) | too many values to unpack (expected %d) | too many values to unpack (expected %d) | wrong number of values to unpack | wrong number of values to unpack
TypeError | can't convert %s to int | can't convert %s to int | can't convert %s to int | can't convert to int | can't convert to int
TypeError | can't convert %s to float | can't convert %s to float | can't convert %s to float | can't convert to float | can't convert to float
TypeError | can't convert %s to complex | can't convert %s to complex | can't convert %s to complex | can't convert to complex | can't convert to complex
TypeError | can't convert '%q' object to %q implicitly | can't convert '%q' object to %q implicitly | can't convert '%q' object to %q implicitly | can't convert to str implicitly | can't convert to str implicitly
ValueError | invalid syntax for integer with base %d: '%s' | invalid syntax for integer with base %d | invalid syntax for integer with base %d | invalid syntax for integer | invalid syntax for integer
TypeError | ord() expected a character, but string of length %d found | ord() expected a character, but string of length %d found | ord() expected a character, but string of length %d found | ord expects a character | ord expects a character
LookupError | unknown encoding: %q | unknown encoding: %q | - | (none) | -
TypeError | string argument without an encoding | string argument without an encoding | wrong number of arguments | wrong number of arguments | wrong number of arguments
ImportError | no module named '%q' | no module named '%q' | no module named '%q' | module not found | module not found
TypeError | __init__() should return None, not '%s' | __init__() should return None, not '%s' | __init__() should return None, not '%s' | __init__() should return None | __init__() should return None
TypeError | can't create '%q' instances | can't create '%q' instances | cannot create '%q' instances | can't create instance | cannot create instance
TypeError | type '%q' isn't an acceptable base type | type '%q' isn't an acceptable base type | type '%q' is not an acceptable base type | type isn't an acceptable base type | type is not an acceptable base type
ValueError | single '}' encountered in format string | single '}' encountered in format string | single '}' encountered in format string | bad format string | bad format string
ValueError | end of format while looking for conversion specifier | bad conversion specifier | bad conversion specifier | bad format string | bad format string
ValueError | unknown conversion specifier %c | bad conversion specifier | bad conversion specifier | bad format string | bad format string
ValueError | unmatched '{' in format | unmatched '{' in format | unmatched '{' in format | bad format string | bad format string
ValueError | expected ':' after format specifier | expected ':' after format specifier | expected ':' after format specifier | bad format string | bad format string
ValueError | can't switch from automatic field numbering to manual field specification | can't switch from automatic field numbering to manual field specification | can't switch from automatic field numbering to manual field specification | bad format string | bad format string
ValueError | can't switch from manual field specification to automatic field numbering | can't switch from manual field specification to automatic field numbering | can't switch from manual field specification to automatic field numbering | bad format string | bad format string
ValueError | invalid format specifier | invalid format specifier | invalid format specifier | bad format string | bad format string
ValueError | sign not allowed in string format specifier | sign not allowed in string format specifier | sign not allowed in string format specifier | bad format string | bad format string
ValueError | sign not allowed with integer format specifier 'c' | sign not allowed with integer format specifier 'c' | sign not allowed with integer format specifier 'c' | bad format string | bad format string
ValueError | unknown format code '%c' for object of type '%s' | unknown format code '%c' for object of type '%s' | unknown format code '%c' for object of type '%s' | bad format string | bad format string
ValueError | '=' alignment not allowed in string format specifier | '=' alignment not allowed in string format specifier | '=' alignment not allowed in string format specifier | bad format string | bad format string
ValueError | incomplete format key | incomplete format key | incomplete format key | bad format string | bad format string
ValueError | incomplete format | incomplete format | incomplete format | bad format string | bad format string
ValueError | unsupported format character '%c' (0x%x) at index %d | unsupported format character '%c' (0x%x) at index %d | unsupported format character '%c' (0x%x) at index %d | bad format string | bad format string
SyntaxError | expecting key:value for dict | expecting key:value for dict | expecting key:value for dictionary | invalid syntax | invalid syntax
SyntaxError | expecting just a value for set | expecting just a value for set | expecting just a value for set | invalid syntax | invalid syntax
ValueError | regex too complex | regex too complex | Error in regex | Error in regex | Error in regex
ZeroDivisionError | divide by zero | divide by zero | division by zero | divide by zero | division by zero
ZeroDivisionError | complex divide by zero | complex divide by zero | complex division by zero | complex divide by zero | complex division by zero
ImportError | can't import name %q | can't import name %q | cannot import name %q | can't import name %q | cannot import name %q
ValueError | slice step can't be zero | slice step can't be zero | slice step cannot be zero | slice step can't be zero | slice step cannot be zero
RuntimeError | no active exception to reraise | no active exception to reraise | No active exception to reraise | no active exception to reraise | No active exception to reraise
TypeError | format string needs more arguments | format string needs more arguments | not enough arguments for format string | format string needs more arguments | not enough arguments for format string
TypeError | format string didn't convert all arguments | format string didn't convert all arguments | not all arguments converted during string formatting | format string didn't convert all arguments | not all arguments converted during string formatting
TypeError | %c needs int or char | %c needs int or char | %c requires int or char | %c needs int or char | %c requires int or char
TypeError | format needs a dict | format needs a dict | format requires a dict | format needs a dict | format requires a dict
IndentationError | unindent doesn't match any outer indent level | unindent doesn't match any outer indent level | unindent does not match any outer indentation level | unindent doesn't match any outer indent level | unindent does not match any outer indentation level
SyntaxError | argument name reused | argument name reused | name reused for argument | argument name reused | name reused for argument
SyntaxError | positional arg after keyword arg | positional arg after keyword arg | non-keyword arg after keyword arg | positional arg after keyword arg | non-keyword arg after keyword arg
SyntaxError | positional arg after ** | positional arg after ** | non-keyword arg after */** | positional arg after ** | non-keyword arg after */**
ValueError | chr() arg not in range(0x110000) OR char not in range(0x110000) | chr() arg not in range(0x110000) OR char not in range(0x110000) | chr() arg not in range(0x110000) | chr() arg not in range(0x110000) OR char not in range(0x110000) | chr() arg not in range(0x110000)
"""

_FIELD = re.compile(r"%[dqscx]")
_CAPTURE = {"%d": r"(-?\d+)", "%x": r"([0-9a-f]+)", "%c": r"(.)", "%q": r"(.*?)", "%s": r"(.*?)"}
_D, _N, _T, _Z = (
    ErrorReporting.DETAILED,
    ErrorReporting.NORMAL,
    ErrorReporting.TERSE,
    ErrorReporting.NONE,
)


@dataclass(frozen=True)
class Variant:
    """One way a message site prints: the pattern, the levels and versions that print it."""

    pattern: re.Pattern[str]
    levels: frozenset[ErrorReporting]
    new: bool  # printed by 1.10 and later (else: before 1.10)
    detail: int  # how much it says: the level it belongs to


@dataclass(frozen=True)
class Site:
    """A message site of the VM: its exception type and every variant."""

    exc_type: str
    variants: tuple[Variant, ...]


def _pattern(template: str) -> re.Pattern[str]:
    parts = _FIELD.split(template)
    fields = _FIELD.findall(template)
    regex = re.escape(parts[0])
    for field, part in zip(fields, parts[1:], strict=True):
        regex += _CAPTURE[field] + re.escape(part)
    return re.compile(regex)


def _variants(cell: str, levels: set[ErrorReporting], new: bool, detail: int) -> Iterator[Variant]:
    if cell == "-":
        return
    for text in cell.split(" OR "):
        text = "" if text == "(none)" else text
        yield Variant(_pattern(text), frozenset(levels), new, detail)


def _site(line: str) -> Site:
    exc_type, detailed, normal, old, terse, old_terse = line.split(" | ")
    variants = [
        *_variants(detailed, {_D}, True, 3),
        *_variants(normal, {_N}, True, 2),
        *_variants(old, {_N, _D}, False, 2),
        *_variants(terse, {_T}, True, 1),
        *_variants(old_terse, {_T}, False, 1),
        Variant(re.compile(""), frozenset({_Z}), True, 0),
    ]
    return Site(exc_type, tuple(variants))


SITES: tuple[Site, ...] = tuple(_site(line) for line in TABLE.splitlines() if line)


def _printed(site: Site, message: str, caps: Capabilities) -> tuple[int, tuple[str, ...]] | None:
    """(detail, the numbers and names it carries) when a board with ``caps`` prints ``message``
    at ``site``; None otherwise."""
    new = caps.version >= REWORDED_IN
    for variant in site.variants:
        if caps.error_reporting in variant.levels and variant.new == new:
            match = variant.pattern.fullmatch(message)
            if match is not None:
                return variant.detail, match.groups()
    return None


def _within(less: tuple[str, ...], more: tuple[str, ...]) -> bool:
    """``less`` is a subsequence of ``more``."""
    rest = iter(more)
    return all(any(value == other for other in rest) for value in less)


def same_vm_message(
    exc_type: str, board: str, reference: str, caps: Capabilities, ref_caps: Capabilities
) -> bool:
    """True when ``board`` and ``reference`` are one VM message as the two boards print it."""
    for site in SITES:
        if site.exc_type != exc_type:
            continue
        on_board = _printed(site, board, caps)
        on_ref = _printed(site, reference, ref_caps)
        if on_board is None or on_ref is None:
            continue
        (b_detail, b_values), (r_detail, r_values) = on_board, on_ref
        if b_detail == r_detail and b_values == r_values:
            return True
        if b_detail < r_detail and _within(b_values, r_values):
            return True
        if r_detail < b_detail and _within(r_values, b_values):
            return True
    return False
