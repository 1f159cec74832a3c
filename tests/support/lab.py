"""A throwaway JupyterLab server on 127.0.0.1 for browser tests.

Config, data, runtime, workspace and settings folders live under one temporary folder, so
the user's own Jupyter setup neither affects nor sees the test. The server runs in its own
process group: stopping it also ends its kernels.

    with Lab(root_dir, env={"NBREASON_BASE_URL": url}) as lab:
        page.goto(lab.url("lab/tree/example.ipynb"))
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Settings that keep pop-ups (news, update checks) out of screenshots.
QUIET_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"checkForUpdates": False, "fetchNews": "false"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, root_dir: str | Path, env: dict[str, str] | None = None, startup_timeout: float = 60):
        self.root_dir = Path(root_dir)
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._home = tempfile.TemporaryDirectory(prefix="nbreason-lab-")
        self.log_path = Path(self._home.name) / "lab.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def start(self) -> "Lab":
        home = Path(self._home.name)
        dirs = {name: home / name for name in ("config", "data", "runtime", "workspaces", "settings")}
        for folder in dirs.values():
            folder.mkdir()
        for name, values in QUIET_SETTINGS.items():
            target = dirs["settings"] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        env = {**os.environ, **self.extra_env,
               "JUPYTER_CONFIG_DIR": str(dirs["config"]), "JUPYTER_DATA_DIR": str(dirs["data"]),
               "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "JUPYTER_PLATFORM_DIRS": "1"}
        for tries_left in (2, 1, 0):
            command = [
                sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
                "--LabApp.expose_app_in_browser=True",
                f"--LabApp.workspaces_dir={dirs['workspaces']}", f"--LabApp.user_settings_dir={dirs['settings']}",
                "--ServerApp.port_retries=0", "--allow-root", "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ]
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True, cwd=self.root_dir)
            if self._wait_until_up(port_may_be_taken=tries_left > 0):
                return self
            # The port was free when chosen, yet another process bound it before JupyterLab did.
            self.port = free_port()
        return self

    def _wait_until_up(self, port_may_be_taken: bool = False) -> bool:
        """True once JupyterLab answers; False if it exited because its port was taken meanwhile."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if port_may_be_taken and f"port {self.port} is" in self.log():
                    return False
                raise RuntimeError(f"JupyterLab exited ({self.process.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not start in {self.startup_timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            pgid = os.getpgid(self.process.pid)
            os.killpg(pgid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self._home.cleanup()
