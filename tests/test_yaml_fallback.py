"""kmc reads a stack as PyYAML's safe loader does, or refuses it where it is written; with or without libyaml.

For generated documents full of what YAML readers disagree on (tags on scalars and collections,
anchors and merges, numbers PyYAML's constructors fail on, tabs, `?`, byte-order marks), kmc's
reader — its own or the PyYAML fallback, whichever takes the document — either gives the data
`yaml.load(text, yaml.SafeLoader)` (pure Python) gives, or a located error; never another value,
never a traceback. One deliberate difference: a date stays the text it was written as.
And the answer is the same in a process where libyaml cannot be imported.
"""

from __future__ import annotations

import datetime
import inspect
import json
import subprocess
import sys
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kmc.errors import StackInvalid
from kmc.read.loader import parse_stack

# Scalars, tagged or not, that PyYAML and libyaml or kmc may read differently.
SCALARS = [
    *("a", "b c", "1", "-2", "0x1F", "0x_", "0b_", "1_000", "0_7", "1:30", "1.5", ".inf", "-.Inf", ".nan", "1e3", "1.0e+3"),
    *("~", "null", "", "yes", "No", "y", "on", "2001-01-01", "2001-1-1", "2001-12-14t21:59:43.10-05:00", "=", "<<"),
    *("2001-02-30", "2001-13-1", "2001-1-1 24:00:00", "2001-1-1 1:00:60", "2001-1-1t1:00:00+25", "2001-1-1t1:00:00-23:99", "2001-1-1 1:2:03 Z"),
    *("!!int 1.5", "!!int 3", "!!int 0x_", "!!bool 2", "!!bool yes", "!!str 1", "!!float 1", "!!float x", "!!null x"),
    *("!!timestamp x", "!!timestamp 2001-01-01", "!", "! x", "! 1", "!foo x", "!!binary aGk=", "!<tag:yaml.org,2002:str> 5"),
    *("b?c", "?c", "b\tc", "b\t", "'q''t'", '"d\\tq"', '"\\x41\\u00e9"', '"\\/"', "'\t'", "a:b", "a #c", "&x 5", "*x"),
]
FLOWS = ["[a, b]", "[b?c]", "[a, 1, ~]", "{a: 1, b: c}", "{a: b?c}", "[a:b]", "{? a: 1}", "[]", "{}", "[a,]", "{a, b}"]
TAGGED = ["!!set {a, b}", "!!omap [a: 1, b: 2]", "!!str {a: 1}", "!foo [1]", "!foo {a: 1}", "!!map {a: 1}", "!!seq [1]", "! {a: 1}", "!!pairs [a: 1]"]
KEYS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"]
ODD_KEYS = ["1", "y", "~", "<<", "'<<'", '"k"', "!!str 2", "? x", "&k a", "!!int 3", "a b", "!foo k"]
# Text inserted at a random place of a rendered document.
NOISE = ["\ufeff", "\t", "?", "!", "&", "*", " ", "\n", "---\n", ":"]
# Most documents start with two anchors, so that most aliases resolve.
ANCHORS = "_a: &a {p: 1, q: [x, 2]}\n_b: &b {p: 2, r: y}\n"

scalar = st.sampled_from(["a", "b c", "1", "x y z", "*a", "*b", "true", "-3", "'t'"]) | st.sampled_from(SCALARS + FLOWS + TAGGED)
key = st.sampled_from(KEYS) | st.sampled_from(KEYS + ODD_KEYS)
tree = st.recursive(
    scalar.map(lambda text: ("scalar", text)),
    lambda inner: st.one_of(
        st.lists(st.tuples(key, inner), min_size=1, max_size=4).map(lambda items: ("map", items)),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: ("seq", items)),
        st.tuples(st.sampled_from(["&c ", "!!map ", "!!seq ", "!foo ", "! "]), inner.filter(lambda node: node[0] not in ("prefixed", "merge"))).map(
            lambda pair: ("prefixed", pair)
        ),
        st.sampled_from(["<<: *a", "<<: [*a, *b]", "<<: *b", "<<: {z: 1}"]).map(lambda text: ("merge", text)),
    ),
    max_leaves=12,
)


def _render(node: tuple[str, Any], pad: str) -> list[str]:
    """Lines for `node` as a value whose lines start with `pad` (a scalar: one line, no pad)."""
    kind, body = node
    if kind == "scalar":
        return [body]
    if kind == "merge":
        return [pad + body]
    if kind == "prefixed":
        prefix, inner = body
        lines = _render(inner, pad)
        return [prefix + lines[0]] if inner[0] == "scalar" else [prefix.rstrip(), *lines]
    lines = []
    for item in body:
        head, value = (f"{item[0]}:", item[1]) if kind == "map" else ("-", item)
        if value[0] == "scalar":
            lines.append(f"{pad}{head} {value[1]}")
        else:
            rendered = _render(value, pad + "  ")
            if value[0] == "prefixed" and value[1][1][0] == "scalar":
                lines.append(f"{pad}{head} {rendered[0]}")
            elif value[0] == "prefixed":
                lines.extend([f"{pad}{head} {rendered[0]}", *rendered[1:]])
            else:
                lines.extend([f"{pad}{head}", *rendered])
    return lines


@st.composite
def documents(draw: st.DrawFn) -> str:
    root = draw(st.lists(st.tuples(key, tree), min_size=1, max_size=5))
    text = draw(st.sampled_from([ANCHORS, ""])) + "\n".join(_render(("map", root), "")) + "\n"
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(NOISE)) + text[at:]
    return text


