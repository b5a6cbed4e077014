"""Where every number of a profile comes from: one row per value, with the note that covers it.

A value's provenance is the nearest ``source`` / ``assumed`` note at or above it (a ``{value, source}`` mapping,
the mapping that holds it, or any mapping further up), as the loader applies them.

>>> rows = provenance_rows({"battery": {"capacity": {"value": "45 mAh", "source": "datasheet"}}})
>>> rows[0]["key"], rows[0]["value"], rows[0]["source"]
('battery.capacity', '45 mAh', 'datasheet')
"""

from __future__ import annotations

from typing import Any, Iterator

from dslsim.yamldoc import PROVENANCE_KEYS

#: Top-level parts of a profile that hold no physical numbers.
SKIP = ("name", "description", "default_scenario")


def _walk(node: Any, path: str, notes: dict[str, str]) -> Iterator[dict[str, str]]:
    if isinstance(node, dict):
        if "value" in node and set(node) <= {"value", *PROVENANCE_KEYS}:
            here = {**notes, **{k: node[k] for k in PROVENANCE_KEYS if k in node}}
            yield {"key": path, "value": str(node["value"]), "source": here.get("source", ""),
                   "assumed": here.get("assumed", "")}
            return
        here = {**notes, **{k: node[k] for k in PROVENANCE_KEYS if k in node}} if \
            any(k in node for k in PROVENANCE_KEYS) else notes
        for key, value in node.items():
            if key in PROVENANCE_KEYS or (not path and key in SKIP) or key == "name":
                continue
            yield from _walk(value, f"{path}.{key}" if path else str(key), here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            label = item.get("name", i) if isinstance(item, dict) else i
            yield from _walk(item, f"{path}[{label}]", notes)
    elif not isinstance(node, bool) and (isinstance(node, (int, float)) or any(c.isdigit() for c in str(node))):
        yield {"key": path, "value": str(node), "source": notes.get("source", ""), "assumed": notes.get("assumed", "")}


def provenance_rows(document: dict) -> list[dict[str, str]]:
    """Every number of a profile document (as loaded from YAML) with its source and assumption notes."""
    return list(_walk(document, "", {}))


def provenance_markdown(named_documents: dict[str, dict]) -> str:
    """A markdown page with one table per profile."""
    lines = ["# Where every number of the shipped profiles comes from", "",
             "*Written by `dslsim profiles sources --markdown docs/profile-sources.md` from the YAML files in "
             "`hw_profiles/`; the test suite fails if it is stale. Do not edit by hand.*", ""]
    for name, doc in named_documents.items():
        lines += [f"## `hw_profiles/{name}.yaml`", "", "| key | value | source | assumed |", "|---|---|---|---|"]
        for row in provenance_rows(doc):
            cells = [row["key"], row["value"], row["source"], row["assumed"]]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)
