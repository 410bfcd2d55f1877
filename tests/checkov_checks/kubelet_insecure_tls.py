"""CKV_KMC_2: no container talks to kubelets without verifying their certificates.

`--kubelet-insecure-tls` (metrics-server, prometheus-adapter's metrics-server mode) skips the
verification of every kubelet's serving certificate while sending it a service account token.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckResult
from checkov.kubernetes.checks.resource.base_container_check import BaseK8sContainerCheck

FLAG = "--kubelet-insecure-tls"


def _insecure(argument: Any) -> bool:
    if not isinstance(argument, str):
        return False
    text = argument.strip()
    return text == FLAG or (text.startswith(FLAG + "=") and text.split("=", 1)[1].strip().lower() not in ("false", "0", "f"))


class KubeletInsecureTLS(BaseK8sContainerCheck):
    def __init__(self) -> None:
        super().__init__(name="Containers must not pass --kubelet-insecure-tls", id="CKV_KMC_2")

    def scan_container_conf(self, metadata: dict[str, Any], conf: dict[str, Any]) -> CheckResult:
        self.evaluated_container_keys = ["command", "args"]
        arguments = [*(conf.get("command") or []), *(conf.get("args") or [])]
        return CheckResult.FAILED if any(_insecure(argument) for argument in arguments) else CheckResult.PASSED


check = KubeletInsecureTLS()
