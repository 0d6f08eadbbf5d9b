from __future__ import annotations

from ipaddress import IPv4Interface, IPv6Address
from pathlib import Path

import pytest

from harness.backends.interface import ConfigError, load_config

GOOD = """\
interface = "veth-dut"
dut_mac = "02:00:00:00:00:01"
tester_mac = "02:00:00:00:00:02"
dut_ipv4 = "198.51.100.1/24"
tester_ipv4 = "198.51.100.2"
other_ipv4 = "198.51.100.3"
dut_ipv6 = "2001:db8:1::1/64"
dut_ipv6_ll = "fe80::ff:fe00:1"
tester_ipv6 = "2001:db8:1::2"
tester_ipv6_ll = "fe80::ff:fe00:2"
other_ipv6 = "2001:db8:1::3"
mtu = 1400
[timers]
ipv4_reassembly_timeout = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dut.toml"
    path.write_text(text)
    return path


def test_a_good_config_loads(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.interface == "veth-dut"
    assert cfg.info.dut_ipv4 == IPv4Interface("198.51.100.1/24")
    assert cfg.info.tester_ipv6_ll == IPv6Address("fe80::ff:fe00:2")
    assert cfg.info.mtu == 1400
    assert cfg.info.timers == {"ipv4_reassembly_timeout": 2.0}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('interface = "veth-dut"\n', ""), "missing key 'interface'"),
        (lambda t: 'colour = "blue"\n' + t, "unknown key 'colour'"),
        (lambda t: t.replace('"02:00:00:00:00:01"', '"02:00:00:00:01"'), "dut_mac = '02:00:00:00:01' is not a MAC"),
        (lambda t: t.replace('"198.51.100.1/24"', '"198.51.100.1"'), "dut_ipv4 = '198.51.100.1' needs a prefix"),
        (lambda t: t.replace('"198.51.100.2"', '"2001:db8::2"'), "tester_ipv4 = '2001:db8::2' is not an IPv4"),
        (lambda t: t.replace('"2001:db8:1::3"', '"nope"'), "other_ipv6 = 'nope' is not an IPv6 address"),
        (lambda t: t.replace('"fe80::ff:fe00:1"', '"2001:db8:1::9"'), "dut_ipv6_ll = '2001:db8:1::9' is not a link-local"),
        (lambda t: t.replace("mtu = 1400", "mtu = 100"), "mtu = 100 must be an integer between"),
        (lambda t: t.replace("ipv4_reassembly", "ipv5_reassembly"), "unknown timer 'ipv5_reassembly_timeout'"),
        (lambda t: t.replace("timeout = 2", "timeout = -1"), "must be a positive number of seconds"),
        (lambda t: t.replace("= 1400", "= = 1400"), "not valid TOML"),
        (lambda t: t.replace('"02:00:00:00:00:02"', '"02:00:00:00:00:01"'), "dut_mac and tester_mac must differ"),
    ],
)
def test_bad_configs_give_one_clear_line(tmp_path: Path, edit: object, message: str) -> None:
    path = write(tmp_path, edit(GOOD))  # type: ignore[operator]
    with pytest.raises(ConfigError) as e:
        load_config(path)
    text = str(e.value)
    assert message in text
    assert text.startswith(str(path)) and "\n" not in text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_features_list_is_the_dut_profile(tmp_path: Path) -> None:
    text = GOOD.replace("mtu = 1400\n", 'mtu = 1400\nfeatures = ["mldv1", "igmpv2", "x-vendor-thing"]\n')
    assert load_config(write(tmp_path, text)).features == frozenset({"mldv1", "igmpv2", "x-vendor-thing"})
    assert load_config(write(tmp_path, GOOD)).features is None  # not said: an agent's hello may say


@pytest.mark.parametrize("value, problem", [('"mldv2"', "must be a list"), ('["mldv3"]', "unknown feature 'mldv3'")])
def test_bad_features_list_is_one_line(tmp_path: Path, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config(write(tmp_path, GOOD.replace("mtu = 1400\n", f"mtu = 1400\nfeatures = {value}\n")))
