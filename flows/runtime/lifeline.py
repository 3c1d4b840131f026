"""Processes that end with the feedwatch process that started them, however it ends:
a SIGKILL (the OOM killer, `timeout -s KILL`, a container stop) included.

The parent holds the only write end of a pipe for its whole life, and gives each
child a read end, which the child waits on in a thread. When the parent ends, for
any reason, the kernel closes the write end: the child's read returns end-of-file
and the child ends itself (SIGTERM, so that a server shuts down cleanly; SIGKILL if
that takes more than a few seconds). It waits, it does not poll, and it works the
same on Linux and macOS, where there is no parent-death signal.

Children started with a plain Popen get the read end as their standard input and
run their program through this module:

    python -m flows.runtime.lifeline MODULE ARGS...     # python -m MODULE ARGS..., on a lifeline

Worker processes get it as a multiprocessing Connection and call `hold` (flows.extract).
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

__all__ = ["GRACE", "hold", "read_end"]

GRACE = 5.0  # seconds a child has to end on its own SIGTERM before it is killed

_pipe: tuple[int, int] | None = None
_lock = threading.Lock()


def read_end() -> int:
    """The read end of this process's lifeline, to hand to a child.

    Both ends are close-on-exec: a child holds the read end only when it is handed
    over (as its stdin, or in a multiprocessing Connection), and no child ever holds
    the write end, which this process keeps open until it ends.
    """
    global _pipe
    with _lock:
        if _pipe is None:
            _pipe = os.pipe()
        return _pipe[0]


def hold(fd: int, grace: float = GRACE) -> None:
    """In a child: end this process once the parent's end of the lifeline `fd` closes."""

    def wait() -> None:
        while True:
            try:
                if not os.read(fd, 1):
                    break  # end-of-file: the parent is gone
            except InterruptedError:
                continue
            except OSError:
                break
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait, name="feedwatch-lifeline", daemon=True).start()


def _main(argv: list[str]) -> None:
    """`python -m flows.runtime.lifeline MODULE ARGS...`: run MODULE as `python -m` would, for as
    long as the lifeline on standard input is open."""
    if not argv:
        sys.exit("usage: python -m flows.runtime.lifeline MODULE [ARGS...] (the lifeline on stdin)")
    stdin = os.dup(0)  # the lifeline; the program itself reads nothing from stdin
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    hold(stdin)
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
