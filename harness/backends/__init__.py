"""DUT backends and their registry: name -> how to build one, whether it can run here, what it is.

The pytest plugin and the CLI look a backend up here by the name given to ``--dut``. A test
(or a third-party conftest) may ``register()`` its own backend, e.g. a fake DUT for the
plugin's own tests. Backend modules are imported only when used, so listing backends never
needs root, raw sockets or a working stack.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from harness.capture import Capture
    from harness.dut import DUT


@dataclass(frozen=True)
class BackendOptions:
    """What the plugin hands a backend factory."""

    config: Path | None  # --dut-config, already checked to exist and parse as TOML
    capture: Capture | None  # the pcap recorder the DUT feeds; the plugin starts/stops it per test


@dataclass(frozen=True)
class Backend:
    name: str
    description: str
    factory: Callable[[BackendOptions], DUT]
    # None when the backend can run here (with this --dut-config), else the reason in words a
    # user can act on ("needs root for network namespaces").
    check_available: Callable[[Path | None], str | None]
    # True: one DUT per (worker) session and ``reset()`` before each test (costly set-up such
    # as network namespaces). False: a fresh DUT for every test, closed after it.
    shared: bool = False
    # Who is tested, for results.json and the reports (harness/identity.py): kernel release,
    # stack version and commit, a device's build. Static: known without starting a DUT.
    identity: Callable[[Path | None], dict[str, str]] = lambda config: {}
    # Workers per CPU that ``stackcheck run -n auto`` starts: more than one where the tests
    # mostly wait on a real DUT in real time (each worker has a DUT of its own).
    workers_per_cpu: int = 1


# The linux and tap suites spend most of their time asleep in silence windows and DUT timers:
# measured on 2 idle cores (1,291 tests), linux took 186 s of wall time and 49 s of CPU on 6
# workers, 87 s and 78 s of CPU on 24; tap 89 s on 16, 87 s on 24 (work stealing throughout).
# With 1,705 tests (same machine): linux 114-120 s on 16 workers, 106 s on 20, 99 s on 24, 94 s
# on 28; tap 116 s on 16, 96 s on 24, 88 s on 32. Each worker costs about 1.1 s of CPU to start
# (pytest, Scapy, collecting the suite). Since each worker starts testing as soon as it has
# collected (harness.eager_start) and the tap agent no longer imports Scapy: linux 79 s on 24
# workers, 73 s on 32 but with both CPUs busy for 20 s of it (Linux's TCP timers then see late
# answers); tap 71 s on 24, 61 s on 32, 66 s on 40 (start-up takes 26 s). So ``-n auto`` alone
# on the machine means 12 per CPU for linux and 16 for tap, whose stack does its work between
# frames while the tester waits. `make test` runs both suites at once beside the unit tests and
# asks for 3 per CPU each: at 24 workers each the testers answered the DUT's TCP segments 300 ms
# late, past Linux's 200-ms retransmission timer, and at 12 each the DUT kernel's MLD reports
# and link-local address came late (four fresh-clone runs, four different failures).
WAITING_WORKERS_PER_CPU: Final = 12
TAP_WORKERS_PER_CPU: Final = 16

_REGISTRY: dict[str, Backend] = {}


def register(backend: Backend) -> None:
    """Add a backend, or replace the one of the same name."""
    _REGISTRY[backend.name] = backend


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> Backend:
    """The backend called ``name``; KeyError (one readable line) names the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown DUT backend {name!r} (known: {', '.join(names())})") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def read_config(path: Path) -> dict[str, Any]:
    """Parse a --dut-config TOML file; ValueError with one readable line on any problem."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"DUT config {path} does not exist") from None
    except OSError as e:
        raise ValueError(f"cannot read DUT config {path}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"DUT config {path} is not valid TOML: {e}") from None


def _module(name: str) -> Any:
    return importlib.import_module(f"harness.backends.{name}")


# ---- the built-in backends -------------------------------------------------------------


def _inprocess(options: BackendOptions) -> DUT:
    dut: DUT = _module("inprocess").InProcessDUT(capture=options.capture)
    return dut


def _linux(options: BackendOptions) -> DUT:
    dut: DUT = _module("linux.dut").LinuxDUT(capture=options.capture)
    return dut


def _linux_available(config: Path | None) -> str | None:
    reason: str | None = _module("linux.dut").check_available()
    return reason


def _interface(options: BackendOptions) -> DUT:
    module = _module("interface")
    if options.config is None:
        raise module.ConfigError("the interface backend needs --dut-config PATH")
    config = module.load_config(options.config)
    if config.command is not None:  # [dut]: the harness owns the DUT's process
        managed: DUT = _module("managed").ManagedDUT(config, capture=options.capture)
        return managed
    dut: DUT = module.InterfaceDUT(config, capture=options.capture)
    return dut


def _interface_available(config: Path | None) -> str | None:
    if config is None:
        return "needs --dut-config PATH, a TOML file naming the interface and the DUT's addresses"
    module = _module("interface")
    try:
        module.load_config(config)
    except module.ConfigError as e:
        return str(e)
    return None


def _our_stack(config: Path | None) -> dict[str, str]:
    from harness import identity

    return identity.our_stack()


def _linux_identity(config: Path | None) -> dict[str, str]:
    from harness import identity
    from harness.backends.linux.values import CONGESTION_CONTROL

    return {**identity.kernel(), "tcp_congestion_control": CONGESTION_CONTROL}


def _interface_identity(config: Path | None) -> dict[str, str]:
    # What the configuration's optional [build] table says about the device (firmware, version).
    if config is None:
        return {}
    try:
        build = read_config(config).get("build", {})
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in build.items()} if isinstance(build, dict) else {}


register(Backend("inprocess", "stack_under_test over a channel link, virtual time",
                 _inprocess, lambda config: None, identity=_our_stack))
register(Backend("linux", "the Linux kernel in a network namespace over veth (needs root)",
                 _linux, _linux_available, shared=True, identity=_linux_identity, workers_per_cpu=WAITING_WORKERS_PER_CPU))
register(Backend("interface", "any stack behind a named interface, raw frames (--dut-config TOML)",
                 _interface, _interface_available, shared=True, identity=_interface_identity))


# ---- tap: our stack as a real process over a TAP, raw frames like interface ---------------
def _tap(options: BackendOptions) -> DUT:
    tap = _module("tap")
    dut: DUT = tap.TapDUT(capture=options.capture, clock_rate=tap.clock_rate(options.config))
    return dut


def _tap_available(config: Path | None) -> str | None:
    tap = _module("tap")
    try:
        tap.clock_rate(config)
    except ValueError as e:
        return str(e)
    reason: str | None = tap.check_available()
    return reason


def _tap_identity(config: Path | None) -> dict[str, str]:
    # The stack's clock rate belongs with the results: its timers ran that much faster.
    try:
        rate = _module("tap").clock_rate(config)
    except ValueError:
        return _our_stack(config)
    return {**_our_stack(config), "clock": "real time" if rate == 1 else f"{rate:g} x real time"}


register(Backend("tap", "stack_under_test as a process on a TAP device in a netns (needs root)",
                 _tap, _tap_available, shared=True, identity=_tap_identity, workers_per_cpu=TAP_WORKERS_PER_CPU))


# ---- lwip: lwIP 2.1.3 (Debian's liblwip-dev) through our C control agent, on a TAP in a netns ----
def _lwip(options: BackendOptions) -> DUT:
    dut: DUT = _module("lwip").LwipDUT(capture=options.capture)
    return dut


def _lwip_available(config: Path | None) -> str | None:
    reason: str | None = _module("lwip").check_available()
    return reason


def _lwip_identity(config: Path | None) -> dict[str, str]:
    identity: dict[str, str] = _module("lwip").identity()
    return identity


register(Backend("lwip", "lwIP 2.1.3 through its C control agent on a TAP in a netns (needs root)",
                 _lwip, _lwip_available, shared=True, identity=_lwip_identity, workers_per_cpu=3))
