"""The JSON Schemas of profiles, scenarios and sweep specs: generated from the declarations the loaders check
keys against, committed fresh under docs/schemas/, accepting every shipped document, and refusing a broken one at
the same key path as the loader."""

from __future__ import annotations

import ast
import copy
import re
from contextlib import contextmanager
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")
from jsonschema import Draft7Validator, Draft202012Validator  # noqa: E402
from jsonschema.exceptions import best_match  # noqa: E402

from conftest import ROOT, SHIPPED_TRACE, SIMPLE  # noqa: E402
from dslsim.cli.schemas import KINDS, document_schema, schema_text  # noqa: E402
from dslsim.errors import InputError  # noqa: E402
from dslsim.hw.load import parse_profile  # noqa: E402
from dslsim.hw.schema import PROFILE  # noqa: E402
from dslsim.sim.scenario import load_scenario, parse_scenario  # noqa: E402
from dslsim.sim.scenario_schema import SCENARIO  # noqa: E402
from dslsim.sweep.spec import parse_spec  # noqa: E402
from dslsim.sweep.spec_schema import SPEC  # noqa: E402
from dslsim.units import QUANTITY  # noqa: E402
from dslsim.yamldoc import PROVENANCE_KEYS, Node, load_yaml  # noqa: E402
from dslsim.yamlschema import UNIT_OPTIONAL, WITH_UNIT, AnyOf, Field, List, Map, Obj, Quantity, Ref  # noqa: E402

