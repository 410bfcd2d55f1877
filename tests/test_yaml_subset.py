"""kmc's own YAML reader reads what PyYAML reads, or declines.

`yaml_subset.read` spares a build PyYAML's import; it must give exactly what the loader's PyYAML
path gives (values with their Python types, key order, positions of values and keys, scalars as
written) or return None. Held here against PyYAML with libyaml's marks and with the pure-Python
parser's: on every stack and rule file kmc ships (where the reader must answer), on the docs'
examples, and on generated documents written in several styles. Also: the YAML 1.1 types of plain
scalars equal PyYAML's resolver and constructor on generated text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kmc.components import rule_packs
from kmc.errors import StackInvalid
from kmc.read import loader, pyyaml_loader, yaml_subset, yaml_types
from kmc.text import yaml_text

ROOT = Path(__file__).resolve().parents[1]
VALID = sorted([*ROOT.glob("golden/*/stack.yaml"), ROOT / "stack.yaml", ROOT / "library" / "starter-stack.yaml"])
INVALID = sorted(ROOT.glob("golden/invalid/*/stack.yaml"))
RULES = sorted((ROOT / "library" / "rules").glob("*.yaml"))
DOCS_EXAMPLES = [
    text
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for text in re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
]


def _pyyaml(text: str, marks: Any) -> tuple[Any, ...] | None:
    """What the loader's PyYAML path builds from `text` with the marks of PyYAML loader `marks`; None if it reports a problem."""
    lines = tuple(text.splitlines())
    if marks is pyyaml_loader._Loader:
        try:
            document = pyyaml_loader.parse(text, "stack.yaml", lines)
        except StackInvalid:
            return None
        return document.data, document.positions, document.key_positions, document.scalars
    try:
        root = yaml.compose(text, Loader=marks)
    except yaml.YAMLError:
        return None
    builder = pyyaml_loader._Builder("stack.yaml", lines)
    data = builder.build(root, ()) if root is not None else None
    return None if builder.problems else (data, builder.positions, builder.key_positions, builder.scalars)


def _comparable(read: tuple[Any, ...]) -> tuple[Any, ...]:
    """Equal only if equal in types (1, 1.0 and True differ; so do 0.0 and -0.0) and in order too."""
    data, positions, key_positions, scalars = read
    return repr(data), list(positions.items()), list(key_positions.items()), list(scalars.items())


