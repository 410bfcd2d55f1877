"""Every string kmc writes comes back as the same string from the Go YAML readers that consume it.

kubectl and Helm read YAML with sigs.k8s.io/yaml over go-yaml v2; kustomize with kyaml over
go-yaml v3. Strings that are text to PyYAML but a number, boolean or date to Go (`0X1F`, `1e5_`,
`y`, `2001-1-1`) must be quoted. Checked with the real programs: generated strings are written by
kmc as keys and values of one ConfigMap (and of a chart's values), then
- `kubectl kustomize` reads and rewrites them (kyaml, v3): its output must hold the same text;
- `helm template` reads kmc's text, kustomize's output and a values.yaml with `fromYaml` and
  `.Values` (sigs.k8s.io/yaml, v2: what kubectl apply and helm install read) and prints them
  with `toJson`: every key and value must be the same string.
One run of each program per example, many strings at once.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tools import HELMS, KUBECTLS, tool

from kmc import pipeline
from kmc.text import go_yaml, yaml_text

HELM = HELMS["helm-3.19"]
KUBECTL = KUBECTLS["kubectl-1.37"]

# Strings that some YAML reader of kmc's output takes for a number, boolean, null or date.
PROBES = [
    *("0X1F", "0x1F", "0B1", "0b1", "0O17", "0o17", "-0o17", "0o+17", "0b-1", "+0x1", "017", "08", "0_8"),
    *("1e5_", "+_1", "1_000", "-1_0", "1__0", "0x_1", "1e5", "1E+5", "1.", "-.5", "+.5", ".5_0", ".5e1_0", "9" * 25),
    *("2001-1-1", "2001-12-14", "2001-1-1T1:2:3Z", "2001-01-01t10:00:00+01:00", "2001-1-1 1:2:3", "2001-1-1 1:2:3,5", "2001-1-1 1:2:3.5"),
    *(".inf", ".Inf", ".INF", "+.inf", "-.Inf", "+.INF", ".nan", ".NaN", ".NAN"),
    *("~", "null", "Null", "NULL", "<<"),
    *("y", "Y", "n", "N", "yes", "Yes", "YES", "no", "NO", "on", "On", "ON", "off", "Off", "OFF", "true", "False", "TRUE"),
    *("1:30", "190:20:30", "1:30.5", "0x_", "=", "1e400"),
]
# Strings every reader takes for text, written bare.
PLAIN = ["0.0.0.0", "1.2.3", "v1.2", "30s", "100Gi", "_1", "0x", "1e", "2001-1-1x", "yes please", "._"]

# Pieces of number-, boolean-, null- and date-like text, joined at random.
_PIECES = [
    *("0", "1", "7", "9", "2001", "12", "-1", "-01", "_", "__", ".", ":", "+", "-", " ", ","),
    *("0x", "0X", "0o", "0O", "0b", "0B", "x", "o", "b", "e", "E", "e+", "E-", "a", "F", "f"),
    *("inf", "Inf", "INF", "nan", "NaN", ".inf", ".nan", "T", "t", "Z", "+01:00"),
    *("y", "Y", "n", "N", "on", "off", "yes", "no", "true", "false", "null", "~", "<<"),
]
shaped = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6).map("".join)
strings = (shaped | st.sampled_from(PROBES + PLAIN)).filter(lambda text: text.strip() == text and text != "")


def _json_of(document: str) -> Any:
    """The JSON helm printed for one template."""
    body = "\n".join(line for line in document.splitlines() if line and not line.startswith("#"))
    return json.loads(body)


def _scalar_texts(text: str) -> dict[str, str]:
    """The data of the one ConfigMap in `text`, as the written texts of its keys and values (no
    type resolution: what the writer of `text` meant)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    data = next(value for key, value in root.value if key.value == "data")
    return {key.value: value.value for key, value in data.value}


