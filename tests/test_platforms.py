"""`cluster.platform`: the defaults each platform sets, read back from the compiled output and
judged by the real promtool; that a key the stack writes always wins; and that the cluster
settings kmc lists are exactly those the emitted objects need.

The upstream facts behind each platform's defaults are in kmc.platforms (and docs/platforms.md):
kubeadm v1.33 `cmd/kubeadm/app/phases/controlplane/manifests.go` (controller-manager and
scheduler on `--bind-address=127.0.0.1`), kube-proxy's `metricsBindAddress` default
(`pkg/proxy/apis/config/v1alpha1/defaults.go`: 127.0.0.1:10249), kind v0.32.0
`pkg/cluster/internal/kubeadm/config.go` (kubeadm's defaults), k3s `manifests/coredns.yaml`
(CoreDNS as `k8s-app: kube-dns` with metrics on 9153; the control plane in-process), GKE's kube-dns,
and metrics-server v0.8.1 `manifests/base/deployment.yaml` (`kubernetes.io/os: linux`).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from object_sets import LOADER
from stack_diagnostics import diagnostics
from test_promtool import _relocated
from test_properties import build, stack_file
from tools import PROMTOOLS, ROOT, tool

from kmc import pipeline, platforms
from kmc.check.schema import load_schema
from kmc.commands.explain import explain
from kmc.components.prerequisites import SETTING
from kmc.model import Stack

SELF_JOBS = ["prometheus", "prometheus-config-reloader"]
ANNOTATION_JOBS = ["kubernetes-pods", "kubernetes-pods-slow", "kubernetes-service-endpoints", "kubernetes-service-endpoints-slow"]
EXPORTER_JOBS = ["kube-state-metrics", "metrics-server", "node-exporter"]
# The Kubernetes components' jobs each platform's prometheus.yml has, with nothing but
# metrics-server in the stack: the API server everywhere (through default/kubernetes, which every
# cluster has), the kubelets and cAdvisor everywhere, CoreDNS but on GKE (kube-dns, no port 9153).
KUBE_JOBS = {
    "generic": ["apiserver", "kubelet", "cadvisor", "coredns"],
    "kubeadm": ["apiserver", "kubelet", "cadvisor", "coredns"],
    "kind": ["apiserver", "kubelet", "cadvisor", "coredns"],
    "k3s": ["apiserver", "kubelet", "cadvisor", "coredns"],
    "eks": ["apiserver", "kubelet", "cadvisor", "coredns"],
    "gke": ["apiserver", "kubelet", "cadvisor"],
    "aks": ["apiserver", "kubelet", "cadvisor", "coredns"],
}
# The platforms where Windows nodes can join, so every pod selects Linux nodes.
LINUX_ONLY_PODS = {"kubeadm", "eks", "gke", "aks"}
# metrics-server's kubelet flags: no platform changes them (upstream's own manifest, v0.8.1, has the same three).
METRICS_SERVER_KUBELET_FLAGS = ["--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname", "--kubelet-use-node-status-port"]


def _objects(doc: dict[str, Any]) -> dict[str, Any]:
    """The default environment's objects of `doc`, by file name."""
    tree = build(doc)
    return {
        path.split("/", 1)[1]: yaml.load(content, Loader=LOADER) for path, content in tree.items() if path.startswith("default/") and path.endswith(".yaml")
    }


def _prometheus_yml(objects: dict[str, Any]) -> str:
    text: str = objects["04-configmap-prometheus.yaml"]["data"]["prometheus.yml"]
    return text