def _same(read: Any, reference: Any) -> bool:
    """Equal, types included (1, 1.0 and True differ); a date read as the text it was written as."""
    if isinstance(reference, (datetime.date, datetime.datetime)):
        return isinstance(read, str) and yaml.load(read, Loader=yaml.SafeLoader) == reference
    if type(read) is not type(reference):
        return False
    if isinstance(reference, dict):
        return read.keys() == reference.keys() and all(_same(read[key], reference[key]) for key in reference)
    if isinstance(reference, list):
        return len(read) == len(reference) and all(_same(a, b) for a, b in zip(read, reference, strict=True))
    return bool(read == reference or (read != read and reference != reference))


def kmc_answer(text: str) -> Any:
    """kmc's data for `text`, or its diagnostics as (line, column, message) lists; any other exception propagates."""
    try:
        return {"data": parse_stack(text.encode("utf-8"), "stack.yaml").data}
    except StackInvalid as err:
        return {"problems": [[problem.file, problem.line, problem.column, problem.message] for problem in err.diagnostics]}


def _check(text: str) -> None:
    try:
        reference: Any = yaml.load(text, Loader=yaml.SafeLoader)
        refused = False
    except (yaml.YAMLError, ValueError, KeyError, TypeError, AttributeError):  # PyYAML fails on `0x_` with ValueError, on `!!bool 2` with KeyError
        refused = True
    answer = kmc_answer(text)
    if "problems" in answer:
        assert answer["problems"], text
        for file, line, column, _ in answer["problems"]:
            assert file == "stack.yaml" and line >= 1 and column >= 1, (text, answer)
        return
    assert not refused, f"kmc read what PyYAML's safe loader refuses:\n{text!r}\n{answer}"
    assert _same(answer["data"], reference), f"{text!r}\nkmc:    {answer['data']!r}\nPyYAML: {reference!r}"


# What the fallback reader misread or failed on.
REGRESSIONS = [
    "a: 1\n\ufeffb: 2\n",
    "a:\n  \ufeffb: 2\n",
    "key: !\n",
    "a: !!set {x, y}\n",
    "a: !!omap [x: 1, y: 2]\n",
    "a: !!str {x: 1}\n",
    "a: !foo {x: 1}\n",
    "a: !foo [1]\n",
    "a: 0x_\n",
    "a: !!int 1.5\n",
    "a: !!bool 2\n",
    "a: !!timestamp x\n",
    "a: 2001-02-30\n",
    "a: 2001-1-1t1:00:00+25\n",
    "a: [b?c]\n",
    "a: b\tc\n",
    "a: b\t\n",
    "x: &a {p: 1}\ny: &b {p: 2, q: 3}\nz:\n  <<: *a\n  <<: *b\n",
]


@pytest.mark.parametrize("text", REGRESSIONS)
def test_regressions(text: str) -> None:
    _check(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\n\ufeffb: 2\n", "2:1: not valid YAML: a byte-order mark (U+FEFF) inside the file"),
        ("a: !!set {x, y}\n", "1:4: unsupported YAML tag !!set on a mapping"),
        ("a: !foo [1]\n", "1:4: unsupported YAML tag !foo on a list"),
        ("a: !foo x\n", "1:4: unsupported YAML tag !foo"),
        ("a: 0x_\n", "1:4: '0x_' cannot be read as an integer"),
        ("a: !!bool 2\n", "1:4: '2' cannot be read as a boolean"),
        ("a: b\tc\n", "1:5: not valid YAML: a tab character where YAML expects indentation or a value"),
    ],
)
def test_refusals_are_located(text: str, message: str) -> None:
    problems = kmc_answer(text)["problems"]
    assert [f"{line}:{column}: {text}" for _, line, column, text in problems] == [message]


def test_empty_tag_reads_as_null_as_pyyaml_does() -> None:
    assert kmc_answer("key: !\n") == {"data": {"key": None}}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=documents())
@example(text="a: &a {p: 1}\nb:\n  <<: *a\n  q: !!int 2\n")
def test_kmc_reads_as_the_safe_loader_or_refuses(text: str) -> None:
    _check(text)


# Run in a fresh interpreter where libyaml's extension cannot be imported.
_WITHOUT_LIBYAML = """
import json, sys
from typing import Any
sys.modules["yaml._yaml"] = None
import yaml
assert not yaml.__with_libyaml__ and not hasattr(yaml, "CSafeLoader")
from kmc.errors import StackInvalid
from kmc.read.loader import parse_stack
exec(sys.argv[1])
print(json.dumps([kmc_answer(text) for text in json.load(sys.stdin)]))
"""


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(texts=st.lists(documents(), min_size=10, max_size=40))
def test_the_answer_does_not_depend_on_libyaml(texts: list[str]) -> None:
    texts = REGRESSIONS + texts
    here = json.loads(json.dumps([kmc_answer(text) for text in texts]))
    source = inspect.getsource(kmc_answer)
    run = subprocess.run([sys.executable, "-c", _WITHOUT_LIBYAML, source], input=json.dumps(texts), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for text, mine, theirs in zip(texts, here, json.loads(run.stdout), strict=True):
        assert mine == theirs, text


def test_libyaml_is_here_to_be_told_apart() -> None:
    """The comparison above means something only where libyaml is installed (it is in kmc's test setup)."""
    assert yaml.__with_libyaml__