def _round_trip(texts: list[str], root: Path) -> None:
    # kyaml takes a key `<<` for a merge key however it is quoted (and drops it): a kustomize
    # limitation no quoting avoids, so `<<` is tried as a value only.
    data = {("key" + text if text == "<<" else text): text for text in texts}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}, "data": data}
    written = yaml_text.dump(configmap)
    kustomization = root / "kustomize"
    kustomization.mkdir()
    (kustomization / "configmap.yaml").write_text(written)
    (kustomization / "kustomization.yaml").write_text("resources:\n- configmap.yaml\n")
    kustomized = subprocess.run([tool(KUBECTL), "kustomize", kustomization], capture_output=True, text=True, timeout=60)
    assert kustomized.returncode == 0, kustomized.stderr
    assert _scalar_texts(kustomized.stdout) == data

    chart = root / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "files").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(yaml_text.dump({"data": data}))
    (chart / "files/kmc.yaml").write_text(written)
    (chart / "files/kustomized.yaml").write_text(kustomized.stdout)
    (chart / "templates/read.yaml").write_text(
        '{{ (.Files.Get "files/kmc.yaml" | fromYaml).data | toJson }}\n'
        "---\n"
        '{{ (.Files.Get "files/kustomized.yaml" | fromYaml).data | toJson }}\n'
        "---\n"
        "{{ .Values.data | toJson }}\n"
    )
    rendered = subprocess.run([tool(HELM), "template", "probe", chart], capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    documents = [document for document in rendered.stdout.split("---\n") if document.strip()]
    assert len(documents) == 3, rendered.stdout
    for name, document in zip(("kmc's text", "kustomize's output", "values.yaml"), documents, strict=True):
        read = _json_of(document)
        wrong = {key: value for key, value in read.items() if data.get(key) != value}
        missing = sorted(set(data) - set(read))
        assert not wrong and not missing, f"{name}: read differently {wrong}, missing {missing}"


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(strings, min_size=1, max_size=300, unique=True))
@example(texts=PROBES + PLAIN)
def test_go_readers_read_the_same_strings(texts: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    _round_trip(texts, tmp_path_factory.mktemp("go-yaml"))


@pytest.mark.parametrize("text", PROBES)
def test_probes_are_quoted(text: str) -> None:
    """The fixed list: written quoted, as key and as value (no real tool needed to see that)."""
    line = yaml_text.dump({text: text})
    assert line[0] in "'\"" and line.split(": ", 1)[1][0] in "'\"", line
    assert yaml.safe_load(line) == {text: text}


@pytest.mark.parametrize(
    "text", ["0X1F", "0B1", "0O17", "0o17", "1e5_", "+_1", "1_000", "2001-1-1", "+.inf", "-.Inf", ".NaN", "y", "N", "0b-1", "0o+17", ".5_0"]
)
def test_go_non_strings_are_recognised(text: str) -> None:
    assert not go_yaml.reads_as_text(text)


@pytest.mark.parametrize("text", PLAIN)
def test_plain_strings_are_left_plain(text: str) -> None:
    assert go_yaml.reads_as_text(text)
    assert yaml_text.dump({text: text}) == f"{text}: {text}\n"


NODE_SELECTOR = {"0X1F": "1e5", "0o17": "y", "2001-1-1": "1_000", "n": "0b1", "1e5_0": "0O17"}
PROD_SELECTOR = {"0B1": "2001-1-1", "on": "0x_1"}
SELECTOR_STACK = f"""version: 1
prometheus:
  nodeSelector: {json.dumps(NODE_SELECTOR)}
environments:
  prod:
    prometheus:
      nodeSelector: {json.dumps(PROD_SELECTOR)}
"""


@pytest.mark.slow
def test_a_built_stack_keeps_number_like_node_selectors(tmp_path: Path) -> None:
    """A stack end to end: the Prometheus Deployment of each format carries the exact strings
    (kmc wrote `0X1F` bare before, and kubectl and Helm renamed it `31`)."""
    (tmp_path / "stack.yaml").write_text(SELECTOR_STACK)
    pipeline.build(tmp_path / "stack.yaml", tmp_path / "out", ("manifests", "kustomize", "helm"), None)
    out = tmp_path / "out"
    (chart,) = (out / "helm").iterdir()
    rendered = subprocess.run([tool(HELM), "template", "r", chart, "-f", chart / "values-prod.yaml"], capture_output=True, text=True, timeout=60)
    kustomized = subprocess.run([tool(KUBECTL), "kustomize", out / "kustomize/overlays/prod"], capture_output=True, text=True, timeout=60)
    manifests = "".join(path.read_text() for path in sorted((out / "manifests/prod").glob("*.yaml")))
    for name, result in (("helm template", rendered), ("kubectl kustomize", kustomized)):
        assert result.returncode == 0, f"{name}: {result.stderr}"
    for text in (rendered.stdout, kustomized.stdout, manifests):
        (deployment,) = [o for o in yaml.safe_load_all(text) if o and o["kind"] == "Deployment" and o["metadata"]["name"] == "prometheus"]
        assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {**NODE_SELECTOR, **PROD_SELECTOR}
