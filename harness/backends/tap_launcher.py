"""Fork server for the tap backend: import a module once, then fork one ``main(argv)`` per request.

    python tap_launcher.py stack_under_test.__main__ [MODULE ...]   (inside the TAP's namespace)

Each line on stdin is a JSON list of arguments; the launcher forks, answers ``pid <n>`` on
stdout, and the child runs ``module.main(argv)`` with stdout/stderr inherited, so its own
ready line ("stack_under_test on ...") follows. Starting a fresh stack then costs a fork
instead of an interpreter start and every import (~1 s on a loaded CI machine), which is what
lets the tap backend give every test a fresh host. Further MODULEs are imported too, before
the first fork: whatever the program would otherwise import lazily in every child. Children are reaped automatically
(SIGCHLD ignored); the backend ends them by pid. The module is named at run time, so the
harness imports nothing of the stack here.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import signal
import sys
import traceback

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """If the harness is killed, the launcher goes too, and with it every stack it forked, so
    no orphan keeps a TAP device (the namespace itself is swept by the linux backend)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main() -> int:
    _die_with_parent()
    module = importlib.import_module(sys.argv[1])
    for preload in sys.argv[2:]:
        importlib.import_module(preload)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        argv = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setpgid(0, 0)
                _die_with_parent()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                sys.stdin.close()
                code = int(module.main(argv) or 0)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 2
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(f"pid {pid}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
