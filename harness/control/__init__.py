"""The DUT control protocol: how the harness drives any stack's control agent.

``protocol`` (wire format, error codes, feature names; standard library only), ``verbs`` (the
``harness.dut.DUT`` verbs as messages), ``client`` (the harness's end), ``server`` (the agent's
end, for agents in Python) and ``agent_check`` (the protocol's own conformance test, to run
against any agent). The specification is ``docs/control-protocol.md``.
"""