def _check(text: str) -> bool:
    """Assert the reader equals PyYAML on `text` (libyaml and pure-Python marks) or declines; whether it answered."""
    fast = yaml_subset.read(text)
    if fast is None:
        return False
    for marks in (pyyaml_loader._Loader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        reference = _pyyaml(text, marks)
        assert reference is not None, f"the reader accepted what PyYAML ({marks.__name__}) refuses:\n{text}"
        assert _comparable(fast) == _comparable(reference), f"{marks.__name__}:\n{text}"
    return True


@pytest.mark.parametrize("path", VALID + RULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_reader_reads_every_stack_and_rule_file_kmc_ships(path: Path) -> None:
    assert _check(path.read_text(encoding="utf-8")), f"{path} went to PyYAML"


def test_the_library_reads_its_rule_files_as_pyyaml_loads_them() -> None:
    for path in RULES:
        text = path.read_text(encoding="utf-8")
        assert rule_packs.read_rule_file(text) == yaml.safe_load(text)


@pytest.mark.parametrize("path", INVALID, ids=lambda path: path.parent.name)
def test_invalid_stacks_are_read_alike_or_left_to_pyyaml(path: Path) -> None:
    _check(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", DOCS_EXAMPLES, ids=lambda text: text.splitlines()[0][:30])
def test_docs_examples_are_read_alike(text: str) -> None:
    _check(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: &x 2\n",
        "a: !!str 1\n",
        "a: 1\n---\nb: 2\n",
        "%YAML 1.1\n---\na: 1\n",
        "a:\n\tb: 1\n",
        "a: 1\na: 2\n",
        "1: a\n",
        "a: b\n  c\n",
        "a: 'b\n  c'\n",
        "a: .inf\n",
        "a: <<\n",
        "<<: {b: 1}\n",
        "a: [1, 2,]\n",
        "a: {b: c:d}\n",
        "a: [b\n  c]\n",
        "a: |2\n   b\n",
        "a: |\n  b\n   \n",
        "a: 0x_\n",
        "a: '\x01'\n",
        '"a": "\\e"\n',
        "- a\n",
        "",
        "# only a comment\n",
        "a: b: c\n",
        "a:\n- b\nc: d\n- e\n",
        "a: [b]: c\n",
        "a: {b: 1} c\n",
    ],
)
def test_the_reader_declines_what_it_does_not_know_for_certain(text: str) -> None:
    assert yaml_subset.read(text) is None


def test_nesting_past_the_limit_goes_to_pyyaml() -> None:
    deep = "".join(f"{'  ' * level}k:\n" for level in range(70)) + "  " * 70 + "k: 1\n"
    assert yaml_subset.read(deep) is None


# -- generated documents ------------------------------------------------------------------------

# Text that changes how YAML reads a scalar: indicators, `: ` and ` #`, quotes, YAML 1.1's
# booleans, nulls and numbers, spaces, and characters beyond ASCII (one of them past the BMP).
_TRICKY = " :#-?'\"{}[]&*!|>%@`,._+=<~\\/yYnNoOtTfFeEx0123456789abl\xe9\u4e2d\U0001f600"
_WORDS = [
    "yes", "No", "on", "OFF", "null", "~", "<<", "=", "1_000", "0x1F", "0b101", "010", "08", "1:30", "1:30.5", "2001-12-14",
    "2001-12-14 21:59:43.10 -5", ".inf", "-.5", ".5", "1e3", "1.0e+3", "1.33", "30s", "100Gi", "10.20.0.0/16", "1.2.3-rc.1+build.7",
    "http://x:9090/a?b=c#d", "a: b", "a #b", "- a", "? b", "---", "...", "'q'", '"q"', "", " ", "a\nb", "a\n\nb\n",
]  # fmt: skip
texts = st.text(alphabet=_TRICKY, max_size=14) | st.sampled_from(_WORDS)
keys = st.text(alphabet="abcdefgh_-.:/ yn01\xe9\U0001f600", min_size=1, max_size=10) | st.sampled_from(_WORDS)
scalars = texts | st.integers(-(10**12), 10**12) | st.booleans() | st.none() | st.floats(allow_nan=False, allow_infinity=False)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=30)
documents = st.dictionaries(keys, values, min_size=1, max_size=6)


def _pyyaml_text(value: Any, style: bool | None, indent: int, unicode: bool) -> str:
    return yaml.safe_dump(value, default_flow_style=style, indent=indent, allow_unicode=unicode, sort_keys=False, width=60)


def _commented(text: str, draw: st.DrawFn) -> str:
    """`text` with comments, blank lines and spaces added where YAML ignores them."""
    out = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(["", "#", "  # a: b", "      #- [x, y]", " # 'q\""])))
        if stripped.startswith(("'", '"', "|", ">")) or line.endswith(("|", "|-", "|+", ">", ">-", ">+", '"', "'", "\\")):
            out.append(line)  # inside or around a multi-line scalar: leave it alone
            continue
        out.append(line + draw(st.sampled_from(["", " ", "  # c", " #: x", "    #"])))
    if draw(st.booleans()):
        out.insert(0, draw(st.sampled_from(["---", "--- # start", "# head", ""])))
    return "\n".join(out) + draw(st.sampled_from(["\n", "", "\n\n"]))


@st.composite
def written(draw: st.DrawFn) -> str:
    """A generated document in one of several styles: PyYAML's block, flow and mixed styles (with
    2 or 4 spaces of indentation, with or without escapes), kmc's own writer, and those with
    comments and spaces added."""
    value = draw(documents)
    style = draw(st.sampled_from(["block", "flow", "mixed", "kmc"]))
    if style == "kmc":
        text = yaml_text.dump(value)
    else:
        flow = {"block": False, "flow": True, "mixed": None}[style]
        text = _pyyaml_text(value, flow, draw(st.sampled_from([2, 4])), draw(st.booleans()))
    return _commented(text, draw) if draw(st.booleans()) else text


def _answers(documents: st.SearchStrategy[str]) -> list[bool]:
    """For each of 400 generated documents, whether the reader answered (`_check` holds it equal to PyYAML)."""
    answered: list[bool] = []

    @settings(max_examples=400, deadline=None, database=None)
    @given(documents)
    def check(text: str) -> None:
        answered.append(_check(text))

    check()
    return answered


def test_generated_documents_are_read_alike_and_mostly_without_pyyaml() -> None:
    answered = _answers(written())
    # It answers ~45%: PyYAML writes odd keys as `? key` and long texts across lines, both declined.
    assert sum(answered) >= 0.3 * len(answered), f"the reader answered {sum(answered)} of {len(answered)} documents"


