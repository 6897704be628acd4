"""The opt-in COOP/COEP server extension: off by default, headers when on, on a real server."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from traitlets.config import Config

from jupyterlab_uga.isolation import CrossOriginIsolation, apply_isolation

REPO = Path(__file__).resolve().parent.parent


def test_off_by_default_and_headers_when_on():
    settings = {"headers": {"X-Frame-Options": "DENY"}}
    assert apply_isolation(settings, CrossOriginIsolation()) == {}
    assert settings == {"headers": {"X-Frame-Options": "DENY"}}
    on = CrossOriginIsolation(config=Config({"CrossOriginIsolation": {"enabled": True}}))
    apply_isolation(settings, on)
    assert settings["headers"] == {
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp",
    }
    cl = CrossOriginIsolation(config=Config({"CrossOriginIsolation": {"enabled": True, "embedder_policy": "credentialless"}}))
    assert cl.headers()["Cross-Origin-Embedder-Policy"] == "credentialless"
    bad = CrossOriginIsolation(config=Config({"CrossOriginIsolation": {"enabled": True, "embedder_policy": "unsafe-none"}}))
    with pytest.raises(ValueError, match="require-corp, credentialless"):
        bad.headers()


def test_config_file_enables_the_extension():
    cfg = json.loads((REPO / "jupyter-config" / "server-config" / "jupyterlab_uga_isolation.json").read_text())
    assert cfg["ServerApp"]["jpserver_extensions"] == {"jupyterlab_uga.isolation": True}
    assert '"jupyter-config/server-config" = "etc/jupyter/jupyter_server_config.d"' in (REPO / "pyproject.toml").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _headers_of_running_server(tmp_path: Path, *args: str) -> dict[str, str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    cmd = [sys.executable, "-m", "jupyter_server", f"--port={port}", "--no-browser", "--IdentityProvider.token=t",
           "--ServerApp.jpserver_extensions={'jupyterlab_uga.isolation': True}", f"--ServerApp.root_dir={tmp_path}", *args]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=t", timeout=2) as r:
                    return dict(r.headers.items())
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    out = proc.stdout.read().decode() if proc.poll() is not None else ""
                    raise AssertionError(f"server did not answer: {out[-2000:]}")
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_real_server_sends_headers_only_when_enabled(tmp_path):
    off = _headers_of_running_server(tmp_path)
    assert "Cross-Origin-Opener-Policy" not in off
    on = _headers_of_running_server(tmp_path, "--CrossOriginIsolation.enabled=True")
    assert on["Cross-Origin-Opener-Policy"] == "same-origin"
    assert on["Cross-Origin-Embedder-Policy"] == "require-corp"