SCHEMAS = ROOT / "docs" / "schemas"
PROFILES = sorted((ROOT / "hw_profiles").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
DRAFTS = (Draft202012Validator, Draft7Validator)

#: A profile with every optional mapping of the declaration: kinetic battery, supply, currents, memory, idle,
#: sleep, peripherals (one current for all points and one per point), links, and a scenario using every key.
RICH = copy.deepcopy(SIMPLE)
RICH["description"] = "every optional mapping"
RICH["battery"].update(kinetic={"c": 0.5, "k": "1e-4 Hz", "source": "a test"}, self_discharge_per_month=0.02)
RICH["platform"]["floor"]["pmic"] = {"power": {"value": "10 uW", "source": "a test", "tolerance": "20 %"},
                                     "at": "battery"}
RICH["battery"]["voltage"] = {"value": "4 V", "min": "3.6 V", "max": "4.2 V"}
RICH["cores"]["a"].update(
    memory={"energy_per_byte": "1 pJ/B", "bytes_per_cycle": 4},
    supply={"voltage": "1.8 V", "regulator": "smps", "efficiency": 0.9, "datasheet_voltage": "3.3 V"},
    peripherals={"sai": {"base_current": "1 uA", "current_per_mhz": {"half": "1 uA/MHz", "full": "2 uA/MHz"},
                         "runs_in": ["s1"]},
                 "dma": {"current_per_mhz": {"value": "1 uA/MHz", "assumed": "a test"}}})
RICH["cores"]["a"]["opps"][0].update(run_current="40 uA/MHz", base_current="1 uA", idle_base_current="2 uA",
                                     idle_current="5 uA/MHz")
RICH["cores"]["a"]["ops"]["conv1d"] = {"cycles_per_mac": 2, "cycles_per_op": 10, "cycles_per_output": 1}
RICH["default_scenario"] = {
    "name": "rich", "description": "every key", "placement": {"default": "a", "full_decoder": "b"},
    "opp": {"a": "60 MHz", "b": "full"}, "sleep": {"a": {"s1": "2 ms"}}, "deadline": "5 ms",
    "when_busy": {"default": "queue", "b": "drop"}, "idle": {"a": "busy-poll"}, "streaming": {"a": ["sai"]}}

#: A sweep with every key: a range axis, a list axis, a threshold axis, a random sample.
SWEEP = {"name": "every-key", "description": "d", "baseline": False,
         "base": {"profile": "watch", "trace": str(SHIPPED_TRACE), "scenario": None},
         "axes": {"scenario.sleep.big.core_off": {"range": ["1 ms", "20 ms"], "steps": 3, "scale": "log"},
                  "scenario.opp.dsp": ["low", "nominal"], "trace.threshold": [0.3, 0.6]},
         "sample": {"mode": "random", "n": 3, "seed": 1}}


def validator(kind: str, draft=Draft202012Validator):
    return draft(document_schema(kind))


def schema_path(kind: str, doc: object, draft=Draft202012Validator) -> str | None:
    """The key path of the schema's most relevant complaint about ``doc``, written as the loader writes key paths
    (``cores.a.opps[0].freq``; an unknown or missing key is named, as the loader names it)."""
    error = best_match(validator(kind, draft).iter_errors(doc))
    if error is None:
        return None
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        path.append(next(k for k in error.instance if k not in error.schema.get("properties", {})))
    elif error.validator == "required":
        path.append(next(k for k in error.validator_value if k not in error.instance))
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + (f"'{part}'" if "." in str(part) else str(part))
    return text


def test_committed_schemas_are_fresh():
    for kind in KINDS:
        committed = SCHEMAS / f"{kind}.schema.json"
        assert committed.is_file() and committed.read_text(encoding="utf-8") == schema_text(kind), (
            f"{committed} is stale: run 'dslsim profiles schema --kind {kind} --out "
            f"docs/schemas/{kind}.schema.json'")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("draft", DRAFTS, ids=lambda d: d.__name__)
def test_schemas_are_valid_json_schemas_for_both_drafts(kind, draft):
    # Draft 2020-12 as declared, and draft-07, which most editors' YAML language server reads.
    draft.check_schema(document_schema(kind))


@pytest.mark.parametrize("draft", DRAFTS, ids=lambda d: d.__name__)
@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_every_shipped_profile_and_its_default_scenario_validate(path, draft):
    doc = load_yaml(path)
    assert schema_path("profile", doc, draft) is None
    assert doc.get("default_scenario") and schema_path("scenario", doc["default_scenario"], draft) is None


@pytest.mark.parametrize("draft", DRAFTS, ids=lambda d: d.__name__)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates(path, draft):
    doc = load_yaml(path)
    assert schema_path("sweep" if "axes" in doc else "scenario", doc, draft) is None


def test_the_documents_with_every_key_validate_and_load():
    assert schema_path("profile", RICH) is None and schema_path("sweep", SWEEP) is None
    load_scenario(None, parse_profile(RICH, "rich.yaml"))
    assert len(parse_spec(SWEEP, "sweep.yaml").points) == 3


def _set(path: str, value: object):
    """A mutation: set (or, for value DELETE, remove) the dotted path (list items by number)."""
    def mutate(doc):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        for part in parents:
            doc = doc[part]
        if value is DELETE:
            del doc[last]
        else:
            doc[last] = value
    return mutate


DELETE = object()

#: (document kind, mutation, the key path both the schema and the loader name).
BROKEN = [
    ("profile", _set("battery/capasity", "1 mAh"), "battery.capasity"),
    ("profile", _set("zz", 1), "zz"),
    ("profile", _set("battery/capacity", 45), "battery.capacity"),
    ("profile", _set("battery/capacity", {"value": "1 mAh", "sourse": "x"}), "battery.capacity.sourse"),
    ("profile", _set("battery/capacity", "45 m Ah !"), "battery.capacity"),
    ("profile", _set("battery/voltage/min", "low"), "battery.voltage.min"),
    ("profile", _set("platform/floor/pmic/power/tolerance", 1.5), "platform.floor.pmic.power.tolerance"),
    ("profile", _set("battery/voltage", DELETE), "battery.voltage"),
    ("profile", _set("battery/kinetic/k", DELETE), "battery.kinetic.k"),
    ("profile", _set("battery/source", ""), "battery.source"),
    ("profile", _set("name", DELETE), "name"),
    ("profile", _set("cores", "a"), "cores"),
    ("profile", _set("cores/a/kind", "gpu"), "cores.a.kind"),
    ("profile", _set("cores/a/opps", "fast"), "cores.a.opps"),
    ("profile", _set("cores/a/opps/1/freq", DELETE), "cores.a.opps[1].freq"),
    ("profile", _set("cores/a/opps/0/idle_base_current", 2), "cores.a.opps[0].idle_base_current"),
    ("profile", _set("cores/a/opps/0/turbo", True), "cores.a.opps[0].turbo"),
    ("profile", _set("cores/a/memory/bandwidth", "1 GB/s"), "cores.a.memory.bandwidth"),
    ("profile", _set("cores/a/supply/regulator", "buck"), "cores.a.supply.regulator"),
    ("profile", _set("cores/a/sleep/s1/power", DELETE), "cores.a.sleep.s1.power"),
    ("profile", _set("cores/a/peripherals/sai/clock", "1 MHz"), "cores.a.peripherals.sai.clock"),
    ("profile", _set("cores/a/peripherals/sai/base_current", "lots"), "cores.a.peripherals.sai.base_current"),
    ("profile", _set("cores/a/peripherals/sai/runs_in", "s1"), "cores.a.peripherals.sai.runs_in"),
    ("profile", _set("platform/floor/mic/at", "wall"), "platform.floor.mic.at"),
    ("profile", _set("links/0/between", "a"), "links[0].between"),
    ("profile", _set("links/0/bandwidth", DELETE), "links[0].bandwidth"),
    ("profile", _set("default_scenario/placemnt", {}), "default_scenario.placemnt"),
    ("profile", _set("default_scenario/idle/a", "napping"), "default_scenario.idle.a"),
    ("profile", _set("default_scenario/streaming/a", 5), "default_scenario.streaming.a"),
    ("profile", _set("default_scenario/placement", DELETE), "default_scenario.placement"),
    ("profile", _set("default_scenario/when_busy", "panic"), "default_scenario.when_busy"),
    ("profile", _set("default_scenario/sleep/a/s1", "soon"), "default_scenario.sleep.a.s1"),
    ("sweep", _set("axis", {}), "axis"),
    ("sweep", _set("base/trace", DELETE), "base"),        # neither a trace nor a stack
    ("sweep", _set("base/profiel", "watch"), "base.profiel"),
    ("sweep", _set("baseline", "yes"), "baseline"),
    ("sweep", _set("name", "../elsewhere"), "name"),
    ("sweep", _set("sample/mode", "sobol"), "sample.mode"),
    ("sweep", _set("sample/size", 3), "sample.size"),
    ("sweep", _set("axes/scenario.sleep.big.core_off/steps", 0), "axes.'scenario.sleep.big.core_off'.steps"),
    ("sweep", _set("axes/scenario.sleep.big.core_off/step", 3), "axes.'scenario.sleep.big.core_off'.step"),
    ("sweep", _set("axes/scenario.opp.dsp", "low"), "axes.'scenario.opp.dsp'"),
]


def load(kind: str, doc: dict) -> None:
    """Load ``doc`` as dslsim does (a profile with its default scenario, or a sweep spec)."""
    if kind == "profile":
        load_scenario(None, parse_profile(doc, "rich.yaml"))
    else:
        parse_spec(doc, "sweep.yaml")


@pytest.mark.parametrize("kind, mutate, path", BROKEN, ids=[b[2] for b in BROKEN])
def test_a_broken_document_fails_the_schema_and_the_loader_at_the_same_key(kind, mutate, path):
    doc = copy.deepcopy(RICH if kind == "profile" else SWEEP)
    mutate(doc)
    assert schema_path(kind, doc) == path
    assert schema_path(kind, doc, Draft7Validator) == path
    with pytest.raises(InputError) as caught:
        load(kind, doc)
    assert caught.value.key_path == path


def test_quantity_patterns_follow_the_loaders_grammar():
    samples = ["200 MHz", "200MHz", " 1.5e-3 mAh ", "40 uA/MHz", "5 pJ/B", "1 m^2", "2 µA", "50 %", ".5 V", "45",
               "1e3", "-1 W", "fast", "200 MHz!", "1 2 V", "9**9 mAh", "MHz", "", "1.5.2 V", "0x10 Hz"]
    for text in samples:
        match = QUANTITY.match(text)
        assert bool(re.search(WITH_UNIT, text)) == bool(match and match.group("unit")), text
        assert bool(re.search(UNIT_OPTIONAL, text)) == bool(match), text


# The loader's key sets are the declaration's --------------------------------------------------------------------

LOADERS = [ROOT / "dslsim" / "hw" / "load.py", ROOT / "dslsim" / "sim" / "scenario.py",
           ROOT / "dslsim" / "sweep" / "spec.py"]


@pytest.mark.parametrize("path", LOADERS, ids=lambda p: p.name)
def test_loaders_take_every_key_set_from_the_declarations(path):
    """A loader never lists keys itself: it calls a declaration's check (Obj.check), which the schema is made of."""
    calls = [node.lineno for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Attribute) and node.attr == "check_keys"]
    assert not calls, f"{path.name} calls check_keys itself (lines {calls}); declare the keys in its schema module"


