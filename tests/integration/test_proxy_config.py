"""deploy/proxy/nginx.conf, checked by nginx itself (issue 14 §3: the API behind a reverse
proxy with TLS): `nginx -t`, then nginx running it in front of a stand-in API, with the
proxy service's health check from deploy/compose.yaml run as compose runs it.

Rewritten for this machine, and nothing else: the certificate paths (a throwaway
self-signed certificate), the upstream `api:8000` (a local stand-in), the listen ports, and,
for an nginx older than 1.25.1 (Debian 12 has 1.22), `http2 on;` as the older
`listen … ssl http2` (the compose image is nginx 1.27)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deploy.tansu import free_port
from tests.integration.compose_support import DEPLOY, as_argv, load_compose, read_env_file

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (apt-get install nginx-light; "
                          "deploy/install-system-deps.sh installs it)")


def nginx_version() -> tuple[int, ...]:
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, timeout=10).stderr
    return tuple(int(x) for x in re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out).groups())


def self_signed(tls: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "casegrid.example.invalid")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    tls.mkdir(parents=True)
    (tls / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tls / "tls.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def local_conf(tmp: Path, api: int, http: int, https: int) -> Path:
    conf = (DEPLOY / "proxy" / "nginx.conf").read_text(encoding="utf-8")
    self_signed(tmp / "tls")
    swaps = [("/etc/nginx/tls/", f"{tmp}/tls/"), ("server api:8000;", f"server 127.0.0.1:{api};"),
             ("listen 80;", f"listen 127.0.0.1:{http};"), ("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;"),
             ("listen [::]:80;", ""), ("listen [::]:443 ssl;", "")]
    if nginx_version() < (1, 25, 1):
        swaps += [("http2 on;", ""), (f"listen 127.0.0.1:{https} ssl;", f"listen 127.0.0.1:{https} ssl http2;")]
    for old, new in swaps:
        assert old in conf, f"deploy/proxy/nginx.conf no longer has {old!r}: update this test"
        conf = conf.replace(old, new)
    (tmp / "logs").mkdir()
    path = tmp / "nginx.conf"
    path.write_text(conf, encoding="utf-8")
    return path


class StandIn(BaseHTTPRequestHandler):
    """The API's answers the proxy passes on: /healthz and /metrics."""

    def do_GET(self):  # noqa: N802 - http.server's name
        body = b'{"status": "ok"}' if self.path == "/healthz" else b"casegrid_store_up 1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Proto", self.headers.get("X-Forwarded-Proto", ""))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_nginx_accepts_the_proxy_config(tmp_path: Path):
    conf = local_conf(tmp_path, free_port(), free_port(), free_port())
    r = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf),
                        "-g", f"pid {tmp_path}/nginx.pid;"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "syntax is ok" in r.stderr and "test is successful" in r.stderr


def test_the_proxy_serves_tls_redirects_http_hides_metrics_and_passes_its_healthcheck(tmp_path: Path):
    api = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    http, https = free_port(), free_port()
    conf = local_conf(tmp_path, api.server_address[1], http, https)
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf),
                              "-g", f"daemon off; pid {tmp_path}/nginx.pid;"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        env = {k: v or "set" for k, v in read_env_file(DEPLOY / ".env.example").items()}
        test = load_compose(env)["services"]["proxy"]["healthcheck"]["test"]
        argv = [a.replace("https://127.0.0.1/", f"https://127.0.0.1:{https}/") for a in as_argv(test)]
        assert f"127.0.0.1:{https}" in " ".join(argv)
        deadline = time.monotonic() + 20
        while (r := subprocess.run(argv, capture_output=True, timeout=10)).returncode != 0:
            assert time.monotonic() < deadline and nginx.poll() is None, r
            time.sleep(0.3)
        import ssl

        ctx = ssl.create_default_context(cafile=str(tmp_path / "tls" / "tls.crt"))
        ctx.check_hostname = False
        with urllib.request.urlopen(f"https://127.0.0.1:{https}/healthz", context=ctx, timeout=5) as resp:
            assert resp.status == 200 and resp.headers["X-Seen-Proto"] == "https"
            assert resp.headers["Strict-Transport-Security"].startswith("max-age=63072000")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"https://127.0.0.1:{https}/metrics", context=ctx, timeout=5)
        assert e.value.code == 404

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{http}/cases", timeout=5)
        assert e.value.code == 301 and e.value.headers["Location"].startswith("https://")
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        api.shutdown()
