"""`kmc publish`: push a chart package to an OCI registry the way `helm push` lays it out.

One manifest (OCI image manifest) with Helm's media types: the config blob is Chart.yaml as JSON,
the one layer is the .tgz. The tag is the chart version (`+` written `_`, as Helm does), the
repository is `<path of the reference>/<chart name>`. Nothing time-dependent goes in, so the same
package always has the same manifest digest.

A chart version is published once: kmc first GETs the tag's manifest, and refuses (without --force)
to replace a chart package other than its own; the same package again sends nothing.

The registry protocol is the OCI distribution API over HTTP(S) (urllib): HEAD a blob, else POST +
PUT it; PUT the manifest. Authentication: none, Basic, or the Bearer token flow a 401 asks for.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kmc.errors import KmcError
from kmc.output.chart_package import Package

CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"
CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
TIMEOUT = 30.0

_REFERENCE = re.compile(r"oci://(?P<host>[A-Za-z0-9.-]+(?::[0-9]{1,5})?)(?P<path>(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)/?")


@dataclasses.dataclass(frozen=True)
class Reference:
    host: str  # host[:port]
    repository: str  # path inside the registry, chart name included
    tag: str

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}:{self.tag}"


@dataclasses.dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def parse_reference(text: str, package: Package) -> Reference:
    """`oci://HOST[:PORT]/PATH` as `helm push` reads it: the chart's name and version are appended."""
    match = _REFERENCE.fullmatch(text)
    if match is None:
        raise KmcError(
            f"{text!r} is not an OCI registry reference; expected oci://HOST[:PORT]/REPOSITORY (lower-case path, no tag: the chart version is the tag)"
        )
    path = match["path"].strip("/")
    repository = f"{path}/{package.name}" if path else package.name
    return Reference(match["host"], repository, package.version.replace("+", "_"))