@contextmanager
def recorded_key_checks():
    """Every Node.check_keys call made inside: (source, key path, allowed keys, required keys)."""
    calls: list[tuple[str, str, frozenset, tuple]] = []
    original = Node.check_keys

    def spy(self, allowed, required=()):
        calls.append((self.source, self.path, frozenset(allowed) | frozenset(PROVENANCE_KEYS), tuple(required)))
        return original(self, allowed, required)
    Node.check_keys = spy
    try:
        yield calls
    finally:
        Node.check_keys = original


def declared(root: Field, path: str) -> Obj | Quantity:
    """The declaration a loader's key path leads to (through objects, maps, lists, forms and embedded kinds)."""
    spec = root
    for part in re.findall(r"'[^']*'|\[\d+\]|[^.\[]+", path):
        spec = _pick(spec, part)
    spec = _pick(spec, None)
    assert isinstance(spec, (Obj, Quantity)), (path, spec)
    return spec


def _pick(spec: Field, part: str | None) -> Field:
    """One step down ``part`` (None: the mapping form of ``spec`` itself, where the loader checks keys)."""
    if isinstance(spec, Ref):
        spec = {"scenario": SCENARIO}[spec.kind]
    if isinstance(spec, AnyOf):
        forms = [o for o in spec.options if isinstance(o, (List if part and part.startswith("[") else (Obj, Map)))]
        quantities = [o for o in spec.options if isinstance(o, Quantity)]
        spec = (forms or quantities)[0] if part else next(o for o in spec.options if isinstance(o, (Obj, Quantity)))
    if part is None:
        return spec
    if isinstance(spec, Obj):
        return spec.fields[part]
    if isinstance(spec, Map):
        return spec.value
    assert isinstance(spec, List) and part.startswith("["), (spec, part)
    return spec.item


