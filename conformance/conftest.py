"""The conformance suite. Everything it needs comes from the stackcheck pytest plugin
(harness/plugin.py, loaded through its entry point): --dut, the `dut` fixture, the @rfc
marker, per-test pcaps and results.json. Tests here import only `harness` and Scapy."""
