"""Reading YAML input with key paths, units and provenance, so every error names file and key.

>>> doc = Node({"freq": "200 MHz", "source": "datasheet"}, "f.yaml")
>>> doc.quantity("freq", "Hz")
200000000.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from dslsim.errors import DslsimError, InputError, describe, first_line
from dslsim.fileio import read_input_bytes
from dslsim.units import expected, parse_quantity

#: Keys that carry provenance for a value or for every value below them.
PROVENANCE_KEYS = ("source", "assumed")
#: Keys a value mapping may state its uncertainty with: a relative ``tolerance`` ('10 %', 0.1), or ``min`` and
#: ``max`` in the value's unit (a datasheet's typ and max). See :mod:`dslsim.sim.uncertainty`.
UNCERTAINTY_KEYS = ("tolerance", "min", "max")


def spread_factors(data: dict, value: float, unit: str, source: Any, path: str) -> tuple[float, float] | None:
    """The range a value mapping states for its value, as (low, high) factors on it, or None when it states
    none; refused unless well formed (a tolerance from 0 to under 100 %, min <= value <= max, not both)."""
    if "tolerance" in data:
        raw = data["tolerance"]
        text = str(raw).strip()
        try:
            tol = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            tol = float("nan")
        if isinstance(raw, bool) or not 0.0 <= tol < 1.0:
            raise InputError(source, f"{path}.tolerance", describe(raw),
                             "a relative tolerance from 0 to under 100 %, e.g. '10 %' or 0.1")
        if "min" in data or "max" in data:
            raise InputError(source, path, "both a tolerance and min/max", "one way of stating the range")
        return 1.0 - tol, 1.0 + tol
    if "min" not in data and "max" not in data:
        return None
    lo = parse_quantity(data["min"], unit, source, f"{path}.min", minimum=None) if "min" in data else value
    hi = parse_quantity(data["max"], unit, source, f"{path}.max", minimum=None) if "max" in data else value
    if not lo <= value <= hi or value == 0:
        raise InputError(source, path, f"min {data.get('min')!r}, value {data.get('value')!r}, max "
                         f"{data.get('max')!r}", "min <= value <= max, around a value that is not 0")
    return lo / value, hi / value


#: Limits that no profile, scenario or sweep spec comes near, but an alias bomb (a few kilobytes of anchors that
#: expand to billions of values for whatever walks them) or a stack-exhausting nest does.
MAX_EXPANDED = 1_000_000
MAX_DEPTH = 50
#: Largest YAML file read (a profile, scenario, sweep spec or measurement file is a few kB to a few hundred kB).
MAX_YAML_BYTES = 16 * 2**20


def _strict_loader():
    """A ``yaml.SafeLoader`` that refuses duplicate keys, documents that expand beyond :data:`MAX_EXPANDED` values
    through aliases, and nesting deeper than :data:`MAX_DEPTH`."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        depth = 0

        def __init__(self, stream):
            super().__init__(stream)
            self.sizes: dict[int, int] = {}

        def _size(self, node) -> int:
            """Values the node stands for once every alias in it is expanded (children are composed first)."""
            if id(node) not in self.sizes:
                if isinstance(node, yaml.SequenceNode):
                    inner = sum(self._size(child) for child in node.value)
                elif isinstance(node, yaml.MappingNode):
                    inner = sum(self._size(k) + self._size(v) for k, v in node.value)
                else:
                    inner = 0
                self.sizes[id(node)] = 1 + inner
            return self.sizes[id(node)]

        def compose_node(self, parent, index):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels")
            try:
                node = super().compose_node(parent, index)
            finally:
                self.depth -= 1
            if self._size(node) > MAX_EXPANDED:
                raise yaml.YAMLError(f"its alias references expand to more than {MAX_EXPANDED:,} values")
            return node

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True) if key_node.tag != "tag:yaml.org,2002:merge" else None
                try:
                    hash(key)
                except TypeError:
                    continue  # an unhashable key: SafeLoader refuses it below, with its own message
                if key is not None and key in seen:
                    mark = key_node.start_mark
                    raise yaml.YAMLError(f"the key {key!r} appears twice in one mapping (line {mark.line + 1}, "
                                         f"column {mark.column + 1}); YAML would silently keep the last")
                seen.add(key)
            return super().construct_mapping(node, deep)

    return StrictLoader


