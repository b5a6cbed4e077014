"""What a YAML document may hold, declared once: the loaders check keys and read units and defaults from the
declaration, and :func:`json_schema` turns the same declaration into a JSON Schema for editors.

A declaration is a tree of fields: :class:`Obj` (fixed keys, each a field; ``source``/``assumed`` always allowed),
:class:`Map` (keys the user names: cores, op kinds, sleep states), :class:`List`, :class:`Quantity` (a number
with a unit, written ``"200 MHz"`` or ``{value: 200 MHz, source: ...}``), :class:`Text`, :class:`Flag`,
:class:`Integer`, :class:`Anything`, :class:`AnyOf` and :class:`Ref` (another document kind, embedded).

>>> point = Obj({"name": Text(doc="its name", required=True),
...              "freq": Quantity("Hz", doc="its highest clock", required=True, positive=True)}, doc="a point")
>>> sorted(point.allowed), point.required_keys
(['assumed', 'freq', 'name', 'source'], ('name', 'freq'))
>>> point.quantity(Node({"name": "top", "freq": "80 MHz"}, "f.yaml"), "freq")
80000000.0
>>> json_schema(point, "Point")["properties"]["freq"]["examples"]
['200 MHz']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dslsim.units import _NUMBER, _UNIT_NAME, expected
from dslsim.yamldoc import PROVENANCE_KEYS, UNCERTAINTY_KEYS, Node

#: The JSON Schema dialect written. The schemas keep to keywords that draft-07 tools (the YAML language server
#: behind most editors) read the same way: no prefixItems, unevaluated* or dynamic references. Descriptions, titles
#: and the language server's patternErrorMessage are for people; validators ignore them.
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: The loader's grammar of a quantity (:data:`dslsim.units.QUANTITY`) without Python-only named groups, so an
#: editor's ECMAScript regex engine reads it too; the unit is required except in dimensionless fields.
_UNIT = rf"{_UNIT_NAME}(?:\s*[/*]?\s*{_UNIT_NAME})*"
WITH_UNIT = rf"^\s*{_NUMBER}\s*{_UNIT}\s*$"
UNIT_OPTIONAL = rf"^\s*{_NUMBER}\s*(?:{_UNIT})?\s*$"
#: Longest quantity text the loader reads (:func:`dslsim.units.parse_quantity`).
MAX_QUANTITY_TEXT = 64


@dataclass(frozen=True, kw_only=True)
class Field:
    """One value of a document: what it means (a line for editors' hover text) and whether its key must be
    present in the mapping that holds it."""

    doc: str = ""
    required: bool = False


@dataclass(frozen=True, kw_only=True)
class Quantity(Field):
    """A number with a unit, converted to ``unit`` (an SI unit; ``""`` for a plain number, which may also be
    written bare). ``default`` is the loader's when the key is absent (None: no default)."""

    unit: str = field(kw_only=False)
    default: str | float | None = None
    positive: bool = False
    """Greater than zero (otherwise at least zero, as every quantity is)."""
    maximum: float | None = None
    """Largest value; the loader says why in its own words."""
    below: float | None = None
    """Exclusive upper bound."""

    def read(self, node: Node, key: str) -> float:
        """The value under ``key`` as an SI float (the default when absent), every error naming file and key."""
        return node.quantity(key, self.unit, default=self.default, strictly_positive=self.positive)


@dataclass(frozen=True, kw_only=True)
class Text(Field):
    """A text (non-empty unless ``min_length`` is 0), optionally one of ``choices`` or matching ``pattern``
    (anchored); ``nullable`` also allows null (meaning: the default)."""

    choices: tuple[str, ...] = ()
    min_length: int = 1
    default: str | None = None
    pattern: str | None = None
    nullable: bool = False

    def read(self, node: Node, key: str) -> str:
        """The text under ``key`` (the default when absent), checked against ``choices``."""
        return node.text(key, default=self.default, choices=self.choices or None)


@dataclass(frozen=True, kw_only=True)
class Anything(Field):
    """Any value (a sweep axis sets whatever the field it varies holds)."""


@dataclass(frozen=True, kw_only=True)
class Flag(Field):
    """true or false."""

    default: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Integer(Field):
    """A whole number from ``minimum`` to ``maximum``."""

    minimum: int | None = None
    maximum: int | None = None
    default: int | None = None


@dataclass(frozen=True, kw_only=True)
class List(Field):
    """A list of ``item`` values, at least ``min_items`` (and at most ``max_items``) long."""

    item: Field = field(kw_only=False)
    min_items: int = 1
    max_items: int | None = None


@dataclass(frozen=True, kw_only=True)
class Map(Field):
    """A mapping whose keys the user names (cores, sleep states), each holding a ``value``.

    ``reserved`` names are refused as keys; ``key_pattern`` (anchored) is what every key must match."""

    value: Field = field(kw_only=False)
    min_entries: int = 0
    reserved: tuple[str, ...] = ()
    key_pattern: str | None = None


@dataclass(frozen=True, kw_only=True)
class AnyOf(Field):
    """A value of any of several forms (a policy or a mapping of policies, a quantity or the word 'frame')."""

    options: tuple[Field, ...] = field(kw_only=False)
    default: Any = None


@dataclass(frozen=True, kw_only=True)
class Ref(Field):
    """Another document kind, embedded here (a profile's default scenario is a scenario)."""

    kind: str = field(kw_only=False)


@dataclass(frozen=True, kw_only=True)
class Obj(Field):
    """A mapping with fixed keys; its provenance notes (``source``, ``assumed``) are always allowed. Of the keys
    in ``exactly_one``, exactly one must be present."""

    fields: dict[str, Field] = field(kw_only=False)
    exactly_one: tuple[str, ...] = ()

    @property
    def allowed(self) -> frozenset[str]:
        """The keys this mapping may hold, provenance notes included."""
        return frozenset(self.fields) | frozenset(PROVENANCE_KEYS)

    @property
    def required_keys(self) -> tuple[str, ...]:
        """The keys that must be present, in declaration order (the order missing keys are reported in)."""
        return tuple(k for k, f in self.fields.items() if f.required)

    def __getitem__(self, key: str) -> Field:
        return self.fields[key]

    def check(self, node: Node) -> None:
        """Refuse unknown and missing keys in ``node``, naming the key path (:meth:`Node.check_keys`)."""
        node.check_keys(self.allowed, self.required_keys)

    def quantity(self, node: Node, key: str) -> float:
        """Read the :class:`Quantity` field ``key`` of ``node`` in its declared unit and default."""
        spec = self.fields[key]
        if not isinstance(spec, Quantity):
            raise TypeError(f"{key} is declared as {type(spec).__name__}, not a Quantity")
        return spec.read(node, key)

    def text(self, node: Node, key: str) -> str:
        """Read the :class:`Text` field ``key`` of ``node`` with its declared choices and default."""
        spec = self.fields[key]
        if not isinstance(spec, Text):
            raise TypeError(f"{key} is declared as {type(spec).__name__}, not a Text")
        return spec.read(node, key)


# JSON Schema -----------------------------------------------------------------------------------------------------

#: Shapes every document shares, under ``$defs``: a provenance note, a quantity with a unit, a plain number, and
#: the mapping form of each (what :meth:`Node.quantity` reads: the value, its provenance and its range).
_NOTE = {"description": "where the numbers here come from (source), or why they are what they are (assumed)",
         "type": "string", "pattern": r"\S"}
# patternErrorMessage is the YAML language server's: what an editor says instead of quoting the pattern.
_QUANTITY = {"title": "a number and its unit", "description": "a number and its unit, such as '200 MHz'",
             "type": "string", "pattern": WITH_UNIT, "maxLength": MAX_QUANTITY_TEXT,
             "patternErrorMessage": "a number and then its unit, such as '200 MHz' or '40 uA/MHz'"}
_NUMBER_TEXT = {"type": "string", "pattern": UNIT_OPTIONAL, "maxLength": MAX_QUANTITY_TEXT,
                "patternErrorMessage": "a plain number such as 0.9 (a unit such as '%' may follow)"}
_SHARED: dict[str, Any] = {
    "note": _NOTE,
    "quantity": _QUANTITY,
    "number": {"title": "a plain number", "description": "a plain number (a unit such as '%' may follow)",
               "anyOf": [{"type": "number", "minimum": 0}, _NUMBER_TEXT]},
}


def _range_keys(plain: str) -> dict[str, Any]:
    """The schema of each key a value mapping states its range with (:data:`dslsim.yamldoc.UNCERTAINTY_KEYS`);
    a key added there without a shape here stops generation rather than go undescribed."""
    bound = _QUANTITY if plain == "quantity" else {"anyOf": [{"type": "number"}, _NUMBER_TEXT]}
    shapes = {
        "tolerance": {"description": "the value's relative tolerance, from 0 to under 100 %: '10 %' or 0.1",
                      "anyOf": [{"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                                {"type": "string", "pattern": rf"^\s*{_NUMBER}\s*%?\s*$"}]},
        "min": {"description": "the lowest the value may be, in its unit (not with tolerance)", **bound},
        "max": {"description": "the highest the value may be, in its unit (not with tolerance)", **bound},
    }
    unknown = [k for k in UNCERTAINTY_KEYS if k not in shapes]
    if unknown:
        raise ValueError(f"no JSON Schema for the value mapping's keys {unknown}: describe them in _range_keys")
    return {k: shapes[k] for k in UNCERTAINTY_KEYS}


def _shared() -> dict[str, Any]:
    """The ``$defs`` every schema carries, the mapping forms included."""
    shared = dict(_SHARED)
    for plain in ("quantity", "number"):
        shared[f"sourced_{plain}"] = {
            "title": "{value, source, ...}", "description": "the value with where it comes from and its range",
            "type": "object",
            "properties": {"value": {"$ref": f"#/$defs/{plain}"}, **_range_keys(plain),
                           **{k: {"$ref": "#/$defs/note"} for k in PROVENANCE_KEYS}},
            "required": ["value"], "additionalProperties": False}
    return shared


def json_schema(root: Obj, title: str, defs: dict[str, Obj] | None = None) -> dict[str, Any]:
    """The JSON Schema of documents declared by ``root``; ``defs`` holds the document kinds a :class:`Ref`
    names (embedded under ``$defs``, so the schema is one self-contained file)."""
    defs = defs or {}
    schema = {"$schema": DIALECT, "title": title, **_schema(root, defs),
              "$defs": {**_shared(), **{kind: _schema(obj, defs) for kind, obj in defs.items()}}}
    used = _refs(schema, schema["$defs"])
    schema["$defs"] = {name: shape for name, shape in schema["$defs"].items() if name in used}
    return schema


def _refs(schema: Any, shapes: dict[str, Any]) -> set[str]:
    """The ``$defs`` names ``schema`` refers to, directly or through each other (the rest is left out)."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref", "")
            name = ref.removeprefix("#/$defs/") if isinstance(ref, str) else ""
            if name in shapes and name not in found:
                found.add(name)
                stack.append(shapes[name])
            stack.extend(v for k, v in item.items() if k != "$defs")
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _schema(spec: Field, defs: dict[str, Obj]) -> dict[str, Any]:
    """The JSON Schema of one field (its description first, for readers of the generated file)."""
    out: dict[str, Any] = {"description": spec.doc} if spec.doc else {}
    if isinstance(spec, Obj):
        out.update(type="object", properties={
            **{k: _schema(f, defs) for k, f in spec.fields.items()},
            **{k: {"$ref": "#/$defs/note"} for k in PROVENANCE_KEYS}})
        if spec.required_keys:
            out["required"] = list(spec.required_keys)
        if spec.exactly_one:
            out["oneOf"] = [{"required": [k]} for k in spec.exactly_one]
        out["additionalProperties"] = False
    elif isinstance(spec, Quantity):
        plain = "quantity" if spec.unit else "number"
        out["description"] = f"{spec.doc}: {expected(spec.unit)}" if spec.doc else expected(spec.unit)
        out["anyOf"] = [{"$ref": f"#/$defs/{plain}"}, {"$ref": f"#/$defs/sourced_{plain}"}]
        # Numeric bounds apply to a bare number only (JSON Schema ignores them for text and mappings).
        for key, bound in (("exclusiveMinimum", 0 if spec.positive else None), ("maximum", spec.maximum),
                           ("exclusiveMaximum", spec.below)):
            if bound is not None:
                out[key] = bound
        examples = re.findall(r"'([^']+)'", expected(spec.unit))
        if examples:
            out["examples"] = examples
        if spec.default is not None:
            out["default"] = spec.default
    elif isinstance(spec, Text):
        out["type"] = ["string", "null"] if spec.nullable else "string"
        if spec.min_length:
            out["minLength"] = spec.min_length
        if spec.choices:
            out["enum"] = list(spec.choices) + ([None] if spec.nullable else [])
        if spec.pattern:
            out["pattern"] = spec.pattern
        if spec.default is not None:
            out["default"] = spec.default
    elif isinstance(spec, Flag):
        out["type"] = "boolean"
        if spec.default is not None:
            out["default"] = spec.default
    elif isinstance(spec, Integer):
        out["type"] = "integer"
        for key, value in (("minimum", spec.minimum), ("maximum", spec.maximum), ("default", spec.default)):
            if value is not None:
                out[key] = value
    elif isinstance(spec, List):
        out.update(type="array", items=_schema(spec.item, defs))
        if spec.min_items:
            out["minItems"] = spec.min_items
        if spec.max_items is not None:
            out["maxItems"] = spec.max_items
    elif isinstance(spec, Map):
        out.update(type="object", additionalProperties=_schema(spec.value, defs))
        if spec.min_entries:
            out["minProperties"] = spec.min_entries
        names: dict[str, Any] = {}
        if spec.reserved:
            names["not"] = {"enum": list(spec.reserved)}
        if spec.key_pattern:
            names["pattern"] = spec.key_pattern
        if names:
            out["propertyNames"] = names
    elif isinstance(spec, AnyOf):
        out["anyOf"] = [_schema(option, defs) for option in spec.options]
        if spec.default is not None:
            out["default"] = spec.default
    elif isinstance(spec, Anything):
        pass  # no constraint: the description only
    elif isinstance(spec, Ref):
        if spec.kind not in defs:
            raise ValueError(f"no document kind {spec.kind!r} to embed (given: {sorted(defs)})")
        out["$ref"] = f"#/$defs/{spec.kind}"
    else:
        raise TypeError(f"no JSON Schema for {type(spec).__name__}")
    return out