@st.composite
def hand_written(draw: st.DrawFn) -> str:
    """A stack-like document as people write it: compact `- key: v` entries, unindented sequences,
    flow collections across lines, block scalars, quoted keys, odd spacing."""
    lines: list[str] = []

    def scalar() -> str:
        word = draw(st.sampled_from([*_WORDS[:30], "web", "a b", "x#y", "-1", "+2", "é", "'it''s'", '"tab\\tq\\u00e9\\x41\\"\\\\"', "'a: b'"]))
        return word if word.strip() and "\n" not in word else "x"

    def mapping(indent: int, depth: int) -> None:
        for key in draw(st.lists(st.sampled_from(["a", "b-c", "d.e", "'f g'", '"h"', "i_j", "k0", "'yes'"]), min_size=1, max_size=3, unique=True)):
            pad = " " * indent
            kind = draw(st.sampled_from(["scalar", "empty", "flow", "block", "map", "seq", "seq-unindented"] if depth < 3 else ["scalar", "empty"]))
            gap = draw(st.sampled_from([" ", "  ", "   "]))
            if kind == "scalar":
                lines.append(f"{pad}{key}:{gap}{scalar()}")
            elif kind == "empty":
                lines.append(f"{pad}{key}:")
            elif kind == "flow":
                items = [scalar() for _ in range(draw(st.integers(0, 3)))]
                lines.append(f"{pad}{key}:{gap}[{', '.join(items)}]")
                if items and draw(st.booleans()):
                    lines[-1] = f"{pad}{key}: {{p: {items[0]},"
                    lines.append(f"{pad}    q: [{', '.join(items)}], r: {{s: {items[-1]}}}}}")
            elif kind == "block":
                header = draw(st.sampled_from(["|", "|-", "|+", ">", ">-", ">+"]))
                lines.append(f"{pad}{key}:{gap}{header}")
                body = draw(st.lists(st.sampled_from(["one two", "  more", "", "three: 4", "# not a comment"]), min_size=1, max_size=5))
                if not body[0].strip():
                    body[0] = "first"
                lines.extend(f"{pad}  {line}" if line else "" for line in body)
            elif kind == "map":
                lines.append(f"{pad}{key}:")
                mapping(indent + draw(st.sampled_from([2, 4])), depth + 1)
            else:
                lines.append(f"{pad}{key}:")
                sequence(indent if kind == "seq-unindented" else indent + 2, depth + 1)

    def sequence(indent: int, depth: int) -> None:
        for _ in range(draw(st.integers(1, 3))):
            pad = " " * indent
            kind = draw(st.sampled_from(["scalar", "empty", "compact", "nested", "flow"] if depth < 3 else ["scalar"]))
            if kind == "scalar":
                lines.append(f"{pad}- {scalar()}")
            elif kind == "empty":
                lines.append(f"{pad}-")
            elif kind == "compact":
                start = len(lines)
                mapping(indent + 2, depth + 1)
                lines[start] = f"{pad}- {lines[start][indent + 2 :]}"
            elif kind == "nested":
                lines.append(f"{pad}-")
                sequence(indent + 2, depth + 1)
            else:
                lines.append(f"{pad}- {{name: {scalar()}, port: 80}}")

    mapping(draw(st.sampled_from([0, 0, 2])), 0)
    return _commented("\n".join(lines), draw) if draw(st.booleans()) else "\n".join(lines) + "\n"


def test_hand_written_documents_are_read_alike_and_mostly_without_pyyaml() -> None:
    answered = _answers(hand_written())
    # It answers ~55%: one `<<`, `=`, `.inf`, `a: b` or `:` in a flow scalar declines the whole document.
    assert sum(answered) >= 0.4 * len(answered), f"the reader answered {sum(answered)} of {len(answered)} documents"


# -- plain scalars ------------------------------------------------------------------------------

_RESOLVER = yaml.resolver.Resolver()
plain_texts = st.text(alphabet="0123456789_:.+-eExXbBo aAcfFiInNlLsStTuUyYrR~<=Z\t", max_size=12) | st.sampled_from(_WORDS)


@settings(max_examples=3000, deadline=None)
@given(plain_texts)
def test_plain_scalars_have_the_types_pyyaml_gives_them(text: str) -> None:
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    assert yaml_types.implicit_tag(text) == tag.rsplit(":", 1)[1]
    try:
        ours: Any = yaml_types.plain_value(text)
    except yaml_types.Unreadable:
        return
    node = yaml.ScalarNode(tag, text)
    theirs = text if tag.endswith(":timestamp") else yaml.constructor.SafeConstructor().construct_object(node)
    assert repr(ours) == repr(theirs)


def test_what_the_reader_declines_the_loader_reads_with_pyyaml() -> None:
    text = "base: &image {repository: prom/prometheus, tag: v3}\nprometheus:\n  image: *image\n  retention: 15d\n"
    assert yaml_subset.read(text) is None
    document = loader.parse_stack(text.encode(), "stack.yaml")
    assert document.data == {
        "base": {"repository": "prom/prometheus", "tag": "v3"},
        "prometheus": {"image": {"repository": "prom/prometheus", "tag": "v3"}, "retention": "15d"},
    }
    assert document.positions[("prometheus", "image")] == (1, 7)  # an alias is its anchor's node
