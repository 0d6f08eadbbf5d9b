"""The engine, the generator and the shrinker, on two in-process stacks that differ in one
choice (whether an echo request to a broadcast address is answered, RFC 1122 3.2.2.6), so the
tests run in virtual time and know the one difference there is to find."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

from fuzz.differential.cluster import signatures
from fuzz.differential.engine import Engine, NoLanes, Observation
from fuzz.differential.hunt import generate, shrink
from fuzz.differential.lanes import LanePool, configure
from fuzz.differential.shape import kind_of
from fuzz.differential.stimulus import Stimulus, stimuli
from fuzz.strategies.fragments import echo_request
from harness.backends.base import FrameDUT
from harness.backends.inprocess import InProcessDUT

DUTS = ["quiet", "answering"]


def _quiet() -> FrameDUT:
    return configure(InProcessDUT())


def _answering() -> FrameDUT:
    dut = configure(InProcessDUT())
    dut.set_echo_ignore_broadcasts(False)
    return dut


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine({"quiet": LanePool("quiet", 2, _quiet), "answering": LanePool("answering", 2, _answering)})
    try:
        yield engine
    finally:
        engine.close()


def _frame(dst: str) -> Stimulus:
    pkt = (Ether(src="02:00:00:00:00:02", dst="ff:ff:ff:ff:ff:ff" if dst.endswith(".255") else "02:00:00:00:00:01")
           / IP(src="198.51.100.2", dst=dst) / ICMP(id=0x77, seq=1) / b"broadcast?")
    return Stimulus("ipv4", (bytes(pkt),))


def test_the_same_answer_from_both_is_no_difference(engine: Engine) -> None:
    obs = engine.run(_frame("198.51.100.1"))
    assert not obs.differs
    assert obs.tokens["quiet"] and obs.tokens["quiet"] == obs.tokens["answering"]


def test_a_choice_one_stack_makes_differently_is_a_difference(engine: Engine) -> None:
    obs = engine.run(_frame("198.51.100.255"))
    assert obs.differs
    assert obs.tokens["quiet"] == ()
    (sig,) = signatures(obs, DUTS, kind_of(obs.stimulus, engine.symbols["quiet"]))
    assert "ICMP echo-reply" in sig and sig.endswith("from answering, not quiet")


def test_fragments_held_open_the_window_to_the_reassembly_timeout(engine: Engine) -> None:
    whole = echo_request(6, 0x42, bytes(40))
    head = (Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
            / IPv6(src="2001:db8:1::2", dst="2001:db8:1::1", nh=44) / bytes([58, 0, 0, 1, 0, 0, 0, 9]) / whole[:16])
    obs = engine.run(Stimulus("fragments6", (bytes(head),)))
    assert obs.window_s > 1.0  # the lanes' reassembly timeout is 1 s
    for dut in DUTS:  # RFC 8200 4.5: Time Exceeded, code 1, once the first fragment timed out
        assert any("time-exceeded/1" in t.kind for t in obs.tokens[dut]), obs.tokens[dut]


def test_generation_finds_the_difference_and_the_shrinker_makes_it_plain(engine: Engine) -> None:
    # Draw echo requests to our address or the subnet's broadcast address, with some noise.
    strategy = st.builds(lambda dst, data, tos: Stimulus("ipv4", (bytes(
        Ether(src="02:00:00:00:00:02", dst="ff:ff:ff:ff:ff:ff") / IP(src="198.51.100.2", dst=dst, tos=tos)
        / ICMP(id=5, seq=1) / data),)),
        st.sampled_from(["198.51.100.1", "198.51.100.255"]), st.binary(max_size=32), st.integers(0, 255))
    found: list[tuple[Observation, object]] = []
    generate(engine, strategy, until=lambda: bool(found) and len(found) > 3,
             on_observation=lambda obs, choices: found.append((obs, choices)) if obs.differs else None)
    obs, choices = found[0]
    (sig,) = signatures(obs, DUTS, kind_of(obs.stimulus, engine.symbols["quiet"]))

    def keeps(o: Observation) -> bool:
        return o.differs and sig in signatures(o, DUTS, kind_of(o.stimulus, engine.symbols["quiet"]))

    shrunk = shrink(engine, strategy, choices, keeps, budget_s=30)
    assert shrunk is not None
    pkt = Ether(shrunk.stimulus.frames[0])
    assert pkt[IP].dst == "198.51.100.255"
    assert bytes(pkt[ICMP].payload) == b"" and pkt[IP].tos == 0  # everything irrelevant shrunk away


def test_the_stimulus_strategy_draws_every_kind(engine: Engine) -> None:
    kinds: set[str] = set()
    generate(engine, stimuli(), until=lambda: len(kinds) == 3 or engine.done > 2000,
             on_observation=lambda obs, _: kinds.add(obs.stimulus.kind.rstrip("46")))
    assert kinds == {"ipv", "arp", "fragments"}  # ipv4/ipv6 and fragments4/6 share their prefix


def test_a_stack_that_raises_takes_its_lane_out_of_service_and_says_why(engine: Engine) -> None:
    lane = engine.pools["quiet"].lanes[0]

    def explode(frame: bytes) -> None:
        raise ValueError("totality bug")

    lane.device._transmit = explode  # type: ignore[method-assign]
    frame = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IPv6() / ICMPv6EchoRequest()
    obs = engine.run(Stimulus("ipv6", (bytes(frame),)))
    assert "totality bug" in " ".join(obs.notes)
    assert lane.failure is not None and "ValueError" in lane.failure


def test_a_dut_with_every_lane_out_of_service_ends_the_batch_and_frees_the_others(engine: Engine) -> None:
    for lane in engine.pools["quiet"].lanes:
        lane.failure = "wedged"
    with pytest.raises(NoLanes, match="every quiet lane is out of service: wedged"):
        engine.submit(_frame("198.51.100.1"), lambda obs: None)
    assert all(lane.job is None for lane in engine.pools["answering"].lanes)
    engine.drain(limit_s=1.0)  # returns: nothing is left busy