def manifest(package: Package) -> tuple[bytes, bytes]:
    """(config blob, manifest) of a chart package; both byte-stable for the same package."""
    config = json.dumps(package.metadata, sort_keys=True, separators=(",", ":"), default=str).encode()
    annotations = {
        "org.opencontainers.image.title": package.name,
        "org.opencontainers.image.version": package.version,
    }
    if package.metadata.get("description"):
        annotations["org.opencontainers.image.description"] = str(package.metadata["description"])
    document = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": CHART_MEDIA_TYPE, "digest": _digest(package.content), "size": len(package.content)}],
        "annotations": annotations,
    }
    return config, json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def docker_credentials(host: str, environ: Mapping[str, str] = os.environ) -> Credentials | None:
    """The `auths` entry for `host` in Docker's config.json (what `docker login`/`helm registry login` write)."""
    config_dir = Path(environ.get("DOCKER_CONFIG") or Path(environ.get("HOME", "~")).expanduser() / ".docker")
    try:
        config = json.loads((config_dir / "config.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise KmcError(f"{config_dir / 'config.json'}: cannot read Docker credentials: {err}") from None
    auths = config.get("auths", {}) if isinstance(config, dict) else {}
    for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v2/"):
        entry = auths.get(key)
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise KmcError(f"{config_dir / 'config.json'}: the auth entry for {host} is not base64 of user:password") from None
            return Credentials(username, password)
    return None


class Registry:
    """A registry session: remembers the Authorization a 401 asked for."""

    def __init__(self, host: str, plain_http: bool, credentials: Credentials | None) -> None:
        self.base = f"{'http' if plain_http else 'https'}://{host}"
        self.host = host
        self.credentials = credentials
        self.authorization: str | None = None

    def request(self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None, retry: bool = True) -> tuple[int, Any]:
        status, response_headers, _ = self.exchange(method, url, body, headers, retry)
        return status, response_headers

    def exchange(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None, retry: bool = True
    ) -> tuple[int, Any, bytes]:
        """(status, headers, body) of one request; a 404 of a HEAD or GET is an answer, not an error."""
        full = url if url.startswith(("http://", "https://")) else self.base + url
        request = urllib.request.Request(full, data=body, method=method, headers=dict(headers or {}))
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as err:
            if err.code == 401 and retry:
                self._authenticate(err.headers.get("WWW-Authenticate", ""))
                return self.exchange(method, url, body, headers, retry=False)
            if err.code == 401:
                raise KmcError(f"{self.host}: the registry refused the credentials ({method} {urllib.parse.urlsplit(full).path}: 401 Unauthorized)") from None
            if err.code == 404 and method in ("HEAD", "GET"):
                return 404, err.headers, b""
            detail = _registry_error(err)
            raise KmcError(f"{self.host}: {method} {urllib.parse.urlsplit(full).path} failed: {err.code} {err.reason}{detail}") from None
        except urllib.error.URLError as err:
            raise KmcError(f"cannot reach the registry {self.host}: {err.reason}") from None
        except (TimeoutError, ConnectionError) as err:
            raise KmcError(f"cannot reach the registry {self.host}: {err}") from None

    def _authenticate(self, challenge: str) -> None:
        scheme, _, params = challenge.partition(" ")
        if self.credentials is None:
            raise KmcError(
                f"{self.host}: the registry asks for credentials; give --username and --password-stdin, or log in with `helm registry login {self.host}`"
            )
        basic = "Basic " + base64.b64encode(f"{self.credentials.username}:{self.credentials.password}".encode()).decode()
        if scheme.lower() == "basic":
            self.authorization = basic
            return
        if scheme.lower() != "bearer":
            raise KmcError(f"{self.host}: the registry asks for {scheme or 'an unknown'} authentication, which kmc does not speak")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if "realm" not in fields:
            raise KmcError(f"{self.host}: the registry's Bearer challenge names no token realm")
        query = urllib.parse.urlencode({key: value for key, value in fields.items() if key in ("service", "scope")})
        request = urllib.request.Request(f"{fields['realm']}?{query}", headers={"Authorization": basic})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                token = json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise KmcError(f"{self.host}: the token service refused the credentials ({err.code} {err.reason})") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as err:
            raise KmcError(f"{self.host}: cannot get a token from {fields['realm']}: {err}") from None
        self.authorization = "Bearer " + str(token.get("token") or token.get("access_token") or "")

    def push_blob(self, repository: str, data: bytes) -> None:
        digest = _digest(data)
        status, _ = self.request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if status == 200:
            return  # already there: pushing twice uploads nothing
        _, headers = self.request("POST", f"/v2/{repository}/blobs/uploads/", b"", {"Content-Length": "0"})
        location = headers.get("Location")
        if not location:
            raise KmcError(f"{self.host}: the registry started an upload without a Location")
        location = urllib.parse.urljoin(self.base + "/", location)
        separator = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{separator}digest={urllib.parse.quote(digest)}", data, {"Content-Type": "application/octet-stream"})

    def push_manifest(self, reference: Reference, document: bytes) -> str:
        _, headers = self.request("PUT", f"/v2/{reference.repository}/manifests/{reference.tag}", document, {"Content-Type": MANIFEST_MEDIA_TYPE})
        digest = headers.get("Docker-Content-Digest") or _digest(document)
        if digest != _digest(document):
            raise KmcError(f"{self.host}: the registry stored the manifest as {digest}, not {_digest(document)}")
        return str(digest)

    def published(self, reference: Reference) -> tuple[str, str | None] | None:
        """(manifest digest, chart layer digest) of what `reference`'s tag holds now, or None when
        the tag is free. The layer is the chart package itself: however it was pushed (kmc, helm
        push), the same .tgz is the same chart."""
        accept = ", ".join((MANIFEST_MEDIA_TYPE, "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json"))
        status, headers, body = self.exchange("GET", f"/v2/{reference.repository}/manifests/{reference.tag}", headers={"Accept": accept})
        if status == 404:
            return None
        try:
            layers = json.loads(body).get("layers", [])
        except (ValueError, AttributeError):
            layers = []
        chart = next((layer.get("digest") for layer in layers if isinstance(layer, dict) and layer.get("mediaType") == CHART_MEDIA_TYPE), None)
        return str(headers.get("Docker-Content-Digest") or _digest(body)), chart


def _registry_error(err: urllib.error.HTTPError) -> str:
    try:
        errors = json.loads(err.read()).get("errors", [])
        return ": " + "; ".join(str(item.get("message", item.get("code", ""))) for item in errors) if errors else ""
    except (ValueError, AttributeError, OSError):
        return ""


class Published(KmcError):
    """The chart version is already published with other content."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    digest: str  # the manifest digest the tag holds after publishing
    pushed: bool  # False: the tag already held this chart, nothing was sent


def publish(package: Package, reference: Reference, plain_http: bool, credentials: Credentials | None, force: bool = False) -> Outcome:
    """Push `package` to `reference`. A version is published once: when the tag already holds
    another chart, Published unless `force`; when it holds this one, nothing is sent."""
    config, document = manifest(package)
    registry = Registry(reference.host, plain_http, credentials)
    existing = registry.published(reference)
    if existing is not None:
        digest, chart = existing
        if chart == _digest(package.content):
            return Outcome(digest, pushed=False)
        if not force:
            raise Published(
                f"{reference} is already published with other content ({digest}); a chart version is published once, "
                f"so that everyone who installs {package.name} {package.version} gets the same chart: raise `chart.version` in the stack "
                "and build again, or pass --force to replace it"
            )
    registry.push_blob(reference.repository, config)
    registry.push_blob(reference.repository, package.content)
    return Outcome(registry.push_manifest(reference, document), pushed=True)
