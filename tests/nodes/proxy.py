"""nginx in front of real ``serve`` processes, running the shipped configuration.

``docs/deploy/panic.nginx.conf`` is used as it is, with only its ports
replaced: ``listen 80`` by the test's port, the example ``server
127.0.0.1:800N`` lines by one line per process (their parameters kept). A
main configuration around it puts the pid file, logs and temporary folders
in the test's folder, and logs which process served each request
(``$upstream_addr``), so a test can tell that consecutive requests went to
different processes.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "docs" / "deploy" / "panic.nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
_UPSTREAM = re.compile(r"^(\s*server 127\.0\.0\.1:)\d+(\b.*)$")

MAIN = """\
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    log_format served '$request_method $request_uri $status $upstream_addr';
    access_log {folder}/access.log served;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/panic.conf;
}}
"""


def site(port: int, upstreams: list[int]) -> str:
    """The shipped site file with its ports replaced, and nothing else."""
    lines: list[str] = []
    placed = False
    for line in SITE.read_text().splitlines():
        found = _UPSTREAM.match(line)
        if found is None:
            lines.append(line)
        elif not placed:
            lines.extend(f"{found[1]}{up}{found[2]}" for up in upstreams)
            placed = True
    text = "\n".join(lines) + "\n"
    assert placed, "the shipped file has no upstream server lines"
    assert text.count("listen 80;") == 1, "the shipped file has no single listen line"
    return text.replace("listen 80;", f"listen 127.0.0.1:{port};")


@dataclass
class Nginx:
    """A running nginx: its URL and what it logged."""

    url: str
    folder: Path
    process: trio.Process
    marks: int = 0

    async def served(self) -> list[tuple[str, str, int, str]]:
        """``(method, uri, status, upstream addresses)`` of each request, in order.

        nginx logs a request after it has sent the response, so the client can
        read the log before the line is there. A marker request goes last, and
        its line is awaited: the one worker logs each request before it reads
        the next, so every request answered before the marker is logged by then.
        """
        self.marks += 1
        marker = f"/healthz?logged={self.marks}"
        async with httpx.AsyncClient() as http:
            await http.get(f"{self.url}{marker}")
        with trio.fail_after(5):
            while True:
                rows = []
                for line in (self.folder / "access.log").read_text().splitlines():
                    method, uri, status, upstream = line.split(" ", 3)
                    rows.append((method, uri, int(status), upstream))
                if any(uri == marker for _, uri, _, _ in rows):
                    return [row for row in rows if not row[1].startswith("/healthz?logged=")]
                await trio.sleep(0.02)

    def errors(self) -> str:
        return (self.folder / "error.log").read_text(errors="replace")


def write_config(folder: Path, port: int, upstreams: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "panic.conf").write_text(site(port, upstreams))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the 0700 folder
    (folder / "nginx.conf").write_text(MAIN.format(folder=folder, user=user))


async def start_nginx(folder: Path, port: int, upstreams: list[int]) -> Nginx:
    """Start nginx (in the foreground, as a child) and wait until it accepts connections."""
    if not os.access(NGINX, os.X_OK):
        pytest.skip("needs nginx (apt-get install nginx)")
    write_config(folder, port, upstreams)
    error_log = folder / "error.log"
    command = [NGINX, "-p", str(folder), "-e", str(error_log), "-c", str(folder / "nginx.conf")]
    process = await trio.lowlevel.open_process([*command, "-g", "daemon off;"])
    nginx = Nginx(f"http://127.0.0.1:{port}", folder, process)
    with trio.fail_after(15):
        async with httpx.AsyncClient() as http:
            while True:
                assert process.poll() is None, nginx.errors()
                try:
                    await http.get(f"{nginx.url}/healthz")
                    return nginx
                except httpx.TransportError:
                    await trio.sleep(0.05)
