"""`make run` boots a new user's M3IT Studio: migrate, demo seed, web app and a real worker; a signal stops both.

Installation is `make test`'s job (it has just run when this test runs), so the boot skips it with
`make -o <venv>/.installed`; everything after it is the real target, on SQLite and the filesystem
broker in a temporary var dir, as on a bare machine.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
SCRUBBED = (
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_BROKER_DIR",
    "M3IT_VAR_DIR",
    "MEDIA_ROOT",
    "EXPORT_ROOT",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)

pytestmark = pytest.mark.worker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """Just enough of a browser: cookies and Django's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def login(self, username: str, password: str) -> None:
        status, html = self.get("/login/")
        assert status == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
        request = urllib.request.Request(
            self.base + "/login/", data=form.encode(), headers={"Referer": self.base + "/login/"}
        )
        with self.opener.open(request, timeout=10) as response:
            assert "/login/" not in response.url, "login refused"


def _login_page_up(browser: Browser) -> bool:
    try:
        status, html = browser.get("/login/")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return status == 200 and 'id="id_username"' in html


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_run_serves_the_demo_with_a_worker_and_stops_both(tmp_path, stop_signal):
    if shutil.which("make") is None:
        message = "make is not installed; `make run` needs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    venv = sys.prefix
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(M3IT_VAR_DIR=str(tmp_path / "var"), DEBUG="true", PYTHONUNBUFFERED="1")
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "-o", f"{venv}/.installed", "run", f"VENV={venv}", f"PORT={port}", "WORKER_CONCURRENCY=1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        wait_for(lambda: _login_page_up(browser) or make.poll() is not None, timeout=240, what="the login page")
        assert make.poll() is None, log_path.read_text()[-3000:]

        # The demo logins are printed, and they work.
        output = log_path.read_text()
        logins = json.loads((tmp_path / "var" / "demo-logins.json").read_text())
        for username, password in logins.items():
            assert f"{username:<11} {password}" in output
        browser.login("admin", logins["admin"])

        # Both processes run: the web app and a real Celery worker, which finishes the demo jobs.
        tree = psutil.Process(make.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in tree]
        assert any("runserver" in c for c in commands), commands
        assert any("celery" in c and "worker" in c for c in commands), commands

        def demo_jobs_done() -> list[dict] | None:
            status, body = browser.get("/api/jobs/")
            jobs = json.loads(body)["results"] if status == 200 else []
            return jobs if len(jobs) == 3 and all(j["status"] == "succeeded" for j in jobs) else None

        jobs = wait_for(demo_jobs_done, timeout=240, interval=1, what="the demo jobs")
        assert sorted(j["done"] for j in jobs) == [20, 20, 40]
        status, home = browser.get("/")
        assert status == 200 and 'id="admin-overview"' in home
    finally:
        tree = psutil.Process(make.pid).children(recursive=True) if make.poll() is None else []
        with contextlib.suppress(ProcessLookupError):  # make died early: the assertion above says why
            os.killpg(make.pid, stop_signal)
        make.wait(timeout=60)
        gone, alive = psutil.wait_procs(tree, timeout=60)
        survivors = [" ".join(p.cmdline()) for p in alive if p.is_running()]
        for process in alive:
            process.kill()
    assert not survivors, f"still running after {stop_signal.name}: {survivors}"
    assert len(gone) >= 3  # bash, the web app, the worker (and its pool)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the web app still listens"
