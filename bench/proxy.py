"""A rate-limited registry for the CI runner scenario: nginx with `limit_rate` in front of the
bed's registry, on another loopback port, so pulls take the time they take on a CI runner's
network. Both engines treat 127.0.0.0/8 registries as insecure, so plain HTTP is enough."""

import re
import subprocess
import time
import urllib.request
from pathlib import Path

NGINX = "/usr/sbin/nginx"
CONFIG = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{}}
http {{
    log_format bench '$request_method $uri $status $body_bytes_sent';
    access_log {dir}/access.log bench;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_set_header Host $http_host;
            # limit_rate paces buffered responses only; buffered in memory, never in a temp file.
            proxy_buffering on;
            proxy_max_temp_file_size 0;
            proxy_request_buffering off;
            limit_rate {rate};
        }}
    }}
}}
"""


class RateLimitedRegistry:
    """nginx in the foreground, started and stopped by this object (a context manager).
    `limit_rate` applies per connection, as a runner's link does not: BuildKit pulls a few
    layers at once, so an image with several big layers comes faster than `rate` alone says."""

    def __init__(self, directory: Path, port: int, mb_per_s: float, upstream: str):
        self.dir, self.port, self.upstream = directory, port, upstream
        self.rate = f"{int(mb_per_s * 1_000_000)}"
        self.address = f"127.0.0.1:{port}"
        self.proc = None

    def __enter__(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(CONFIG.format(dir=self.dir, port=self.port, upstream=self.upstream, rate=self.rate))
        self.proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(conf), "-g", "daemon off; user root;"],
                                     stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: nginx stopped at start: {self.proc.stderr.read()}")
            try:
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1)
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise SystemExit(f"bench: nginx did not answer on {self.address}")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def log_offset(self):
        path = self.dir / "access.log"
        return path.stat().st_size if path.exists() else 0

    def pulled(self, since):
        """Bytes of blobs served after offset `since` of the access log, and how many blobs."""
        with open(self.dir / "access.log", "rb") as f:
            f.seek(since)
            lines = f.read().decode(errors="replace").splitlines()
        sizes = [int(m.group(1)) for m in (re.match(r"GET /v2/\S+/blobs/\S+ 200 (\d+)$", l) for l in lines) if m]
        return sum(sizes), len(sizes)
