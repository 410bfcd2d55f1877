"""Where one `kmc build` spends its time, stage by stage, in this (fresh) process: reading and
validating the stack, compiling the object graph, emitting the files, writing them.

    .venv/bin/python benchmarks/stages.py STACK OUT [--format manifests]
    # prints one JSON object: seconds per stage, file count
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--format", default="manifests", choices=("manifests", "helm", "kustomize"))
    args = parser.parse_args()
    started = time.perf_counter()
    from kmc import components, pipeline
    from kmc.check.validate import validate
    from kmc.output.writer import write_trees
    from kmc.read.loader import read_stack

    imported = time.perf_counter()
    doc = read_stack(args.stack)
    read = time.perf_counter()
    stack, _ = validate(doc, args.stack.parent, "create")
    validated = time.perf_counter()
    graph = components.object_graph(stack)
    compiled = time.perf_counter()
    trees = pipeline.emit(pipeline.Compiled(stack, graph, (), ()), (args.format,), None)
    emitted = time.perf_counter()
    write_trees(args.out, trees)
    written = time.perf_counter()
    seconds = {
        "import": imported - started,
        "read": read - imported,
        "validate": validated - read,
        "compile": compiled - validated,
        "emit": emitted - compiled,
        "write": written - emitted,
    }
    print(json.dumps({"seconds": seconds, "files": sum(len(files) for files in trees.values())}))


if __name__ == "__main__":
    main()
