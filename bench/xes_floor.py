"""The physical floor of reading a XES log on this machine: the cheapest ways to read it at all.

Run by `tongban bench` (stage `report`) with the PM4Py environment's interpreter, which has lxml
(a dependency of PM4Py, not of the project), so that the floor is not bounded by our own choice
of parser. Each way reads the whole file and builds nothing:

- `decompress`: the gzip stream inflated in 64 KiB blocks, the bytes dropped (no XML at all);
- `expat`: those blocks fed to the standard library's expat parser with no handlers — every
  element and attribute tokenised and checked for well-formedness in C, nothing handed to Python;
- `lxml`: `lxml.etree.iterparse` with a tag filter, visiting every event and reading every one of
  its attribute elements' key and value, clearing each event and trace once seen: the least a
  reader that hands every attribute to Python must do (when lxml is importable).

Prints one JSON object: the seconds of each way (in this process, after its imports), and the
events and attribute elements the lxml visit saw. The interpreter's start-up is the caller's.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.parsers import expat

BLOCK = 1 << 16
XES = "{http://www.xes-standard.org/}"


def blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes inflated (gzip) or as they are, in blocks."""
    with path.open("rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
        handle.seek(0)
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16) if compressed else None
        while chunk := handle.read(BLOCK):
            yield inflater.decompress(chunk) if inflater is not None else chunk
        if inflater is not None:
            yield inflater.flush()


def decompress(path: Path) -> int:
    return sum(len(block) for block in blocks(path))


def expat_parse(path: Path) -> int:
    parser = expat.ParserCreate()
    for block in blocks(path):
        parser.Parse(block, False)
    parser.Parse(b"", True)
    return parser.CurrentLineNumber


def lxml_visit(path: Path) -> tuple[int, int]:
    from lxml import etree  # only in the PM4Py environment

    with path.open("rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    events = attributes = 0
    event_tag, trace_tag = XES + "event", XES + "trace"
    # lxml's iterparse does not inflate gzip by itself.
    with gzip.open(path, "rb") if compressed else path.open("rb") as source:
        for _, element in etree.iterparse(source, events=("end",), tag=(event_tag, trace_tag)):
            if element.tag == event_tag:
                events += 1
                for child in element:
                    child.get("key")
                    child.get("value")
                    attributes += 1
            # Cleared, not removed: removing each trace from the log cost more than it saved.
            element.clear(keep_tail=False)
    return events, attributes


def timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    found = work()
    return time.perf_counter() - started, found


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: xes_floor.py LOG (.xes | .xes.gz)")
    path = Path(argv[1])
    result: dict[str, object] = {"source": path.name}
    seconds, size = timed(lambda: decompress(path))
    result |= {"decompress_s": round(seconds, 4), "xml_bytes": size}
    seconds, lines = timed(lambda: expat_parse(path))
    result |= {"expat_s": round(seconds, 4), "lines": lines}
    try:
        import lxml  # noqa: F401
    except ImportError:
        result["lxml_s"] = None
    else:
        seconds, seen = timed(lambda: lxml_visit(path))
        events, attributes = seen  # type: ignore[misc]
        result |= {"lxml_s": round(seconds, 4), "events": events, "attributes": attributes}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv)
