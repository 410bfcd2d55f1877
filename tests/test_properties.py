"""Property tests: kmc over generated stacks (valid ones from `stack_strategies`, and broken input).

The regression tests at the end pin the smallest input of each bug these properties found.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from object_sets import LOADER
from stack_strategies import SCHEMA_FILE, dump, golden_mutants, mutated_stacks, stacks, yamlish_documents

from kmc.check.validate import validate
from kmc.commands import cli
from kmc.components import object_graph
from kmc.errors import Diagnostic, KmcError, StackInvalid
from kmc.pipeline import compile_stack, emit
from kmc.read.loader import parse_stack
from kmc.text import yaml_text

Tree = dict[str, bytes]

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "MutatingWebhookConfiguration",
        "Namespace",
        "PersistentVolume",
        "PriorityClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
    }
)
HASH_SEEDS = ("0", "1", "12345")
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a new line

# On failure Hypothesis imports libcst (when installed) to write a patch, and libcst's import of
# mypy_extensions warns: with warnings as errors that hides the failure behind an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")
SCHEMA: Mapping[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def examples(count: int) -> settings:
    """Settings for `count` examples; stacks are large and a build takes tens of milliseconds."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# --- building ------------------------------------------------------------------------------------


@contextlib.contextmanager
def stack_file(doc: Any) -> Iterator[Path]:
    """`doc` written as stack.yaml in a fresh temporary directory."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "stack.yaml"
        path.write_bytes(dump(doc))
        yield path


def build(doc: Any, env: str | None = None) -> Tree:
    """The manifests of `doc` (every environment, or only `env`), as kmc's pipeline emits them."""
    with stack_file(doc) as path:
        compiled = compile_stack(path, "stack.yaml")
    trees = emit(compiled, ("manifests",), env)
    return dict(trees["manifests" if env is None else f"manifests/{env}"])


def by_environment(tree: Tree) -> dict[str, Tree]:
    """`{env/file: bytes}` split into `{env: {file: bytes}}`: the object files (not PREREQUISITES.md)."""
    split: dict[str, Tree] = {}
    for path, content in tree.items():
        env, name = path.split("/", 1)
        if name.endswith(".yaml"):
            split.setdefault(env, {})[name] = content
    return split


def read_tree(root: Path) -> Tree:
    """The built files; the lock is left out (it records the stack file's own bytes)."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file() and path.name != ".kmc-lock.json"}


def permuted(value: Any, rnd: random.Random) -> Any:
    """`value` with the keys of every mapping in a random order (lists keep theirs: it means something)."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {key: permuted(child, rnd) for key, child in items}
    if isinstance(value, list):
        return [permuted(child, rnd) for child in value]
    return value


# --- 1. valid stacks compile -------------------------------------------------------------------


@examples(60)
@given(stacks())
def test_valid_stacks_compile(doc: dict[str, Any]) -> None:
    tree = build(doc)
    envs = by_environment(tree)
    assert set(envs) == {"default", *doc.get("environments", {})}
    assert all(envs.values()), "an environment without files"
    assert all(content.strip() for content in tree.values()), "an empty file"


# --- 2. determinism ------------------------------------------------------------------------------


@examples(25)
@given(stacks(), st.randoms(use_true_random=False))
def test_build_is_deterministic_and_ignores_key_order(doc: dict[str, Any], rnd: random.Random) -> None:
    first = build(doc)
    assert build(doc) == first
    assert build(permuted(doc, rnd)) == first