def objects(spec: Field, seen: dict[int, str], at: str = "") -> dict[int, str]:
    """Every Obj declared under ``spec`` (by id), with a key path to it."""
    if isinstance(spec, Obj):
        seen.setdefault(id(spec), at)
        for key, child in spec.fields.items():
            objects(child, seen, f"{at}.{key}")
    elif isinstance(spec, (Map, List)):
        objects(spec.value if isinstance(spec, Map) else spec.item, seen, f"{at}.*")
    elif isinstance(spec, AnyOf):
        for option in spec.options:
            objects(option, seen, at)
    elif isinstance(spec, Ref):
        objects({"scenario": SCENARIO}[spec.kind], seen, at)
    return seen


#: The keys of a quantity's mapping form, as the schema has them.
VALUE_FORM = frozenset(document_schema("profile")["$defs"]["sourced_quantity"]["properties"])


def test_every_key_set_the_loaders_check_is_the_declarations():
    """Loading shipped and every-key documents, each key check the loader makes is an Obj's of the declaration
    (or the {value: ...} form of a Quantity) found at the same key path; and every Obj is checked at least once.
    A key added to a loader alone, or a mapping the loader checks but the declaration lacks, fails here."""
    checked: set[int] = set()

    def compare(root: Obj, calls, source: str | None = None) -> None:
        for call_source, path, allowed, required in calls:
            if source is not None and call_source != source:
                continue  # a sweep also loads its profile and scenario: those are compared on their own
            spec = declared(root, path)
            if isinstance(spec, Quantity):
                assert (allowed, required) == (VALUE_FORM, ("value",)), path
                continue
            assert (allowed, required) == (spec.allowed, spec.required_keys), path
            checked.add(id(spec))

    for path in PROFILES + [RICH]:
        doc = load_yaml(path) if isinstance(path, Path) else path
        with recorded_key_checks() as calls:
            load_scenario(None, parse_profile(doc, str(path)))
        compare(PROFILE, calls)
    profile = parse_profile(load_yaml(ROOT / "hw_profiles" / "stm32u575.yaml"))
    for path in [p for p in EXAMPLES if "axes" not in load_yaml(p)]:
        with recorded_key_checks() as calls:
            parse_scenario(load_yaml(path), profile, str(path))
        compare(SCENARIO, calls)
    for doc in [SWEEP] + [load_yaml(p) for p in EXAMPLES if "axes" in load_yaml(p)]:
        with recorded_key_checks() as calls:
            parse_spec(doc, "sweep.yaml", ROOT / "examples")
        compare(SPEC, calls, "sweep.yaml")
    missed = {at for key, at in {**objects(PROFILE, {}), **objects(SPEC, {})}.items() if key not in checked}
    assert not missed, f"declared mappings no test document made the loader check: {sorted(missed)}"


