"""The loader's PyYAML path: what kmc.read.yaml_subset declines, and every malformed stack.

PyYAML composes the node tree (keeping marks); this module constructs JSON-like values from it
itself, so that duplicate keys, non-string keys, cyclic or exploding aliases and non-JSON types
are reported with their position instead of being silently accepted.

The answer is PyYAML's safe loader's, or a located error; never another value, whether libyaml
is installed or not. So the tree is composed by PyYAML's pure-Python parser, never libyaml's:
the two disagree (libyaml accepts a tab or a `?` inside a plain scalar, reads `key: !` as ""
where PyYAML reads null, and differs on a byte-order mark inside the text), and a stack must not
mean one thing on one machine and another on the next. It is several times slower than libyaml
(golden/full read this way: 5-6 times), and only unusual stacks come this way (kmc.read.yaml_subset
reads the rest). What the safe loader would build and a stack cannot hold (sets, ordered maps,
binary, tagged collections, unknown tags) is refused where it is written.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from kmc.errors import Diagnostic, StackInvalid
from kmc.read.document import CONTROL, MAX_DEPTH, MAX_NODES, Document, JsonPath, Scalar, json_path, located

# What YAML refuses anywhere in a stream, and what it counts as a line break.
_NOT_YAML_TEXT = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def parse(text: str, file: str, lines: tuple[str, ...]) -> Document:
    """`text` (a stack's decoded text, split into `lines`) as a Document; StackInvalid with PyYAML's located error."""
    (root,) = _composed(text, file, lines, stream=False)
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == "tag:yaml.org,2002:null"):
        raise located(file, 1, 1, "the file is empty", "start from `kmc init`, which writes a commented stack.yaml")
    builder = _Builder(file, lines)
    data = builder.build(root, ())
    if builder.problems:
        raise StackInvalid(builder.problems)
    return Document(file, data, lines, builder.positions, builder.key_positions, builder.scalars)


def _composed(text: str, file: str, lines: tuple[str, ...], *, stream: bool) -> list[Any]:
    """The root node of `text` (`stream`: of each of its documents), composed by PyYAML's pure-Python
    loader; StackInvalid with its located error."""
    _check_byte_order_mark(text, file, lines)
    try:
        return list(yaml.compose_all(text, Loader=_Loader)) if stream else [yaml.compose(text, Loader=_Loader)]
    except _TooDeep as err:
        raise _too_deep(err, file, lines) from None
    except yaml.MarkedYAMLError as err:
        raise _yaml_error(err, file, lines) from None
    except yaml.reader.ReaderError as err:
        raise _reader_error(err, text, file, lines) from None
    except yaml.YAMLError as err:
        raise located(file, 1, 1, f"not valid YAML: {err}") from None


def _check_byte_order_mark(text: str, file: str, lines: tuple[str, ...]) -> None:
    """A byte-order mark is allowed only as the file's first character (the caller drops that one):
    elsewhere PyYAML takes it for a character of a key or value, libyaml sometimes for an error."""
    at = text.find("\ufeff")
    if at < 0:
        return
    before = text[:at]
    line = len(_YAML_LINE_BREAK.findall(before)) + 1
    column = at - max(before.rfind(char) for char in "\n\r\x85\u2028\u2029")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    message = "not valid YAML: a byte-order mark (U+FEFF) inside the file"
    hint = "remove it: an editor or a concatenation left it there; it is invisible, but YAML readers differ on it"
    raise StackInvalid([Diagnostic(file, line, column, "$", message, hint, source_line=source)])


class _TooDeep(Exception):
    """Collections nested more than MAX_DEPTH levels, the innermost starting at `mark`."""

    def __init__(self, mark: Any) -> None:
        self.mark = mark


def _too_deep(err: _TooDeep, file: str, lines: tuple[str, ...]) -> StackInvalid:
    mark = err.mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    message = f"values are nested more than {MAX_DEPTH} levels deep"
    return StackInvalid([Diagnostic(file, line, column, "$", message, "a stack is a few levels deep; is a bracket unbalanced?", source_line=source)])


def parse_all(text: str, file: str, lines: tuple[str, ...]) -> list[Document]:
    """Every document of a multi-document stream (`---`), each with positions in the whole file;
    empty documents are left out. StackInvalid with PyYAML's located error, or every problem of
    the documents' values."""
    documents, problems = [], []
    for root in _composed(text, file, lines, stream=True):
        if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == "tag:yaml.org,2002:null"):
            continue
        builder = _Builder(file, lines)
        data = builder.build(root, ())
        problems += builder.problems
        documents.append(Document(file, data, lines, builder.positions, builder.key_positions, builder.scalars))
    if problems:
        raise StackInvalid(problems)
    return documents


def _yaml_error(err: yaml.MarkedYAMLError, file: str, lines: tuple[str, ...]) -> StackInvalid:
    mark = err.problem_mark or err.context_mark
    if err.context_mark is not None and (mark is None or mark.line >= len(lines)):
        mark = err.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if line > max(len(lines), 1):  # the end of a file without a final newline: its last character
        line, column = max(len(lines), 1), len(lines[-1]) + 1 if lines else 1
    problem = err.problem or err.context or "not valid YAML"
    if err.context and err.problem and mark is err.context_mark:
        expected = re.sub(r", but (?:got|found) '<stream end>'$", "", err.problem)
        problem = f"{err.context}: {expected} before the end of the file"
    hint = ""
    if "\t" in problem or (0 < line <= len(lines) and "\t" in lines[line - 1][:column]):
        problem = "a tab character where YAML expects indentation or a value"
        hint = "indent with spaces; YAML does not allow tabs for indentation"
    elif "expected a single document" in problem or "but found another document" in (err.problem or ""):
        problem = "the file holds more than one YAML document"
        hint = "a stack is one document; remove the `---` separators"
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return StackInvalid([Diagnostic(file, line, column, "$", f"not valid YAML: {problem}", hint, source_line=source)])