def _cli_build(stack: Path, out: Path, seed: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.Popen([sys.executable, "-m", "kmc", "build", str(stack), "--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@examples(5)
@given(stacks())
def test_build_does_not_depend_on_the_hash_seed(doc: dict[str, Any]) -> None:
    with stack_file(doc) as stack:
        outs = {seed: stack.parent / f"out-{seed}" for seed in HASH_SEEDS}
        runs = {seed: _cli_build(stack, out, seed) for seed, out in outs.items()}
        for seed, run in runs.items():
            _, stderr = run.communicate(timeout=120)
            assert run.returncode == 0, f"PYTHONHASHSEED={seed}: {stderr.decode()}"
        trees = {seed: read_tree(out / "manifests") for seed, out in outs.items()}
    assert trees["0"] == build(doc)
    assert trees["1"] == trees["0"]
    assert trees["12345"] == trees["0"]


# --- 3. only kmc's own errors escape -------------------------------------------------------------


def assert_well_formed(diagnostics: Sequence[Diagnostic], raw: bytes) -> None:
    """Every diagnostic points into the file, at a JSON path, and says something."""
    last_line = len(LINE_BREAK.findall(raw.decode("utf-8", errors="replace"))) + 1
    for diagnostic in diagnostics:
        assert 1 <= diagnostic.line <= last_line, diagnostic
        assert diagnostic.column >= 1, diagnostic
        assert diagnostic.path.startswith("$"), diagnostic
        assert diagnostic.message.strip(), diagnostic


def run_stages(raw: bytes) -> None:
    """Load, validate and compile `raw`; raise whatever escapes."""
    doc = parse_stack(raw, "stack.yaml")
    stack, found = validate(doc)
    assert_well_formed(found, raw)
    object_graph(stack)


def check_only_kmc_errors(raw: bytes) -> None:
    """`raw` compiles, or fails with a KmcError whose diagnostics are well formed."""
    try:
        run_stages(raw)
    except StackInvalid as err:
        assert err.diagnostics, "StackInvalid without diagnostics"
        assert_well_formed(err.diagnostics, raw)
    except KmcError:
        pass


@examples(300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_kmc_errors(raw: bytes) -> None:
    check_only_kmc_errors(raw)


@examples(300)
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_kmc_errors(text: str) -> None:
    check_only_kmc_errors(text.encode("utf-8"))


@examples(200)
@given(yamlish_documents())
def test_arbitrary_yaml_raises_only_kmc_errors(raw: bytes) -> None:
    check_only_kmc_errors(raw)


@examples(80)
@given(mutated_stacks())
def test_broken_stacks_raise_only_kmc_errors(raw: bytes) -> None:
    check_only_kmc_errors(raw)


def run_cli(args: Sequence[str]) -> tuple[int, str]:
    """`kmc ARGS` in this process: its exit code and stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        try:
            cli.main(list(args))
        except SystemExit as exit_info:
            code = exit_info.code
    return int(code or 0), stderr.getvalue()


def assert_cli_report_located(stderr: str, file: str, raw: bytes, last: re.Pattern[str]) -> None:
    """Every line of the report is a located diagnostic, an indented part of one, a line of the list
    of what to create before applying, a certificate kmc made, or the one summary line `last`."""
    last_line = len(LINE_BREAK.findall(raw.decode("utf-8", errors="replace"))) + 1
    header = re.compile(re.escape(file) + r":(\d+):(\d+): (error|warning): \$")
    *report, summary = stderr.removesuffix("\n").split("\n")
    assert last.fullmatch(summary), f"last line: {summary!r}"
    listing = False
    for line in report:
        if BEFORE_YOU_APPLY.fullmatch(line):
            listing = True
            continue
        if listing and PREREQUISITE_LINE.fullmatch(line):
            continue
        listing = False
        if CERTIFICATE_MADE.fullmatch(line) or INGESTED.fullmatch(line):
            continue
        if line.startswith(" "):
            assert re.match(r" +(\d+ \| |\| +\^$|hint: )", line), f"not part of a diagnostic: {line!r}"
            continue
        located = header.match(line)
        assert located, f"an error without file:line:col: {line!r}"
        assert 1 <= int(located[1]) <= last_line and int(located[2]) >= 1, f"position outside the file: {line!r}"


# What prometheus.ingest used keeps, said by every build of a stack with a Prometheus.
INGESTED = re.compile(
    r"kmc: prometheus\.ingest used keeps only what the stack's queries read, in metric families: .+ \(per job: kmc explain prometheus\.ingest --stack .+\)"
)
BUILT = re.compile(r"kmc: \d+ objects, \d+ files in .* \(\d+\.\d\ds\)")
BEFORE_YOU_APPLY = re.compile(r"kmc: before you apply, create what the output needs and does not hold(, and set the cluster up so)? \(why and how: [^)]+\):")
PREREQUISITE_LINE = re.compile(r"  ([A-Z][A-Za-z]+ [a-z0-9./-]+(: [^()]+)?|cluster setting: [^()]+)( \([^)]+\))?")
# What a build minted or issued into the certificate state: said on every build that does it.
CERTIFICATE_MADE = re.compile(
    r"kmc: [a-z-]+: (no certificate in .*: minted a new CA and a serving certificate|the serving certificate in .*: issued a new one from the same CA).*"
)
REFUSED = re.compile(r"kmc: \d+ problems? in the stack; nothing was written")


@examples(int(os.environ.get("KMC_FUZZ_EXAMPLES", "1000")))
@given(golden_mutants())
@example(b"version: 1\nnamespace: monitoring # \x1f\n")  # regression: reported at 1:1, on two lines
def test_mutated_golden_stacks_through_the_cli(raw: bytes) -> None:
    """`kmc build` of a golden stack with mistakes: exit 0 or 1 (never 3), and every problem located.

    1,000 cases by default; KMC_FUZZ_EXAMPLES=N runs N.
    """
    with tempfile.TemporaryDirectory() as directory:
        stack, out = Path(directory) / "stack.yaml", Path(directory) / "out"
        stack.write_bytes(raw)
        code, stderr = run_cli(["build", str(stack), "--format", "all", "--out", str(out)])
        event(f"exit {code}")
        assert code in (0, 1), f"exit {code}:\n{stderr}"
        assert_cli_report_located(stderr, str(stack), raw, BUILT if code == 0 else REFUSED)
        if code == 0:
            assert sorted(path.name for path in out.iterdir()) == [".kmc-lock.json", "helm", "kustomize", "manifests"]
        else:
            assert not out.exists(), "a refused stack wrote output"


# --- 4. names, uniqueness and scope of emitted objects -----------------------------------------


def assert_name(kind: str, name: str) -> None:
    assert DNS_SUBDOMAIN.fullmatch(name) and len(name) <= 253, f"{kind} {name!r} is not a DNS-1123 subdomain"
    if kind in ("Service", "Namespace"):
        assert DNS_LABEL.fullmatch(name) and len(name) <= 63, f"{kind} {name!r} is not a DNS-1123 label"


@examples(30)
@given(stacks())
def test_objects_have_valid_names_unique_keys_and_right_scope(doc: dict[str, Any]) -> None:
    objects: dict[bytes, Any] = {}  # environments share most files: parse each once
    for env, files in by_environment(build(doc)).items():
        seen: set[tuple[str, str, str, str]] = set()
        for file, content in files.items():
            if content not in objects:
                objects[content] = yaml.load(content, Loader=LOADER)
            obj = objects[content]
            kind, metadata = obj["kind"], obj["metadata"]
            assert_name(kind, metadata["name"])
            if kind in CLUSTER_SCOPED:
                assert "namespace" not in metadata, f"{env}/{file}: cluster-scoped {kind} has a namespace"
            else:
                assert DNS_LABEL.fullmatch(metadata.get("namespace", "")), f"{env}/{file}: namespaced {kind} without a valid namespace"
            key = (obj["apiVersion"].rpartition("/")[0], kind, metadata.get("namespace", ""), metadata["name"])
            assert key not in seen, f"{env}: two objects {key}"
            seen.add(key)


# --- 5. YAML round trips -------------------------------------------------------------------------


def assert_round_trips(content: bytes, where: str) -> Any:
    """`content` is exactly one YAML document that kmc's dumper writes back byte for byte."""
    documents = list(yaml.safe_load_all(content))
    assert len(documents) == 1, f"{where}: {len(documents)} documents"
    assert yaml_text.dump(documents[0]).encode("utf-8") == content, f"{where}: re-dump differs"
    return documents[0]


@examples(30)
@given(stacks())
def test_emitted_yaml_round_trips(doc: dict[str, Any]) -> None:
    objects = {path: content for path, content in build(doc).items() if path.endswith(".yaml")}
    unique = {content: path for path, content in sorted(objects.items(), reverse=True)}  # environments share most files
    for content, path in unique.items():
        obj = assert_round_trips(content, path)
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] in ("prometheus", *(f"prometheus-shard-{index}" for index in range(16))):
            config = assert_round_trips(obj["data"]["prometheus.yml"].encode("utf-8"), f"{path}: prometheus.yml")
            names = [job["job_name"] for job in config["scrape_configs"]]
            assert len(names) == len(set(names)), f"{path}: duplicate job names {names}"
            assert {"global", "scrape_configs"} <= set(config) <= {"global", "scrape_configs", "rule_files", "alerting", "remote_write", "remote_read"}
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] in ("prometheus-rules", "alertmanager"):
            for name, text in obj["data"].items():
                assert_round_trips(text.encode("utf-8"), f"{path}: {name}")


# --- 6. environments are the stack's values merged like Helm merges values files -------------


def _properties(node: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if "$ref" in node:
        target: Any = SCHEMA
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        merged.update(_properties(target))
    merged.update(node.get("properties", {}))
    return merged


def with_defaults(node: Mapping[str, Any], value: Any) -> Any:
    """`value` with the schema's defaults below `node` filled in (what Helm's values.yaml holds)."""
    if not isinstance(value, dict):
        return value
    filled = dict(value)
    for key, child in _properties(node).items():
        if key not in filled and "default" in child:
            filled[key] = copy.deepcopy(child["default"])
        if key in filled:
            filled[key] = with_defaults(child, filled[key])
    return filled


def helm_merge(base: Any, override: Any) -> Any:
    """Helm's coalescing: mappings merge key by key, anything else (lists too) replaces."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = helm_merge(merged[key], value) if key in merged else copy.deepcopy(value)
    return merged


def section_values(doc: Mapping[str, Any], env: str | None, section: str) -> Any:
    base = with_defaults(SCHEMA["properties"][section], doc.get(section, {}))
    if env is None:
        return base
    return helm_merge(base, doc["environments"][env].get(section, {}))


def merged_by_hand(doc: Mapping[str, Any], env: str) -> dict[str, Any]:
    """The stack with `env`'s overrides written into its top-level sections.

    Which components are compiled at all is decided across every environment (so each keeps the
    same prometheus.yml), and so are the queries Prometheus' keep-lists read (Grafana's
    dashboards where some environment has Grafana); the merged stack keeps those facts through
    environments that only carry each original environment's component switches.
    """
    merged = {key: copy.deepcopy(value) for key, value in doc.items() if key != "environments"}
    for section in doc["environments"][env]:
        merged[section] = section_values(doc, env, section)
    sections = ["nodeExporter", "kubeStateMetrics", "grafana", *(section for section in ("metricsServer", "prometheusAdapter") if section in doc)]
    switches = [{section: {"enabled": section_values(doc, other, section)["enabled"]} for section in sections} for other in (None, *doc["environments"])]
    merged["environments"] = {f"switches-{index}": flags for index, flags in enumerate(switches)}
    return merged


@examples(25)
@given(stacks())
def test_environment_equals_values_merged_by_hand(doc: dict[str, Any]) -> None:
    for env in doc.get("environments", {}):
        assert build(doc, env) == build(merged_by_hand(doc, env), "default"), f"environment {env!r}"


# --- regressions: the smallest input of each bug the properties above found ---------------------


def _stack(text: str) -> bytes:
    return text.encode("utf-8")


def rejected(raw: bytes) -> bool:
    """Whether kmc refuses `raw` as an invalid stack."""
    try:
        run_stages(raw)
    except StackInvalid as err:
        assert_well_formed(err.diagnostics, raw)
        return True
    return False


def _relabel_regex_stack(regex: str) -> bytes:
    return _stack(f"version: 1\nscrape:\n  extraJobs:\n    - job_name: x\n      relabel_configs:\n        - {{action: labeldrop, regex: '{regex}'}}\n")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_stack("version: 1\nscrape:\n  kubernetes:\n    apiserver: {insecureSkipVerify: true}\n"), id="component-job-without-enabled"),  # KeyError
        pytest.param(b"[", id="unclosed-flow-at-end-of-file"),  # reported on line 2 of a 1-line file
        pytest.param(_stack("version: 1\nx: {"), id="unclosed-mapping-at-end-of-file"),
        pytest.param(_stack("version: 1\nx: &a {<<: *a}\n"), id="merge-key-cycle"),  # RecursionError
        pytest.param(_relabel_regex_stack("a{4294967296}"), id="regex-repetition-overflow"),  # OverflowError
    ],
)
def test_regression_only_kmc_errors(raw: bytes) -> None:
    check_only_kmc_errors(raw)


def test_regression_regex_warning_stays_inside() -> None:
    re.purge()  # a cached pattern would not warn again
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re's FutureWarning on RE2's [[:alpha:]] escaped as an exception
        check_only_kmc_errors(_relabel_regex_stack("[[:alpha:]]+"))


@pytest.mark.parametrize(
    "stack",
    [
        'version: 1\nnamespace: "monitoring\\n"\n',
        'version: 1\nenvironments: {"dev\\n": {}}\n',
        'version: 1\nprometheus: {scrapeInterval: "30s\\n"}\n',
        "version: 1\nprometheus: {resources: {requests: {cpu: .nan}}}\n",
        "version: 1\nprometheus: {resources: {requests: {cpu: .inf}}}\n",
    ],
    ids=["namespace-newline", "environment-name-newline", "duration-newline", "quantity-nan", "quantity-inf"],
)
def test_regression_rejected(stack: str) -> None:
    assert rejected(_stack(stack))


def test_regression_environment_key_order() -> None:
    doc = {"version": 1, "environments": {"dev": {"kubeStateMetrics": {"resources": {"requests": {"ephemeral-storage": "1Gi"}}}}}}
    assert build(doc, "dev") == build(merged_by_hand(doc, "dev"), "default")


def test_regression_integral_float_for_integer() -> None:
    doc = {"version": 1, "prometheus": {"replicas": 2.0}, "nodeExporter": {"port": 9100.0}}
    floats = [path for path, content in build(doc).items() if re.search(rb"\b(2|9100)\.0\b", content)]
    assert not floats, f"floats emitted in {floats}"


@pytest.mark.parametrize("regex", [r"\pL+", r"\p{Greek}+", r"a\z", r"(?<name>x)", r"[[:alpha:]]+"])
def test_valid_re2_regexes_are_accepted(regex: str) -> None:
    assert not rejected(_relabel_regex_stack(regex))