def test_a_key_only_the_loader_knows_is_caught(monkeypatch):
    """The comparison above fails when a loader accepts a key its declaration lacks."""
    import dslsim.hw.load as load_module

    widened = Obj({**load_module.BATTERY.fields, "chemistry": Quantity("")}, doc="the battery")
    monkeypatch.setattr(load_module, "BATTERY", widened)
    with recorded_key_checks() as calls:
        parse_profile(copy.deepcopy(RICH), "rich.yaml")
    battery = [(allowed, required) for _, path, allowed, required in calls if path == "battery"]
    assert battery and battery[0][0] != declared(PROFILE, "battery").allowed


@pytest.mark.parametrize("kind, mutate, path", [
    ("profile", _set("links/0/between", ["a", {"b": 1}]), "links[0].between"),
    ("profile", _set("default_scenario/streaming/a", [["sai"]]), "default_scenario.streaming.a"),
    ("sweep", _set("sample/seed", -1), "sample.seed"),
], ids=["link end", "streamed peripheral", "negative seed"])
def test_malformed_values_are_refused_where_they_crashed(kind, mutate, path):
    # An unhashable name in a list, and a seed numpy refuses, used to end in an internal error.
    doc = copy.deepcopy(RICH if kind == "profile" else SWEEP)
    mutate(doc)
    assert schema_path(kind, doc).startswith(path)
    with pytest.raises(InputError) as caught:
        load(kind, doc)
    assert caught.value.key_path == path


def test_the_command_prints_or_writes_each_schema(tmp_path):
    from click.testing import CliRunner

    from dslsim.cli.main import cli

    printed = CliRunner().invoke(cli, ["profiles", "schema"])
    assert printed.exit_code == 0 and printed.output == schema_text("profile")
    out = tmp_path / "sub" / "sweep.schema.json"
    written = CliRunner().invoke(cli, ["profiles", "schema", "--kind", "sweep", "--out", str(out)])
    assert written.exit_code == 0 and out.read_text(encoding="utf-8") == schema_text("sweep")
    assert [p.name for p in out.parent.iterdir()] == ["sweep.schema.json"]  # no temporary file left
    helped = CliRunner().invoke(cli, ["profiles", "schema", "--help"])
    assert "# yaml-language-server: $schema=" in helped.output and "--kind scenario" in helped.output
