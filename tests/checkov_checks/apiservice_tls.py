"""CKV_KMC_1: an APIService that points at a Service verifies that Service's certificate.

The API server proxies aggregated APIs (metrics.k8s.io, custom.metrics.k8s.io, ...) with the
caller's identity; without `caBundle`, or with `insecureSkipTLSVerify: true`, anyone who can
stand in for the Service receives those requests. APIServices without `spec.service` are
served by the API server itself and need neither. An APIService whose caBundle cert-manager's
cainjector fills in (annotation `cert-manager.io/inject-ca-from`) verifies once injected.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.kubernetes.checks.resource.base_spec_check import BaseK8Check


class APIServiceVerifiesTLS(BaseK8Check):
    def __init__(self) -> None:
        super().__init__(
            name="APIService must verify its backend's certificate (caBundle set, insecureSkipTLSVerify not true)",
            id="CKV_KMC_1",
            categories=(CheckCategories.KUBERNETES,),
            supported_entities=("APIService",),
        )

    def scan_spec_conf(self, conf: dict[str, Any]) -> CheckResult:
        spec = conf.get("spec") or {}
        if not spec.get("service"):
            return CheckResult.PASSED  # a local API, served by the API server
        injected = "cert-manager.io/inject-ca-from" in _annotations(conf)
        if spec.get("insecureSkipTLSVerify") is True or not (spec.get("caBundle") or injected):
            return CheckResult.FAILED
        return CheckResult.PASSED


def _annotations(conf: dict[str, Any]) -> dict[str, Any]:
    """The object's annotations; checkov hands them over as a mapping or as a list of mappings."""
    found = (conf.get("metadata") or {}).get("annotations") or {}
    if isinstance(found, list):
        return {key: value for item in found if isinstance(item, dict) for key, value in item.items()}
    return dict(found)


check = APIServiceVerifiesTLS()
