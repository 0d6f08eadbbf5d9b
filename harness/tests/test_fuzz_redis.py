"""`stackcheck fuzz --db redis://...`: many processes (and machines) share one campaign.

A throwaway redis-server on 127.0.0.1 (free port, no persistence, temp dir) serves as the
example database. A campaign of two worker processes runs a planted property that fails; Hypothesis
saves the shrunk counterexample in Redis. A third, separate process then replays that database
with the `replay` profile, which generates nothing (phases explicit and reuse only), so the
failure it reports can only have come from what the campaign saved in Redis. A replay against an
empty Redis database passes, which shows the failure is not found any other way.

Hypothesis saves only failing (and pareto-front) examples, so a campaign that finds nothing
leaves nothing to share; hence the planted failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzz.campaign import TARGETS, Target
from harness.cli import fuzz as fuzz_cli
from harness.cli import main as cli

redis = pytest.importorskip("redis", reason="needs the redis package: pip install -e '.[fuzz]' (make test does)")

# The database key Hypothesis uses depends on the test's source, so the planted property lives in
# its own file; it takes its settings from fuzz/profiles.py like every real target.
PLANTED = '''
from hypothesis import given, strategies as st

from fuzz.profiles import budget


@budget(60)
@given(st.integers(min_value=0, max_value=1000))
def test_planted(n):
    assert n < 500, "planted failure"
'''


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server on loopback only, without persistence, stopped afterwards whatever happens."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("needs redis-server: apt-get install redis-server (make test installs it when run as root)")
    port = _free_loopback_port()
    data = tmp_path / "redis"
    data.mkdir()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(data), "--daemonize", "no", "--protected-mode", "yes"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        limit = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > limit:
                    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                    pytest.fail(f"redis-server did not start on 127.0.0.1:{port}:\n{out[-2000:]}")
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _replay(planted: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HYPOTHESIS_PROFILE="replay", STACKCHECK_FUZZ_DB=url,
               PYTHONPATH=os.pathsep.join(filter(None, [str(fuzz_cli.REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(planted), "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         f"--rootdir={planted.parent}", "-o", "addopts="],
        cwd=planted.parent, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_campaign_processes_share_one_redis_example_database(redis_url: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    planted = tmp_path / "test_planted.py"
    planted.write_text(PLANTED, encoding="utf-8")
    monkeypatch.setitem(TARGETS, "planted", Target(str(planted), "test_planted", atheris=None))
    report = tmp_path / "report" / "fuzz-report.json"
    shared = f"{redis_url}/0"

    status = cli.main(["fuzz", "--target", "planted", "--workers", "2", "--duration", "60s",
                       "--db", shared, "--report", str(report)])
    out = capsys.readouterr().out
    assert status == fuzz_cli.EXIT_FAILED, out
    assert "planted: " in out and "distinct failure(s)" in out

    # The campaign's processes wrote their counterexample into Redis, under the project's prefix.
    client = redis.Redis.from_url(shared)
    try:
        keys = client.keys(b"stackcheck-fuzz:*")
        assert keys, "the campaign saved nothing in Redis"
        saved = set().union(*(client.smembers(k) for k in keys if client.type(k) == b"set"))
        assert saved, f"no examples in the Redis sets {keys!r}"
    finally:
        client.close()

    # Another process, generating nothing, replays the shared database and finds the failure.
    replay = _replay(planted, shared)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "planted failure" in replay.stdout
    assert "n=500" in replay.stdout  # the shrunk counterexample the campaign saved

    # Control: the same replay against an empty database runs nothing that fails.
    empty = _replay(planted, f"{redis_url}/1")
    assert empty.returncode == 0, empty.stdout + empty.stderr
