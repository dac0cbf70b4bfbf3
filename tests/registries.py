"""Real container registries for the resolution tests: Debian's ``docker-registry`` (CNCF
distribution) on a free loopback port, with anonymous, htpasswd (basic) or token authentication, a
small token server that signs JWTs the registry trusts, and images pushed through the registry's
HTTP API (config blob, layer blob, OCI or Docker manifests, OCI index) built by the tests.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import urllib3

from tests.servers import free_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

REGISTRY_BINARY = shutil.which("docker-registry")


def registry_missing() -> str | None:
    """Why the registry tests cannot run here, or None. In CI (SAGEMAKER_IMAGES_REQUIRE_REGISTRY=1)
    a missing registry is a failure, not a skip."""
    missing = [tool for tool in ("docker-registry", "htpasswd") if shutil.which(tool) is None]
    if not missing:
        return None
    reason = f"{' and '.join(missing)} not installed (apt-get install -y docker-registry apache2-utils)"
    if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_REGISTRY") == "1":
        raise RuntimeError(reason)
    return reason


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- token authentication ---------------------------------------------------------------------------


class TokenIssuer:
    """A self-signed RSA key and certificate; JWTs signed with it, carrying the cert in ``x5c``."""

    def __init__(self, directory: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-token-issuer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = directory / "token-ca.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._der = self.cert.public_bytes(serialization.Encoding.DER)

    def token(self, service: str, scope: str | None) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        if scope:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self._der).decode()]}
        claims = {
            "iss": "test-issuer",
            "sub": "tester",
            "aud": service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """``GET /token?service=…&scope=…`` with HTTP basic credentials, as Docker's token protocol."""

    def __init__(self, issuer: TokenIssuer, user: str, password: str) -> None:
        self.issuer = issuer
        self.user, self.password = user, password
        self.port = free_port()
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                expected = "Basic " + base64.b64encode(f"{owner.user}:{owner.password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                    return
                token = owner.issuer.token(query.get("service", ""), query.get("scope"))
                self._answer(200, {"token": token, "expires_in": 300})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def __enter__(self) -> TokenServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the registry ----------------------------------------------------------------------------------


@dataclass
class Auth:
    """How the registry authenticates: ``basic`` (htpasswd) or ``token`` (realm of a token server)."""

    kind: str
    user: str = "pusher"
    password: str = "s3cret-pass"
    token_server: TokenServer | None = None


class DockerRegistry:
    """``docker-registry serve CONFIG`` on a free loopback port, with its storage in ``directory``."""

    def __init__(self, directory: Path, auth: Auth | None = None) -> None:
        self.directory = directory
        self.auth = auth
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.http = urllib3.PoolManager(retries=False, timeout=10)
        self._token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _config(self) -> Path:
        storage = self.directory / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {storage}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            f"  secret: {uuid.uuid4().hex}",
        ]
        if self.auth is not None and self.auth.kind == "basic":
            htpasswd = self.directory / "htpasswd"
            line = subprocess.run(
                ["htpasswd", "-Bbn", self.auth.user, self.auth.password],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            htpasswd.write_text(line + "\n")
            lines += ["auth:", "  htpasswd:", "    realm: test-registry", f"    path: {htpasswd}"]
        elif self.auth is not None and self.auth.kind == "token":
            server = self.auth.token_server
            assert server is not None
            lines += [
                "auth:",
                "  token:",
                f"    realm: {server.realm}",
                "    service: test-registry",
                "    issuer: test-issuer",
                f"    rootcertbundle: {server.issuer.bundle}",
            ]
        path = self.directory / "config.yml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 30.0) -> DockerRegistry:
        assert REGISTRY_BINARY is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "registry.log", "ab")  # noqa: SIM115
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self.process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(self._config())], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited; see {self.directory / 'registry.log'}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> DockerRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- pushing, through the registry HTTP API ---------------------------------------------------

    def _request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.auth is not None:
            headers["Authorization"] = self._authorization(url)
        if not url.startswith("http"):
            url = self.url + url
        return self.http.request(method, url, body=body, headers=headers, redirect=False)

    def _authorization(self, url: str) -> str:
        assert self.auth is not None
        if self.auth.kind == "basic":
            return "Basic " + base64.b64encode(f"{self.auth.user}:{self.auth.password}".encode()).decode()
        # A token for everything this test pushes: one per repository and push.
        path = urllib.parse.urlsplit(url).path.split("/v2/", 1)[1]
        repository = path.split("/blobs/")[0].split("/manifests/")[0]
        server = self.auth.token_server
        assert server is not None
        return "Bearer " + server.issuer.token("test-registry", f"repository:{repository}:pull,push")

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        answer = self._request("POST", f"/v2/{repository}/blobs/uploads/")
        assert answer.status == 202, (answer.status, answer.data)
        location = answer.headers["Location"]
        separator = "&" if "?" in location else "?"
        answer = self._request(
            "PUT",
            f"{location}{separator}digest={digest}",
            body=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert answer.status == 201, (answer.status, answer.data)
        return digest

    def push_manifest(self, repository: str, reference: str, manifest: dict, media_type: str) -> str:
        data = json.dumps(manifest).encode()
        answer = self._request(
            "PUT", f"/v2/{repository}/manifests/{reference}", body=data, headers={"Content-Type": media_type}
        )
        assert answer.status == 201, (answer.status, answer.data)
        assert answer.headers["Docker-Content-Digest"] == digest_of(data)
        return digest_of(data)

    def push_image(self, repository: str, tag: str, *, oci: bool = True, content: bytes | None = None) -> str:
        """A one-layer image (its own config and layer blobs) tagged ``tag``; its manifest digest."""
        content = content or uuid.uuid4().bytes
        config = (
            json.dumps(
                {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
            ).encode()
            + content.hex().encode()
        )
        layer = content
        config_digest = self.push_blob(repository, config)
        layer_digest = self.push_blob(repository, layer)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {"mediaType": OCI_LAYER if oci else DOCKER_LAYER, "digest": layer_digest, "size": len(layer)}
            ],
        }
        return self.push_manifest(repository, tag, manifest, manifest["mediaType"])

    def push_index(self, repository: str, tag: str) -> tuple[str, list[str]]:
        """An OCI image index of two platform images; (index digest, manifest digests)."""
        children = []
        for arch in ("amd64", "arm64"):
            digest = self.push_image(repository, f"{tag}-{arch}")
            children.append((arch, digest))
        sizes = {}
        for _, digest in children:
            answer = self._request(
                "GET", f"/v2/{repository}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}
            )
            sizes[digest] = len(answer.data)
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": sizes[digest],
                    "platform": {"architecture": arch, "os": "linux"},
                }
                for arch, digest in children
            ],
        }
        return self.push_manifest(repository, tag, index, OCI_INDEX), [d for _, d in children]


def docker_config(directory: Path, host: str, user: str, password: str) -> Path:
    """A Docker config directory (for ``DOCKER_CONFIG``) whose ``auths`` hold credentials for ``host``."""
    directory.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return directory


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers: a registry that hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = sock.accept()
                accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        sock.close()
