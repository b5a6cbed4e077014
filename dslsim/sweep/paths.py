"""Dotted paths into YAML documents: ``cores.big.opps[high].freq``, ``links[dsp<->big].bandwidth``.

A bracket selects a list item by index (``[0]``), by its ``name`` (``[high]``) or, for links, by the two cores
it joins (``[dsp<->big]``, either order).

>>> doc = {"cores": {"big": {"opps": [{"name": "low", "freq": "1 GHz"}]}}}
>>> set_path(doc, "cores.big.opps[low].freq", "2 GHz", create=False)
>>> doc["cores"]["big"]["opps"][0]["freq"]
'2 GHz'
"""

from __future__ import annotations

import re
from typing import Any

_SEGMENT = re.compile(r"^([^.\[\]]+)((?:\[[^\]]+\])*)$")


class PathError(ValueError):
    """A dotted path does not fit the document; the message says where and what exists there."""


def split_path(path: str) -> list[str | tuple[str]]:
    """``'a.b[1].c'`` -> ``['a', 'b', ('1',), 'c']`` (tuples are list selectors)."""
    parts: list[str | tuple[str]] = []
    for segment in path.split("."):
        m = _SEGMENT.match(segment)
        if not m:
            raise PathError(f"'{segment}' is not a key or key[selector]")
        parts.append(m.group(1))
        parts.extend((sel,) for sel in re.findall(r"\[([^\]]+)\]", m.group(2)))
    return parts


def _select(items: list, selector: str, where: str) -> int:
    if selector.isdigit():
        if int(selector) < len(items):
            return int(selector)
        raise PathError(f"{where} has {len(items)} items, no [{selector}]")
    ends = set(selector.split("<->"))
    for i, item in enumerate(items):
        if isinstance(item, dict) and (item.get("name") == selector or
                                       (len(ends) == 2 and set(item.get("between") or ()) == ends)):
            return i
    names = [item.get("name") or "<->".join(item.get("between") or ()) for item in items if isinstance(item, dict)]
    raise PathError(f"{where} has no item [{selector}] (items: {', '.join(map(str, names))})")


def set_path(doc: dict, path: str, value: Any, create: bool) -> None:
    """Set ``value`` at ``path`` in ``doc``; with ``create`` missing mappings on the way are made."""
    parts = split_path(path)
    node: Any = doc
    where = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, tuple):
            if not isinstance(node, list):
                raise PathError(f"{where or 'the top level'} is not a list, so [{part[0]}] selects nothing")
            idx = _select(node, part[0], where)
            where = f"{where}[{part[0]}]"
            if last:
                node[idx] = value
                return
            node = node[idx]
            continue
        if not isinstance(node, dict):
            raise PathError(f"{where} is not a mapping, so it has no key '{part}'")
        if last:
            node[part] = value
            return
        if part not in node:
            if not create:
                raise PathError(f"no key '{part}' under {where or 'the top level'} "
                                f"(keys: {', '.join(map(str, node)) or 'none'})")
            node[part] = {}
        node = node[part]
        where = f"{where}.{part}" if where else part