def _pod_specs(objects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj["spec"]["template"]["spec"] for obj in objects.values() if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet")}


def _args(objects: dict[str, Any], name: str) -> list[str]:
    args: list[str] = _pod_specs(objects)[name]["containers"][0]["args"]
    return args


def _stack(platform: str, **sections: Any) -> dict[str, Any]:
    return {"version": 1, "cluster": {"platform": platform}, "metricsServer": {"enabled": True}, **sections}


@pytest.mark.parametrize("platform", platforms.PLATFORMS)
def test_each_platform_compiles_to_its_jobs_and_selectors(platform: str, tmp_path: Path) -> None:
    """What each platform's defaults become in the output: the scrape jobs of prometheus.yml (which
    both real promtools accept), every pod's node selector, and metrics-server's kubelet flags."""
    objects = _objects(_stack(platform))
    text = _prometheus_yml(objects)
    jobs = [job["job_name"] for job in yaml.safe_load(text)["scrape_configs"]]
    assert jobs == [*SELF_JOBS, *KUBE_JOBS[platform], *EXPORTER_JOBS, *ANNOTATION_JOBS]
    selectors = {name: spec.get("nodeSelector") for name, spec in _pod_specs(objects).items()}
    linux = {"kubernetes.io/os": "linux"}
    assert selectors.pop("node-exporter") == linux, "node-exporter's own default, everywhere"
    assert selectors == dict.fromkeys(selectors, linux if platform in LINUX_ONLY_PODS else None)
    args = _args(objects, "metrics-server")
    assert [arg for arg in args if arg.startswith("--kubelet-")] == METRICS_SERVER_KUBELET_FLAGS
    for version, promtool in sorted(PROMTOOLS.items()):
        config = tmp_path / version / "prometheus.yml"
        config.parent.mkdir()
        config.write_text(_relocated(text, tmp_path / version / "pod"))
        checked = subprocess.run([tool(promtool), "check", "config", config], capture_output=True, text=True, timeout=60, check=False)
        assert checked.returncode == 0, f"promtool {version}: {checked.stdout}{checked.stderr}"


def test_generic_is_kmc_without_a_platform() -> None:
    """`generic` (the default) changes nothing: the same bytes as a stack that names no platform."""
    sections = {"grafana": {"enabled": True}, "scrape": {"kubernetes": {"kubeProxy": {"enabled": True}}}}
    assert build({"version": 1, "cluster": {"platform": "generic"}, **sections}) == build({"version": 1, **sections})
    assert platforms.preset("generic") == ()


def _opposite(value: Any) -> Any:
    """A schema-valid value other than `value`, for a key a platform sets."""
    return {"enabled": True} if value == {"enabled": False} else {"node-role.example.com/monitoring": "true"}


@pytest.mark.parametrize("platform", platforms.PLATFORMS[1:])
def test_a_key_the_stack_writes_wins_over_its_platform(platform: str) -> None:
    """Every default of every platform, written otherwise in the stack (or written empty): the
    stack's value stands, in the model every later stage reads."""
    schema = load_schema()
    for default in platforms.preset(platform):
        *parents, last = default.path.split(".")
        for written in (_opposite(default.value), {}) if default.path.endswith("nodeSelector") else (_opposite(default.value),):
            doc: dict[str, Any] = {"version": 1, "cluster": {"platform": platform}}
            node = doc
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = written
            stack = Stack.from_data(schema, doc)
            if default.path.endswith("nodeSelector"):
                assert stack.parameters[parents[0]]["nodeSelector"] == written, default.path
            else:
                assert getattr(stack.scrape.kubernetes, _field(last)).enabled, default.path


def _field(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def test_explicit_keys_win_in_the_output() -> None:
    """The same, read back from the emitted objects: GKE's CoreDNS job when asked for, and an EKS
    Prometheus with a node selector of its own (and Grafana with none at all)."""
    gke = _objects(_stack("gke", scrape={"kubernetes": {"coredns": {"enabled": True}}}))
    assert "coredns" in [job["job_name"] for job in yaml.safe_load(_prometheus_yml(gke))["scrape_configs"]]
    eks = _stack("eks", prometheus={"nodeSelector": {"eks.amazonaws.com/nodegroup": "monitoring"}}, grafana={"enabled": True, "nodeSelector": {}})
    specs = _pod_specs(_objects(eks))
    assert specs["prometheus"]["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "monitoring"}
    assert "nodeSelector" not in specs["grafana"]
    assert specs["kube-state-metrics"]["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_an_environment_merges_over_the_platform_default() -> None:
    """Environments override the stack's values as Helm merges values files: a node selector of
    an environment adds to the platform's."""
    doc = _stack("aks", environments={"prod": {"prometheus": {"nodeSelector": {"agentpool": "monitoring"}}}})
    tree = build(doc)
    prod = yaml.safe_load(tree["prod/12-deployment-prometheus.yaml"])
    assert prod["spec"]["template"]["spec"]["nodeSelector"] == {"agentpool": "monitoring", "kubernetes.io/os": "linux"}


# -- the cluster settings, read back from the objects ------------------------------------------


def _verifies_kubelets(objects: dict[str, Any]) -> bool:
    """Whether an emitted object connects to the kubelets verifying their serving certificates:
    a Prometheus job of role node (the kubelet's own port) without insecure_skip_verify, or a
    metrics-server without --kubelet-insecure-tls."""
    config = yaml.safe_load(_prometheus_yml(objects))
    jobs = [job for job in config["scrape_configs"] if any(sd["role"] == "node" for sd in job.get("kubernetes_sd_configs", []))]
    prometheus = any(not job["tls_config"].get("insecure_skip_verify") for job in jobs)
    server = "metrics-server" in _pod_specs(objects) and "--kubelet-insecure-tls" not in _args(objects, "metrics-server")
    return prometheus or server


CHOICES = [
    {},
    {"kubelet": True},
    {"kubelet": True, "cadvisor": True},
    {"kubelet": True, "cadvisor": True, "metricsServer": True},
    {"metricsServer": True},
]


@pytest.mark.parametrize("platform", platforms.PLATFORMS)
@pytest.mark.parametrize("insecure", CHOICES, ids=lambda choice: "+".join(choice) or "verified")
def test_kubelet_certificates_are_a_setting_exactly_where_the_output_verifies_them(platform: str, insecure: dict[str, bool]) -> None:
    """Declared on a named platform whenever an emitted object verifies the kubelets' certificates,
    and never otherwise; never on k3s, which signs them with the cluster CA itself (its
    `ServingKubeletCert` handler signs with the server CA that kube-controller-manager's
    `--root-ca-file` puts in every service account), nor on `generic`, which assumes nothing."""
    jobs = {name: {"enabled": True, "insecureSkipVerify": insecure.get(name, False)} for name in ("kubelet", "cadvisor")}
    doc = _stack(platform, scrape={"kubernetes": jobs})
    doc["metricsServer"]["kubelet"] = {"insecureTLS": insecure.get("metricsServer", False)}
    with stack_file(doc) as path:
        compiled = pipeline.compile_stack(path, "stack.yaml")
    settings = [item.ref for item in pipeline.prerequisites(compiled.stack, "manifests")["default"] if item.kind == SETTING]
    needed = _verifies_kubelets(_objects(doc)) and platform not in ("generic", "k3s")
    assert ("cluster setting: kubelet serving certificates signed by the cluster CA" in settings) == needed


@pytest.mark.parametrize(
    ("platform", "jobs", "expected"),
    [
        (
            "kubeadm",
            {"controllerManager": {"enabled": True, "insecureSkipVerify": True}, "scheduler": {"enabled": True}, "kubeProxy": {"enabled": True}},
            [
                "kube-controller-manager metrics on the node's address",
                "kube-proxy metrics on the node's address",
                "kube-scheduler metrics on the node's address",
                "kube-scheduler serving certificate signed by the cluster CA",
                "kubelet serving certificates signed by the cluster CA",
            ],
        ),
        ("kind", {"kubeProxy": {"enabled": True}}, ["kube-proxy metrics on the node's address", "kubelet serving certificates signed by the cluster CA"]),
        ("eks", {"kubeProxy": {"enabled": True}}, ["kube-proxy metrics on the node's address", "kubelet serving certificates signed by the cluster CA"]),
        ("k3s", {}, ["no metrics-server of k3s's own (k3s server --disable=metrics-server)"]),
        ("generic", {"scheduler": {"enabled": True}, "kubeProxy": {"enabled": True}}, []),
    ],
)
def test_the_settings_each_platform_lists(platform: str, jobs: dict[str, Any], expected: list[str]) -> None:
    """kubeadm binds the controller-manager and scheduler to 127.0.0.1 with self-signed certificates
    (a certificate setting only where the job verifies it); kube-proxy's metrics listen on
    127.0.0.1:10249 by default; k3s deploys a metrics-server of its own for the same APIService."""
    with stack_file(_stack(platform, scrape={"kubernetes": jobs})) as path:
        stack = pipeline.compile_stack(path, "stack.yaml").stack
    items = [item for item in pipeline.prerequisites(stack, "manifests")["default"] if item.kind == SETTING]
    assert [str(item.name) for item in items] == expected
    assert all(item.create and item.create == item.how for item in items), "each setting says how"


def test_k3s_lists_its_metrics_server_where_kmc_serves_the_api_instead() -> None:
    """The same APIService from prometheus-adapter's resource metrics, and only in the environments that serve it."""
    doc = {
        "version": 1,
        "cluster": {"platform": "k3s"},
        "prometheusAdapter": {"enabled": True, "resourceMetrics": {"enabled": True}},
        "environments": {"lite": {"prometheusAdapter": {"enabled": False}}},
    }
    with stack_file(doc) as path:
        stack = pipeline.compile_stack(path, "stack.yaml").stack
    by_env = pipeline.prerequisites(stack, "manifests")
    names = {env: [str(item.name) for item in items if item.kind == SETTING] for env, items in by_env.items()}
    assert names == {"default": ["no metrics-server of k3s's own (k3s server --disable=metrics-server)"], "lite": []}


def test_kubeadm_makes_the_etcd_secret_from_its_own_client_certificate() -> None:
    """kubeadm issues etcd's health-check client certificate under /etc/kubernetes/pki/etcd
    (its constants EtcdHealthcheckClientCertName and -KeyName), signed by etcd's CA there."""
    with stack_file(_stack("kubeadm", scrape={"kubernetes": {"etcd": {"enabled": True, "secretName": "etcd-client"}}})) as path:
        stack = pipeline.compile_stack(path, "stack.yaml").stack
    (secret,) = [item for item in pipeline.prerequisites(stack, "manifests")["default"] if item.ref == "Secret monitoring/etcd-client"]
    assert secret.create == (
        "kubectl -n monitoring create secret generic etcd-client --from-file=ca.crt=/etc/kubernetes/pki/etcd/ca.crt"
        " --from-file=tls.crt=/etc/kubernetes/pki/etcd/healthcheck-client.crt --from-file=tls.key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
    )


# -- warnings ---------------------------------------------------------------------------------


def test_a_platform_warns_of_what_it_does_not_have(tmp_path: Path) -> None:
    stack = "version: 1\ncluster: {platform: gke}\nmetricsServer: {enabled: true}\nscrape:\n  kubernetes:\n    etcd: {enabled: true, secretName: etcd}\n"
    assert diagnostics(tmp_path, stack) == [
        (
            "warning",
            6,
            21,
            "$.scrape.kubernetes.etcd.enabled",
            "on gke, etcd runs outside the cluster: the job finds no pod to scrape",
            "leave scrape.kubernetes.etcd to the platform's default (off), or scrape it with an extra job of your own",
        ),
        (
            "warning",
            3,
            26,
            "$.metricsServer.enabled",
            "GKE runs a metrics-server of its own for v1beta1.metrics.k8s.io: a second provider fights it for the APIService",
            "leave metricsServer.enabled false: kubectl top and HPAs on CPU and memory use the platform's",
        ),
    ]
    aks = "version: 1\ncluster: {platform: aks}\nprometheusAdapter:\n  enabled: true\n  resourceMetrics: {enabled: true}\n"
    assert [found[3] for found in diagnostics(tmp_path, aks)] == ["$.prometheusAdapter.resourceMetrics.enabled"]
    k3s = "version: 1\ncluster: {platform: k3s}\nscrape:\n  kubernetes:\n    kubeProxy: {enabled: true}\n"
    assert [found[4] for found in diagnostics(tmp_path, k3s)] == ["on k3s, kube-proxy runs inside the k3s process: the job finds no pod to scrape"]
    assert diagnostics(tmp_path, "version: 1\ncluster: {platform: kubeadm}\nscrape:\n  kubernetes:\n    kubeProxy: {enabled: true}\n") == []


# -- what kmc says about the platforms -----------------------------------------------------------


def test_the_schema_lists_the_platforms() -> None:
    platform = load_schema()["properties"]["cluster"]["properties"]["platform"]
    assert platform["enum"] == list(platforms.PLATFORMS) and platform["default"] == platforms.GENERIC


def test_explain_shows_each_platforms_default_and_why() -> None:
    text = explain(load_schema(), "scrape.kubernetes.coredns")
    assert '    gke: {"enabled": false} (GKE\'s cluster DNS is kube-dns, which has no CoreDNS metrics port 9153)\n' in text
    assert "platform defaults (cluster.platform; a value the stack writes wins):\n" in text
    text = explain(load_schema(), "metricsServer.nodeSelector")
    assert '    eks: {"kubernetes.io/os": "linux"} (EKS runs Windows node groups beside Linux ones; kmc\'s images are Linux-only)\n' in text
    assert "platform defaults" not in explain(load_schema(), "prometheus.retention")
    listed = explain(load_schema(), "cluster.platform")
    assert "    generic: nothing: kmc's own defaults\n" in listed
    assert "    kind: scrape.kubernetes.controllerManager, scrape.kubernetes.scheduler, scrape.kubernetes.kubeProxy\n" in listed


def test_the_docs_table_says_what_each_platform_sets() -> None:
    """docs/platforms.md's table of each platform's defaults is kmc.platforms' table."""
    text = (ROOT / "docs/platforms.md").read_text(encoding="utf-8")
    rows = {name: (jobs, other) for name, jobs, other in re.findall(r"^\| `(\w+)` \| ([^|]*) \| ([^|]*) \|$", text, re.MULTILINE)}
    assert list(rows) == list(platforms.PLATFORMS)
    for platform, (jobs, other) in rows.items():
        paths = {default.path for default in platforms.preset(platform)}
        assert set(re.findall(r"`(\w+)`", jobs)) == {path.rsplit(".", 1)[1] for path in paths if path.startswith("scrape.kubernetes.")}, platform
        selects = {f"{section}.nodeSelector" for section in platforms.POD_SECTIONS} <= paths
        assert ("`nodeSelector: {kubernetes.io/os: linux}` on every component" in other) == selects, platform
