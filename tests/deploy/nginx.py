"""Run Debian's nginx as an ordinary process with docs/nginx/mynagate.conf, on loopback."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .tls import TlsFiles

ROOT = Path(__file__).resolve().parents[2]
SITE_CONF = ROOT / "docs" / "nginx" / "mynagate.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def site_config(upstreams: list[int], http_port: int, https_port: int, tls: TlsFiles) -> str:
    """The shipped server blocks with only ports, addresses and certificate paths changed."""
    text = SITE_CONF.read_text()
    swaps = {
        "    server 127.0.0.1:8000;\n":
            "".join(f"    server 127.0.0.1:{p};\n" for p in upstreams),
        "listen 80;\n    listen [::]:80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;\n    listen [::]:443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "/etc/mynagate/tls/fullchain.pem": str(tls.fullchain),
        "/etc/mynagate/tls/privkey.pem": str(tls.key),
    }
    for old, new in swaps.items():
        assert old in text, f"{SITE_CONF} no longer has {old!r}: update this test with it"
        text = text.replace(old, new)
    return text


SIZE = {"k": 1024, "m": 1024 * 1024}
LOCATION = re.compile(r"location (=|~) (\S+) \{[^}]*?client_max_body_size (\d+)([km]);")
DEFAULT = re.compile(r"^    client_max_body_size (\d+)([km]);", re.MULTILINE)


def nginx_body_limit(path: str) -> int:
    """The client_max_body_size SITE_CONF applies to ``path`` (exact, then regex locations)."""
    text = SITE_CONF.read_text()
    found = [(kind, pattern, int(n) * SIZE[unit])
             for kind, pattern, n, unit in LOCATION.findall(text)]
    for kind, pattern, size in found:
        if kind == "=" and pattern == path:
            return size
    for kind, pattern, size in found:
        if kind == "~" and re.search(pattern, path):
            return size
    n, unit = DEFAULT.search(text).groups()  # type: ignore[union-attr]
    return int(n) * SIZE[unit]


def main_config(prefix: Path) -> str:
    # As root, nginx would hand requests to "nobody", who cannot enter the 0700 temp dir.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temps = "".join(f"    {kind}_temp_path {prefix / kind};\n"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'} info;\n"
            "events { worker_connections 128; }\n"
            "http {\n"
            "    log_format upstream '$request_method $uri $status $upstream_addr';\n"
            f"    access_log {prefix / 'access.log'} upstream;\n{temps}"
            f"    include {prefix / 'mynagate.conf'};\n}}\n")


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


def port_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


@dataclass
class Nginx:
    prefix: Path
    proc: subprocess.Popen[bytes]
    https_port: int

    @classmethod
    def start(cls, prefix: Path, upstreams: list[int], http_port: int, https_port: int,
              tls: TlsFiles) -> Nginx:
        (prefix / "mynagate.conf").write_text(site_config(upstreams, http_port, https_port, tls))
        (prefix / "nginx.conf").write_text(main_config(prefix))
        check = subprocess.run([NGINX, "-t", "-p", str(prefix), "-e", str(prefix / "error.log"),
                                "-c", str(prefix / "nginx.conf")], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen([NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"),
                                 "-c", str(prefix / "nginx.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(https_port, proc, "nginx")
        return cls(prefix, proc, https_port)

    def upstreams_used(self) -> set[str]:
        lines = (self.prefix / "access.log").read_text().splitlines()
        return {line.split()[-1] for line in lines if line.split()[-1] != "-"}

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM: fast shutdown of master and workers
        self.proc.wait(timeout=30)
