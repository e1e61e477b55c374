"""`make serve` starts the production server (gunicorn, DEBUG off, static files collected) for a quick try.

As in test_make_run, installation is skipped with `make -o <venv>/.installed`; the rest is the real target,
on SQLite in a temporary var dir. It must answer on the port it was given, sign a user in, serve the
collected static files, show DEBUG off (a 404 page without Django's debug page), and stop on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import psutil
import pytest

from tests.conftest import wait_for
from tests.test_make_run import ROOT, SCRUBBED, Browser, _free_port, _login_page_up

pytestmark = pytest.mark.worker


def test_make_serve_answers_with_gunicorn_and_production_settings(tmp_path):
    if shutil.which("make") is None:
        message = "make is not installed; `make serve` needs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    venv = sys.prefix
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(M3IT_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "make-serve.log"
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "-o", f"{venv}/.installed", "serve", f"VENV={venv}", f"PORT={port}", "WEB_WORKERS=2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        wait_for(lambda: _login_page_up(browser) or make.poll() is not None, timeout=180, what="the login page")
        assert make.poll() is None, log_path.read_text()[-3000:]

        commands = [" ".join(p.cmdline()) for p in psutil.Process(make.pid).children(recursive=True)]
        commands.append(" ".join(psutil.Process(make.pid).cmdline()))
        assert any("gunicorn" in c and "config.wsgi" in c for c in commands), commands
        assert sum("gunicorn" in c for c in commands) >= 3, commands  # the arbiter and its 2 workers

        status, html = browser.get("/no-such-page/")
        assert status == 404 and "DEBUG = True" not in html and "Traceback" not in html
        css = re.search(r'href="(/static/[^"]+\.css)"', browser.get("/login/")[1]).group(1)
        assert re.search(r"\.[0-9a-f]{12}\.css$", css), css  # hashed name: collectstatic's manifest
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{css}", timeout=10) as response:
            assert response.status == 200 and response.read()

        # The server has its own database under tmp_path: make a user there, then sign in through gunicorn.
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from django.contrib.auth.models import User; User.objects.create_user('tryer', password='pw-tryer-1')"],
            cwd=ROOT, env={**env, "DEBUG": "true"}, check=True, capture_output=True,
        )  # fmt: skip
        browser.login("tryer", "pw-tryer-1")
        status, _ = browser.get("/")
        assert status == 200
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=60)
    with contextlib.suppress(urllib.error.URLError, ConnectionError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
        pytest.fail("the server still answers after SIGTERM")
