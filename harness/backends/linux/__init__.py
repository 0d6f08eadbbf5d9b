"""The `linux` backend (``--dut linux``): the running kernel in a network namespace.

``dut.py`` is the DUT (``LinuxDUT``), ``setup.py`` builds and removes the namespaces and starts
the control agent, ``agent.py`` is that agent, serving the DUT control protocol from inside the
DUT namespace (with ``kernel.py`` for sysctls, ``ip`` and the reset, ``agent_sockets.py`` for
UDP sockets and groups), ``values.py`` checks and converts what the agent hands the kernel, and
``sniff.py`` reads back what the tester sent.

Nothing is imported here: the agent runs with ``python -I -S`` and imports this package as
``linux`` with the standard library only.
"""
