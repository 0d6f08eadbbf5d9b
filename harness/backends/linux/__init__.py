"""The `linux` backend (``--dut linux``): the running kernel in a network namespace.

``dut.py`` is the DUT (``LinuxDUT``), ``setup.py`` builds and removes the namespaces and starts
the control agent, ``agent.py`` (with ``agent_sockets.py``) is that agent, running inside the
DUT namespace, and ``values.py`` checks and converts what the backend hands the kernel.

Nothing is imported here: the agent runs with ``python -I -S`` and imports this package as
``linux`` with the standard library only.
"""
