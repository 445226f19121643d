"""The one exception tree of hilrig.

Every error hilrig raises derives from :class:`HilrigError` and carries a sentence a user can act
on: which file, board, port or value, what is wrong and what to do. Foreign exceptions (OSError,
serial.SerialException, pyocd and esptool errors, tomllib errors) are translated where they cross
into hilrig, with ``raise ... from exc`` so ``--debug`` users still see the cause.

    HilrigError
    ├── ConfigError            a target file, option or program header is wrong
    │   ├── TargetNotFound     --target names nothing we can find
    │   └── UnsetVariable      a board's port names an environment variable that is not set
    ├── ToolMissing            micropython, mpy-cross, qemu-system-* or a firmware file is absent
    ├── CompileError           mpy-cross rejected a program (the message is the compiler's)
    ├── IncompatibleMpy        a .mpy file cannot load on the board (version, arch, small-int bits)
    ├── MpyFormatError         bytes that are not a well-formed .mpy file
    ├── LinkError              the byte stream to a board failed (port vanished, emulator died)
    │   └── LinkTimeout        a read did not complete before its deadline
    ├── ReplError              the board does not speak the raw REPL as expected
    │   ├── FramingLost        the program's output held the raw REPL's framing bytes
    │   └── BoardReset         the board rebooted while a program ran (boot banner seen)
    ├── ProgramTimeout         a program ran past its wall-clock limit (carries its output so far)
    ├── BoardException         code run through the board fixture raised (type, message, traceback)
    ├── NotALiteral            board.eval's answer is not a Python literal
    ├── ExpectFailed           board.expect's pattern did not appear (time ran out, program ended)
    ├── BoardBroken            recovery failed; the remaining programs fail fast with this reason
    ├── FlashError             flashing or identifying a board failed
    │   └── WrongBoard         the attached board is not the one the target file names
    └── LeaseTimeout           another run holds every board of the target
"""

from __future__ import annotations


class HilrigError(Exception):
    """Base of every hilrig error; str() is the sentence shown to the user."""


class ConfigError(HilrigError):
    """A target file, command-line option or program header is wrong."""


class TargetNotFound(ConfigError):
    """--target names no target file."""


class UnsetVariable(ConfigError):
    """A board's ``port`` is ``${NAME}`` and NAME is not set (a simulator that is not running)."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class ToolMissing(HilrigError):
    """An external program or file hilrig needs is not installed."""


class CompileError(HilrigError):
    """mpy-cross rejected a program; the message is the compiler's own."""


class IncompatibleMpy(HilrigError):
    """A .mpy file cannot be loaded by the board's firmware."""


class MpyFormatError(HilrigError):
    """Bytes that are not a well-formed .mpy file."""


class LinkError(HilrigError):
    """The byte stream to a board failed: port vanished, emulator died, write refused."""


class LinkTimeout(LinkError):
    """A read did not complete before its deadline."""

    def __init__(self, message: str, received: bytes = b"") -> None:
        super().__init__(message)
        self.received = received


class ReplError(HilrigError):
    """The board did not answer as the raw REPL protocol says it must."""


class FramingLost(ReplError):
    """The program's output held the raw REPL's end-of-output byte (Ctrl-D), so where the output
    seemed to end was not where the program ended; bytes arrived after the prompt."""


class BoardReset(ReplError):
    """The board rebooted while a program ran (``machine.reset()``, a watchdog, a crash): its boot
    banner and friendly prompt arrived where the program's output should continue."""

    def __init__(self, message: str, stdout: bytes = b"") -> None:
        super().__init__(message)
        self.stdout = stdout


class ProgramTimeout(HilrigError):
    """A program ran past its wall-clock limit; ``stdout`` holds what it printed until then."""

    def __init__(self, message: str, stdout: bytes = b"") -> None:
        super().__init__(message)
        self.stdout = stdout


class BoardException(HilrigError):
    """Code run with the ``board`` fixture (``exec``, ``eval``, ``wait``) raised on the board.

    ``exc_type`` and ``message`` are the exception's as the board named them; ``traceback`` is
    the board's own traceback text and ``stdout`` what the code printed before it raised.
    """

    def __init__(
        self, exc_type: str, message: str, traceback: str, stdout: str = "", where: str = ""
    ) -> None:
        said = f"{exc_type}: {message}" if message else exc_type
        super().__init__(f"{where} raised {said}\n{traceback.rstrip()}" if where else said)
        self.exc_type = exc_type
        self.message = message
        self.traceback = traceback
        self.stdout = stdout


class NotALiteral(HilrigError):
    """``board.eval``: the repr the board printed is not a Python literal (a class instance,
    a function); ``text`` holds it."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


class ExpectFailed(HilrigError):
    """``board.expect``: the pattern did not appear before the deadline or the program's end;
    ``output`` is everything the program printed."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


class BoardBroken(HilrigError):
    """Recovery failed; the board is out of the run and the remaining programs fail fast."""


class FlashError(HilrigError):
    """Flashing, resetting or identifying a board failed."""


class WrongBoard(FlashError):
    """The attached board is not the one the target file names; nothing was written."""


class LeaseTimeout(HilrigError):
    """Every board of the target stayed in use by other runs past --hil-lock-timeout."""
