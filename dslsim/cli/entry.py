"""The console script: Ctrl-C at any moment, even while the CLI is still importing, ends with status 130 and one
line, never a traceback.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be, and inside the import machinery that
can be swallowed or turned into another error (an ``AssertionError`` from a module lock, or an interrupt lost in
``abc.register`` while numpy imports: seen about once in a hundred interrupts). So while a module is being imported
the interrupt waits: it is raised a moment later, once the import is done. After the command has finished, an
interrupt during the interpreter's shutdown is ignored, so the status is the command's."""

from __future__ import annotations

import signal
import sys
from types import FrameType

#: How soon a deferred interrupt is looked at again (s).
RECHECK_S = 0.02

_pending = False


def _importing(frame: FrameType | None) -> bool:
    """Whether the interrupted code is inside an import (a frame of Python's import machinery on the stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT, and the timer that looks again at one deferred: raise ``KeyboardInterrupt`` unless an import is
    under way, in which case look again shortly."""
    global _pending
    if signum == signal.SIGALRM and not _pending:
        return
    if _importing(frame):
        _pending = True
        signal.setitimer(signal.ITIMER_REAL, RECHECK_S)
        return
    _pending = False
    raise KeyboardInterrupt


def install() -> None:
    """Defer interrupts that arrive inside an import (main thread only, where Python handles signals). A process
    started with SIGINT ignored (a background job of a script, ``nohup``) keeps ignoring it, as Python does."""
    if hasattr(signal, "setitimer") and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_interrupt)
        signal.signal(signal.SIGALRM, _on_interrupt)


def main() -> None:
    """Run ``dslsim``; an interrupt before or after a command's own handling exits 130 quietly."""
    install()
    try:
        from dslsim.cli.main import main as run

        run()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # the command is over: shutting down is not interruptible
