"""The config-reloader sidecar of the Prometheus and Alertmanager pods (prometheus-operator's
`prometheus-config-reloader`), so that a configuration or rule change is applied in place.

The sidecar watches the directories of the mounted ConfigMaps: inotify on each directory, where the
kubelet swaps the `..data` symlink of a ConfigMap volume when the ConfigMap changes, and a hash of
every file below them, read again at least every `--watch-interval`. When the hash changes it
POSTs the program's `/-/reload` on the pod's loopback, and retries while the program answers
anything but 200. The program keeps running with its state: Prometheus replays no WAL and keeps an
emptyDir TSDB, Alertmanager keeps its silences and cluster membership. A configuration the program
rejects leaves the previous one running (alerts `PrometheusConfigReloadFailed` and
`AlertmanagerConfigReloadFailed`).

What needs a restart is in the pod template and rolls the pods by itself: flags, images,
resources. Secrets are never watched: both programs read the `*_file` credentials and TLS files
when they use them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kmc.components import kube
from kmc.ir import Param

NAME = "config-reloader"
PORT = 8080
PORT_NAME = "reloader-web"  # its /metrics, for a self-monitoring job


def container(section: str, program_port: int, watched: Sequence[Mapping[str, Any]], route_prefix: str = "") -> dict[str, Any]:
    """The sidecar of a pod of `section` (`prometheus`, `alertmanager`), whose program serves its
    reload endpoint on `program_port`; it watches the directories of the volume mounts `watched`
    (the program's own, mounted read-only here too). `route_prefix`: the program's
    `--web.route-prefix`, under which its /-/reload is served."""
    return {
        "name": NAME,
        "image": Param(f"{section}.configReloaderImage"),
        "args": [
            f"--listen-address=:{PORT}",
            f"--reload-url=http://127.0.0.1:{program_port}{route_prefix}/-/reload",
            *(f"--watched-dir={mount['mountPath']}" for mount in watched),
        ],
        "ports": [{"containerPort": PORT, "name": PORT_NAME}],
        "readinessProbe": kube.http_probe("/healthz", PORT_NAME, 10),
        "livenessProbe": kube.http_probe("/healthz", PORT_NAME, 15),
        "resources": Param(f"{section}.configReloaderResources"),
        "securityContext": kube.restricted_container(),
        "volumeMounts": [{"mountPath": mount["mountPath"], "name": mount["name"], "readOnly": True} for mount in watched],
    }