def load_yaml(path: str | Path) -> Any:
    """Load a YAML file safely (no object construction, no duplicate keys, bounded aliases and depth), turning I/O
    and syntax problems into one-paragraph errors."""
    import yaml

    path = Path(path)
    try:
        text = read_input_bytes(path, MAX_YAML_BYTES, "a YAML document").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DslsimError(f"{path}: cannot be read as UTF-8 text ({exc}).") from None
    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise DslsimError(f"{path}: not valid YAML{where}: {problem}.") from None
    except RecursionError:
        raise DslsimError(f"{path}: not valid YAML: nested too deeply.") from None


@dataclass
class Provenance:
    """Collects the key paths of numbers that carry no source and no 'assumed' note."""

    unsourced: list[str] = field(default_factory=list)


@dataclass
class Node:
    """A mapping inside a YAML document, with its file, its key path and inherited provenance."""

    data: Any
    source: Any
    path: str = ""
    sourced: bool = False
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        if not isinstance(self.data, dict):
            raise InputError(self.source, self.path or "top level", describe(self.data), "a mapping of keys")
        if any(k in self.data for k in PROVENANCE_KEYS):
            self.sourced = True
            for key in PROVENANCE_KEYS:
                note = self.data.get(key)
                if key in self.data and (not isinstance(note, str) or not note.strip()):
                    raise InputError(self.source, self.at(key), describe(note),
                                     "a text saying where the numbers come from (or why they are assumed)")

    def at(self, key: Any) -> str:
        """The key path of a child: ``cores.dsp`` + ``opps`` -> ``cores.dsp.opps``."""
        return f"{self.path}.{key}" if self.path else str(key)

    def check_keys(self, allowed: set[str] | tuple[str, ...], required: tuple[str, ...] = ()) -> None:
        """Reject unknown keys (typos) and missing required ones."""
        allowed = set(allowed) | set(PROVENANCE_KEYS)
        for key in self.data:
            if key not in allowed:
                raise InputError(self.source, self.at(key), f"the unknown key {key!r}",
                                 f"one of {sorted(allowed - set(PROVENANCE_KEYS))}")
        for key in required:
            if key not in self.data:
                raise InputError(self.source, self.at(key), "nothing", "this key to be present")

    def has(self, key: str) -> bool:
        """True when ``key`` is present."""
        return key in self.data

    def child(self, key: str) -> "Node":
        """The mapping under ``key``, inheriting provenance."""
        return Node(self.data.get(key), self.source, self.at(key), self.sourced, self.provenance)

    def children(self, key: str) -> Iterator[tuple[str, "Node"]]:
        """(name, node) for each entry of the mapping under ``key``, in file order."""
        for name in self.child(key).data:
            yield str(name), self.child(key).child(name)

    def items_of(self, key: str, allow_empty: bool = False) -> Iterator["Node"]:
        """Nodes for each entry of the list under ``key``."""
        value = self.data.get(key)
        if not isinstance(value, list) or not (value or allow_empty):
            raise InputError(self.source, self.at(key), describe(value), "a non-empty list")
        for i, item in enumerate(value):
            yield Node(item, self.source, f"{self.at(key)}[{i}]", self.sourced, self.provenance)

    def text(self, key: str, default: str | None = None, choices: tuple[str, ...] | None = None) -> str:
        """A string value (required unless ``default`` is given)."""
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value:
            raise InputError(self.source, self.at(key), describe(value), "a non-empty text")
        if choices and value not in choices:
            raise InputError(self.source, self.at(key), repr(value), f"one of {list(choices)}")
        return value

    def quantity(self, key: str, unit: str, default: Any = None, **checks: Any) -> float:
        """A number with units, as an SI float; a value may be ``{value: ..., source: ...}``."""
        raw = self.data.get(key, default)
        path = self.at(key)
        sourced = self.sourced
        spread = None
        if isinstance(raw, dict):
            node = Node(raw, self.source, path, self.sourced, self.provenance)
            node.check_keys({"value", *UNCERTAINTY_KEYS}, required=("value",))
            spread = node
            raw, sourced, path = raw["value"], node.sourced, node.at("value")
        if raw is None:
            raise InputError(self.source, self.at(key), "nothing", expected(unit))
        value = parse_quantity(raw, unit, self.source, path, **checks)
        if spread is not None:
            spread_factors(spread.data, value, unit, spread.source, spread.path)
        if not sourced and key in self.data:
            self.provenance.unsourced.append(path)
        return value

