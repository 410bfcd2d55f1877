"""The docs hold: every stack they show builds, every relative link resolves, and they speak of the project only.

The rule for examples (docs/architecture.md, "Examples in the docs"): a ```yaml block whose first
non-comment line is `version: 1` is a stack, built with `kmc build --format all`; a block whose
info string names a file (```json dashboards/app.json) is written beside each stack of its page;
any other ```yaml block names its file in a first-line comment (# .pre-commit-config.yaml).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
NAMED_FILE = re.compile(r"#\s*(\S+\.ya?ml)\s*$")
# What the docs must not say: tracker numbers, and paths outside the repository.
FORBIDDEN = re.compile(r"\bissues?\s+#?\d+|(?<![\w&])#\d+\b|\.\./shared|/work/", re.IGNORECASE)


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _fences(page: Path) -> list[tuple[int, str, str]]:
    """(line, info string, body) of each fenced block of `page`."""
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start()) + 1, match.group(1).strip(), match.group(2)) for match in FENCE.finditer(text)]


def _is_stack(body: str) -> bool:
    lines = [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and re.fullmatch(r"version:\s*1(\s+#.*)?", lines[0].strip()) is not None


def _stacks() -> list[Any]:
    params = []
    for page in PAGES:
        fences = _fences(page)
        files = {info.split()[1]: body for _, info, body in fences if len(info.split()) == 2}
        for line, info, body in fences:
            if info == "yaml" and _is_stack(body):
                params.append(pytest.param(body, files, id=f"{_rel(page)}:{line}"))
    return params


@pytest.mark.parametrize(("stack", "files"), _stacks())
def test_stack_example_builds(tmp_path: Path, stack: str, files: dict[str, str]) -> None:
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body, encoding="utf-8")
    (tmp_path / "stack.yaml").write_text(stack, encoding="utf-8")
    command = [sys.executable, "-m", "kmc", "build", "stack.yaml", "--format", "all", "--out", "out"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# The quick start and every page about stack keys show a complete stack.
STACK_PAGES = [
    "README.md",
    *(
        f"docs/{name}.md"
        for name in (
            "certificates",
            "escape-hatches",
            "grafana",
            "metrics-apis",
            "network-policies",
            "prometheus",
            "rules-and-alertmanager",
            "scaling-out",
            "stack-reference",
        )
    ),
]


@pytest.mark.parametrize("page", STACK_PAGES)
def test_page_shows_a_stack(page: str) -> None:
    assert any(param.id.startswith(f"{page}:") for param in _stacks())


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_yaml_block_is_a_stack_or_names_its_file(page: Path) -> None:
    unnamed = [
        line
        for line, info, body in _fences(page)
        if info == "yaml" and not _is_stack(body) and not (NAMED_FILE.fullmatch(body.split("\n", 1)[0]) and "stack.y" not in body.split("\n", 1)[0])
    ]
    assert unnamed == [], f"{_rel(page)}: yaml blocks at lines {unnamed} are neither a stack (version: 1) nor name their file (# NAME.yaml)"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links() -> list[Any]:
    params = []
    for page in PAGES:
        text = re.sub(r"`[^`\n]*`", "", FENCE.sub("", page.read_text(encoding="utf-8")))
        for target in LINK.findall(text):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # not https:, mailto:, ...
                params.append(pytest.param(page, target, id=f"{_rel(page)}->{target}"))
    return params


@pytest.mark.parametrize(("page", "target"), _links())
def test_relative_link_resolves(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
    assert resolved.exists(), f"{target}: no such file"
    if anchor:
        assert resolved.suffix == ".md", f"{target}: an anchor into a file that is not markdown"
        assert anchor in _anchors(resolved), f"{target}: no heading with anchor #{anchor} in {_rel(resolved)}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_docs_speak_of_the_project_only(page: Path) -> None:
    found = [match.group(0) for match in FORBIDDEN.finditer(page.read_text(encoding="utf-8"))]
    assert found == [], f"{_rel(page)} names {found}: the docs cite no tracker numbers and no paths outside the repository"


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Metrics APIs: kubectl top and HPAs", "metrics-apis-kubectl-top-and-hpas"),
        ("`kmc certs`", "kmc-certs"),
        ("Remote storage, HA, sharding and Thanos", "remote-storage-ha-sharding-and-thanos"),
        ("stack.yaml reference", "stackyaml-reference"),
    ],
)
def test_slug_is_githubs(heading: str, slug: str) -> None:
    assert _slug(heading) == slug