def _reader_error(err: yaml.reader.ReaderError, text: str, file: str, lines: tuple[str, ...]) -> StackInvalid:
    """A character YAML allows nowhere in a file, located (libyaml counts its offset in bytes, so find it again)."""
    found = _NOT_YAML_TEXT.search(text)
    index = found.start() if found else min(err.position, len(text))
    before = text[:index]
    line = len(_YAML_LINE_BREAK.findall(before)) + 1
    column = index - max(before.rfind(char) for char in "\n\r\x85\u2028\u2029")
    character = text[index] if index < len(text) else ""
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    message = f"not valid YAML: the character {character!r} is not allowed anywhere in a YAML file"
    return StackInvalid(
        [Diagnostic(file, line, column, "$", message, "remove it; stack files are printable text (tabs and line breaks aside)", source_line=source)]
    )


class _Loader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, whether libyaml is installed or not (see the module's
    docstring), that refuses deep nesting as it composes: its composer recurses."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep(event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_SCALARS = yaml.constructor.SafeConstructor()


class _Builder:
    def __init__(self, file: str, lines: tuple[str, ...]) -> None:
        self.file = file
        self.lines = lines
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.key_positions: dict[JsonPath, tuple[int, int]] = {}
        self.scalars: dict[JsonPath, Scalar] = {}
        self.problems: list[Diagnostic] = []
        self._count = 0
        self._active: set[int] = set()

    def _problem(self, node: yaml.Node, path: JsonPath, message: str, hint: str = "") -> None:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.problems.append(Diagnostic(self.file, line, column, json_path(path), message, hint, source_line=source))

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            if self._count == MAX_NODES + 1:
                self._problem(
                    node,
                    path,
                    f"the document expands to more than {MAX_NODES} values",
                    "aliases (*name) that repeat large anchors multiply the document; write the values out",
                )
            return None
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if id(node) in self._active:
            self._problem(node, path, "an alias refers to a node that contains it", "remove the recursive alias")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        expected = "tag:yaml.org,2002:seq" if isinstance(node, yaml.SequenceNode) else "tag:yaml.org,2002:map"
        if node.tag != expected:
            self._problem(node, path, f"unsupported YAML tag {_short(node.tag)} on a {'list' if isinstance(node, yaml.SequenceNode) else 'mapping'}", _TAG_HINT)
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        self.scalars[path] = Scalar(node.value, node.style in ("'", '"', "|", ">"))
        if node.tag not in _SCALAR_TAGS:
            self._problem(node, path, f"unsupported YAML tag {_short(node.tag)}", _TAG_HINT)
            return None
        try:
            value = _SCALARS.construct_object(node)
        except yaml.constructor.ConstructorError as err:
            self._problem(node, path, f"cannot read this value: {err.problem}")
            return None
        except (ValueError, KeyError, TypeError, AttributeError):  # PyYAML's constructors fail thus on `0x_`, `!!int 1.5`, `!!bool 2`
            self._problem(node, path, f"{node.value!r} cannot be read as {_kind(node)}", "quote it if it is text, and remove any tag")
            return None
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # dates are only ever meant as text in a stack
        if isinstance(value, str) and (bad := CONTROL.search(value)):
            self._problem(node, path, f"the text holds the control character {bad.group()!r}", "stack values are printable text (tabs and line breaks aside)")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self._problem(node, path, f"{node.value} is not a finite number", "no value of a stack is NaN or infinite")
            return None
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            self._problem(node, path, f"unsupported YAML type {node.tag}", "use plain strings, numbers, booleans, lists and mappings")
            return None
        return value

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                text = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
                hint = f"quote the key: '{text}'" if isinstance(key_node, yaml.ScalarNode) else ""
                self._problem(key_node, path, f"mapping keys must be strings; {text!s} is read as {_kind(key_node)}", hint)
                continue
            key = key_node.value
            child = (*path, key)
            if key in out:
                first = self.key_positions[child]
                self._problem(
                    key_node, child, f"duplicate key {key!r} (first defined at line {first[0]})", "remove one of them; YAML would silently keep only the last"
                )
                continue
            self.key_positions.setdefault(child, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
            out[key] = self.build(value_node, child)
        for value_node in merges:
            self._merge(value_node, path, out)
        return out

    def _merge(self, value_node: yaml.Node, path: JsonPath, out: dict[str, Any]) -> None:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self._problem(source, path, "a merge key (<<) needs a mapping or a list of mappings")
                continue
            if id(source) in self._active:
                self._problem(source, path, "a merge key (<<) refers to a mapping that contains it", "remove the recursive merge")
                continue
            self._active.add(id(source))
            try:
                merged = self._mapping(source, path)
            finally:
                self._active.discard(id(source))
            for key, value in merged.items():
                out.setdefault(key, value)


_YAML_TAG = "tag:yaml.org,2002:"
# The scalar tags whose values a stack can hold (binary, merge and value are refused as types).
_SCALAR_TAGS = frozenset(_YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp", "binary", "merge", "value"))
_TAG_HINT = "a stack holds plain strings, numbers, booleans, lists and mappings; remove the tag"


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


def _kind(node: yaml.Node) -> str:
    return {
        "tag:yaml.org,2002:bool": "a boolean",
        "tag:yaml.org,2002:int": "an integer",
        "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:null": "null",
        "tag:yaml.org,2002:timestamp": "a date",
    }.get(node.tag, "a non-string value")
