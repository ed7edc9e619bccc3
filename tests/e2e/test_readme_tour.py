"""README's tour, executed against a real ``taizhang serve`` process.

The python block tagged ``tour`` in README.md runs as written, with BASE_URL
and TOKEN taken from a server this test starts with the documented commands.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def tour_code() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    match = re.search(r"```python tour\n(.*?)```", text, re.S)
    assert match, "README.md has no ```python tour block"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def later_years(data_dir: Path) -> None:
    """Test-only schedules for years the calendar package does not know yet.

    The server runs on the wall clock; once the real date passes 2026 it needs
    the State Council's schedule. These plain Monday-Friday schedules stand in
    for it here only.
    """
    calendar_dir = data_dir / "calendar"
    calendar_dir.mkdir(parents=True, exist_ok=True)
    for year in range(2027, 2031):
        schedule = {"year": year, "holidays": [], "workdays": [], "source": "test stand-in"}
        (calendar_dir / f"{year}.json").write_text(json.dumps(schedule), "utf-8")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path / "tz"
    taizhang = [sys.executable, "-m", "taizhang.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAIZHANG_")}
    init = subprocess.run(
        [*taizhang, "init", "--data-dir", str(data_dir), "--json"],
        capture_output=True, text=True, env=env, check=True, cwd=ROOT,
    )
    token = json.loads(init.stdout)["token"]
    later_years(data_dir)
    port = free_port()
    process = subprocess.Popen(
        [*taizhang, "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"taizhang serve did not come up:\n{output}")
            time.sleep(0.1)
        yield base_url, token
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_readme_tour_runs_against_a_real_server(server: tuple[str, str]) -> None:
    base_url, token = server
    namespace: dict[str, object] = {"BASE_URL": base_url, "TOKEN": token}
    exec(compile(tour_code(), "README.md#tour", "exec"), namespace)  # noqa: S102
    health = httpx.get(f"{base_url}/health").json()
    assert health["store"] == "sqlite"
    assert health["log_length"] >= 8
