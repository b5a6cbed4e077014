"""Usage schedules composed into one long trace (dslsim trace compose): frame counts and scene shares worked out by
hand from the schedule, determinism, continuity across slots, days and row groups, looped trace scenes, the
synthetic chains against the generators they stream, bad schedules, and bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT
from dslsim.cli.main import cli
from dslsim.errors import DslsimError, InputError
from dslsim.trace.compose import compose, load_schedule, slot_seed, synth_graph
from dslsim.trace.frontend import frontend_stage, with_frontend
from dslsim.trace.io import read_trace, write_trace
from dslsim.trace.kpath import difficulty_levels, early_exit_trace, iterated_block_trace
from dslsim.trace.synth import markov_routing, synth_trace

EXAMPLE = ROOT / "examples" / "usage" / "week-of-a-wearable.yaml"
H = 3600          # frames per hour at 1 Hz: the rate most tests run at, so a day is 86,400 frames


def one_hz_trace(path: Path, seconds: int = 600, seed: int = 5, width: int = 16) -> Path:
    """A trace at 1 Hz with the default synth graph (what 'dslsim trace synth --frame-rate 1' writes)."""
    t = synth_trace(seconds, frame_rate=1.0, light_share=0.7, mean_burst=3.0, seed=seed, width=width,
                    embed_dim=4 * width)
    t = with_frontend(t, frontend_stage(t.meta.sample_rate, t.meta.hop))
    return write_trace(t, path)


def schedule_file(tmp_path: Path, doc: dict, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def week_doc(**changes) -> dict:
    """Two day plans at 1 Hz: a weekday (night 00-07, commute 1 h, meetings 3 h, the recorded scene to 23:00,
    night to 24:00) twice, and a weekend (night to 09:00, the recorded scene 09-21, night) once."""
    doc = {
        "reference": {"synth": {"frame_rate": "1 Hz"}},
        "seed": 7,
        "scenes": {
            "night": {"synth": {"light_share": 0.98, "mean_burst": "2 s"}},
            "commute": {"synth": {"light_share": 0.5, "mean_burst": "5 s"}},
            "meeting": {"synth": {"light_share": 0.4, "mean_burst": "8 s"}},
            "recorded": {"trace": "src.parquet", "offset": "100 s"},
        },
        "days": [
            {"name": "weekday", "repeat": "2 days", "scenes": [
                {"scene": "night", "at": "00:00"},
                {"scene": "commute", "at": "07:00", "duration": "1 h"},
                {"scene": "meeting", "duration": "3 h"},
                {"scene": "recorded"},
                {"scene": "night", "at": "23:00"},
            ]},
            {"name": "weekend", "repeat": 1, "scenes": [
                {"scene": "night", "duration": "9 h"},
                {"scene": "recorded", "at": "09:00"},
                {"scene": "night", "at": "21:00"},
            ]},
        ],
    }
    doc.update(changes)
    return doc


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """The three-day schedule composed once (small row groups, so slots and days cross them)."""
    folder = tmp_path_factory.mktemp("week")
    one_hz_trace(folder / "src.parquet")
    plan = load_schedule(schedule_file(folder, week_doc()))
    result = compose(plan, folder / "week.parquet", row_group_frames=50_000)
    return folder, plan, result, read_trace(folder / "week.parquet")


def test_frame_counts_and_slot_boundaries_by_hand(week):
    _, plan, result, trace = week
    # Three days at 1 Hz: 3 * 86,400 frames; the weekday's slots start at 0, 7 h, 8 h, 11 h and 23 h.
    assert result.frames == len(trace) == 3 * 86_400
    weekday = [(0, 7 * H, "night"), (7 * H, 8 * H, "commute"), (8 * H, 11 * H, "meeting"),
               (11 * H, 23 * H, "recorded"), (23 * H, 24 * H, "night")]
    weekend = [(0, 9 * H, "night"), (9 * H, 21 * H, "recorded"), (21 * H, 24 * H, "night")]
    expected = np.empty(3 * 86_400, dtype=object)
    for day, slots in enumerate([weekday, weekday, weekend]):
        for a, b, scene in slots:
            expected[day * 86_400 + a: day * 86_400 + b] = scene
    assert (trace.frames["scene"].astype(object).to_numpy() == expected).all()
    # Per scene, hours by hand: night 7+1 + 7+1 + 9+3 = 28 h, commute 2 h, meeting 6 h, recorded 12+12+12 = 36 h.
    assert result.scene_frames == {"night": 28 * H, "commute": 2 * H, "meeting": 6 * H, "recorded": 36 * H}
    assert sum(result.path_frames.values()) == 3 * 86_400
    # Row groups of at most 50,000 frames: 259,200 frames make 6, the slots and days crossing them.
    assert plan.span_days == 3 and pq.ParquetFile(result.path).metadata.num_row_groups == 6


def test_scene_column_time_shares_equal_the_schedule(week):
    _, _, _, trace = week
    scene = trace.frames["scene"]
    assert list(scene.cat.categories) == ["night", "commute", "meeting", "recorded"]     # the schedule's order
    shares = scene.value_counts(normalize=True).to_dict()
    hours = {"night": 28, "commute": 2, "meeting": 6, "recorded": 36}                 # of 72 h
    assert shares == {name: h / 72 for name, h in hours.items()}
    # t_arrival is exactly frame / rate: a scene's share of frames is its share of time.
    assert trace.frames.loc[trace.frames["scene"] == "meeting", "t_arrival"].iloc[0] == 8 * H


def test_arrival_times_step_one_frame_everywhere(week):
    _, _, _, trace = week
    frames = trace.frames
    assert (frames["frame"].to_numpy() == np.arange(3 * 86_400)).all()
    step = np.diff(frames["t_arrival"].to_numpy())
    assert np.allclose(step, 1.0, rtol=0, atol=1e-9) and step.min() > 0
    # Across the scene boundaries and the day boundaries in particular.
    for edge in (7 * H, 8 * H, 11 * H, 86_400, 2 * 86_400, 2 * 86_400 + 9 * H):
        assert frames["t_arrival"].iloc[edge] - frames["t_arrival"].iloc[edge - 1] == 1.0


def test_a_looped_trace_scene_replays_its_source_in_order(week):
    folder, _, _, trace = week
    source = read_trace(folder / "src.parquet").frames
    # The weekday's 'recorded' slot: 12 h = 43,200 frames of a 600-frame trace, from its frame 100, looped.
    played = trace.frames.iloc[11 * H: 23 * H]
    looped = np.resize(np.roll(source["path"].astype(str).to_numpy(), -100), 12 * H)
    assert (played["path"].astype(str).to_numpy() == looped).all()
    assert (played["score"].to_numpy() == np.resize(np.roll(source["score"].to_numpy(), -100), 12 * H)).all()
    # Each slot starts at the offset again: the weekend's slot (09:00) too.
    weekend = trace.frames.iloc[2 * 86_400 + 9 * H: 2 * 86_400 + 9 * H + 600]
    assert (weekend["score"].to_numpy() == np.roll(source["score"].to_numpy(), -100)).all()


def test_a_trace_scene_shorter_than_its_source_is_cut(tmp_path):
    one_hz_trace(tmp_path / "long.parquet", seconds=5 * H)            # 5 h of frames, played for 1 h from 1 h in
    doc = week_doc(scenes={"quiet": {"synth": {"light_share": 0.9, "mean_burst": "2 s"}},
                           "rec": {"trace": "long.parquet", "offset": "1 h"}},
                   days=[{"scenes": [{"scene": "quiet", "at": "00:00"}, {"scene": "rec", "at": "12:00"},
                                     {"scene": "quiet", "at": "13:00"}]}])
    result = compose(load_schedule(schedule_file(tmp_path, doc)), tmp_path / "out.parquet")
    source = read_trace(tmp_path / "long.parquet").frames
    out = read_trace(result.path).frames
    assert (out["score"].to_numpy()[12 * H: 13 * H] == source["score"].to_numpy()[H: 2 * H]).all()


def test_synthetic_slots_are_the_generators_chains(week):
    """A light_share scene is synth's two-state chain, a shares scene kpath's redraw chain: same numbers, drawn
    from the seed, the day and the slot (seed 7, day 0, slot 2 for the first weekday's meetings)."""
    _, _, _, trace = week
    meetings = trace.frames["path"].iloc[8 * H: 11 * H].to_numpy() == "full"
    assert (meetings == markov_routing(3 * H, 0.4, 8.0, slot_seed(7, 0, 2))).all()
    second_day = trace.frames["path"].iloc[86_400 + 8 * H: 86_400 + 11 * H].to_numpy() == "full"
    assert (second_day == markov_routing(3 * H, 0.4, 8.0, slot_seed(7, 1, 2))).all()     # a fresh day draws afresh
    assert (trace.frames["label"].to_numpy() == (trace.frames["path"] == "full").to_numpy())[: 11 * H].all()


def test_shares_scene_draws_kpath_levels_and_scores_that_route(tmp_path):
    ee = early_exit_trace(duration=600, frame_rate=1.0, shares=(0.6, 0.3, 0.1), mean_burst=3.0, seed=1)
    write_trace(ee, tmp_path / "ee.parquet")
    doc = {"reference": "ee.parquet", "seed": 3,
           "scenes": {"calm": {"synth": {"shares": [0.8, 0.15, 0.05], "mean_burst": "3 s"}},
                      "busy": {"synth": {"shares": ["20 %", "30 %", "50 %"], "mean_burst": "10 s"}},
                      "recorded": {"trace": "ee.parquet"}},
           "days": [{"scenes": [{"scene": "calm", "at": "00:00"}, {"scene": "busy", "at": "06:00"},
                                {"scene": "recorded", "at": "23:00"}]}]}
    result = compose(load_schedule(schedule_file(tmp_path, doc)), tmp_path / "out.parquet", row_group_frames=7_000)
    out = read_trace(result.path)                 # the reader re-routes every frame from its stored scores
    codes = out.path_codes()
    assert (codes[: 6 * H] == difficulty_levels(6 * H, [0.8, 0.15, 0.05], 3.0, slot_seed(3, 0, 0))).all()
    assert (codes[6 * H: 23 * H] == difficulty_levels(17 * H, [0.2, 0.3, 0.5], 10.0, slot_seed(3, 0, 1))).all()
    assert np.bincount(codes[6 * H: 23 * H], minlength=3) / (17 * H) == pytest.approx([0.2, 0.3, 0.5], abs=0.02)
    assert (codes[23 * H:] == np.resize(ee.path_codes(), H)).all()
    # The recorded trace's error and difficulty columns are not in the synthetic scenes: left out, and said so.
    assert list(out.frames.columns) == ["frame", "t_arrival", "path", "conf_exit1", "conf_exit2", "scene"]
    assert result.dropped == tuple(f"{c} (not in scenes calm, busy)"
                                   for c in ("err_exit1", "err_exit2", "err_exit3", "difficulty"))


def test_halting_decisions_below_their_threshold_route_too(tmp_path):
    it = iterated_block_trace(duration=60, frame_rate=1.0, shares=(0.4, 0.3, 0.2, 0.1), mean_burst=2.0, seed=2)
    write_trace(it, tmp_path / "it.parquet")
    doc = {"reference": "it.parquet",
           "scenes": {"s": {"synth": {"shares": [0.25, 0.25, 0.25, 0.25], "mean_burst": "2 s"}}},
           "days": [{"scenes": [{"scene": "s"}]}]}
    out = read_trace(compose(load_schedule(schedule_file(tmp_path, doc)), tmp_path / "o.parquet").path)
    assert np.bincount(out.path_codes(), minlength=4) / 86_400 == pytest.approx([0.25] * 4, abs=0.02)


def test_same_seed_same_bytes_another_seed_other_synth_routing(tmp_path):
    one_hz_trace(tmp_path / "src.parquet")
    plan = load_schedule(schedule_file(tmp_path, week_doc()))
    a = compose(plan, tmp_path / "a.parquet", days=1).path.read_bytes()
    b = compose(plan, tmp_path / "b.parquet", days=1).path.read_bytes()
    assert a == b
    # The window size is not part of the randomness: other row groups, the same frames.
    first = read_trace(tmp_path / "a.parquet").frames
    small = read_trace(compose(plan, tmp_path / "c.parquet", days=1, row_group_frames=777).path).frames
    assert first.equals(small)
    other = read_trace(compose(plan, tmp_path / "d.parquet", days=1, seed=8).path).frames
    synth = slice(7 * H, 11 * H)                                  # commute and meetings
    assert (other["path"].iloc[synth].to_numpy() != first["path"].iloc[synth].to_numpy()).mean() > 0.2
    recorded = slice(11 * H, 23 * H)                              # a trace scene does not depend on the seed
    assert (other["score"].iloc[recorded].to_numpy() == first["score"].iloc[recorded].to_numpy()).all()
    assert json.loads(pq.read_schema(tmp_path / "d.parquet").metadata[b"dslsim.trace"])["source"]["seed"] == 8


def test_metadata_records_the_schedule(week):
    _, _, _, trace = week
    src = trace.meta.source
    assert src["generator"] == "dslsim trace compose" and src["schedule"] == "plan" and src["days"] == 3
    assert src["seed"] == 7 and len(src["schedule_sha256"]) == 64
    assert src["day_plans"][0]["slots"][1] == ["commute", "07:00", "08:00"]
    assert src["day_plans"][1] == {"name": "weekend", "repeat": 1, "slots": [
        ["night", "00:00", "09:00"], ["recorded", "09:00", "21:00"], ["night", "21:00", "24:00"]]}
    assert src["scenes"]["meeting"] == {"synth": {"light_share": 0.4, "mean_burst_s": 8.0}}
    assert src["scenes"]["recorded"]["offset_s"] == 100.0
    # The graph is the reference's: the default synth graph at 1 Hz.
    assert trace.meta.paths == synth_graph(frame_rate=1.0).paths and trace.meta.frame_rate == 1.0


def test_more_days_than_the_schedule_start_again_from_its_first_plan(tmp_path):
    one_hz_trace(tmp_path / "src.parquet")
    plan = load_schedule(schedule_file(tmp_path, week_doc()))
    assert [plan.plan_of(d).name for d in range(7)] == ["weekday", "weekday", "weekend"] * 2 + ["weekday"]
    assert plan.frames(days=30) == 30 * 86_400 and plan.slot_frames(day=3, slot=2) == (3 * 86_400 + 8 * H,
                                                                                       3 * 86_400 + 11 * H)


def test_cli_writes_the_trace_and_says_what_is_in_it(tmp_path):
    one_hz_trace(tmp_path / "src.parquet")
    path = schedule_file(tmp_path, week_doc())
    r = CliRunner().invoke(cli, ["trace", "compose", str(path), str(tmp_path / "out.parquet"), "--days", "1"])
    assert r.exit_code == 0, r.output
    assert "86,400 frames, 1 day at 1 frames/s (seed 7" in r.output
    # Day 1 is a weekday: night 8 h, commute 1 h, meetings 3 h, the recorded scene 12 h.
    assert "night 33.3 %, commute 4.2 %, meeting 12.5 %, recorded 50.0 %" in r.output
    assert len(read_trace(tmp_path / "out.parquet")) == 86_400


# Bad schedules -------------------------------------------------------------------------------------------------

def _slots(*slots):
    return {"days": [{"scenes": list(slots)}]}


N, C = {"scene": "night", "at": "00:00"}, "commute"

BAD = [
    # (what changes in week_doc, the key path named, words of what was found, words of what was expected)
    (_slots(N, {"scene": C, "at": "06:00", "duration": "1 h"}, {"scene": "night", "at": "06:30"}),
     "days[0].scenes[2].at", "'06:30', inside the slot before it ('commute', 06:00 to 07:00)", "'07:00'"),
    (_slots({"scene": "night", "duration": "7 h"}, {"scene": C, "at": "08:00"}),
     "days[0].scenes[1].at", "leaves 07:00 to 08:00 without a scene", "'07:00'"),
    (_slots({"scene": "night", "at": "01:00"}), "days[0].scenes[0].at", "leaves 00:00 to 01:00", "'00:00'"),
    (_slots(N, {"scene": C, "at": "20:00", "duration": "3 h"}),
     "days[0].scenes[1].duration", "leaves 23:00 to 24:00 without a scene", "slots up to 24:00"),
    (_slots(N, {"scene": C, "at": "22:00", "duration": "3 h"}),
     "days[0].scenes[1].duration", "ends at 25:00, past midnight", "a slot that ends by 24:00"),
    (_slots(N, {"scene": C, "at": "07:00"}, {"scene": "nite", "at": "08:00"}),
     "days[0].scenes[2].scene", "'nite'", "night, commute, meeting, recorded"),
    ({"days": [{"repeat": 0, "scenes": [N]}]}, "days[0].repeat", "0 (int)", "from 1 to 366"),
    ({"days": [{"repeat": -2, "scenes": [N]}]}, "days[0].repeat", "-2 (int)", "from 1 to 366"),
    ({"days": [{"repeat": "1 week", "scenes": [N]}]}, "days[0].repeat", "'1 week'", "repeat: 5 days"),
    (_slots(N, {"scene": C, "at": "07:00", "duration": "0 s"}, {"scene": "night"}),
     "days[0].scenes[1].duration", "'0 s'", "greater than zero"),
    (_slots(N, {"scene": C, "at": "07:00", "duration": "-1 h"}, {"scene": "night"}),
     "days[0].scenes[1].duration", "'-1 h'", "greater than zero"),
    (_slots(N, {"scene": C, "at": "24:00"}), "days[0].scenes[1].at", "'24:00' (out of range)", "'23:59:59'"),
    (_slots(N, {"scene": C, "at": "07:61"}), "days[0].scenes[1].at", "'07:61' (out of range)", "'23:59:59'"),
    (_slots(N, {"scene": C, "at": 420}), "days[0].scenes[1].at", "the number 420 (YAML reads an unquoted",
     "in quotes"),
    (_slots(N, {"scene": C, "at": "07:00", "for": "1 h"}), "days[0].scenes[1].for", "the unknown key 'for'",
     "'at', 'duration', 'scene'"),
    (_slots(N, {"scene": C, "at": "07:00", "duration": "0.5 s"}, {"scene": "night"}),
     "days[0].scenes[1]", "a slot of 0.5 s (07:00 to 07:00:00.500)", "at least one frame (1 s at 1 frames/s)"),
    ({"sceens": {}}, "sceens", "the unknown key 'sceens'", "'days', 'description'"),
    ({"scenes": {"night": {"synth": {"light_share": 0.9, "burst": "2 s"}}}}, "scenes.night.synth.burst",
     "the unknown key 'burst'", "'light_share', 'mean_burst', 'shares'"),
    ({"scenes": {"night": {"synth": {"light_share": 0.9}, "trace": "src.parquet"}}}, "scenes.night",
     "both 'trace' and 'synth'", "one of"),
    ({"scenes": {"night": {"trace": "missing.parquet"}}}, "scenes.night.trace",
     "'missing.parquet' (no file", "or a shipped trace: dsl-50hz-10min"),
    ({"scenes": {"night": {"trace": "src.parquet", "offset": "20 min"}}}, "scenes.night.offset", "'20 min'",
     "shorter than the trace (600 s)"),
    ({"scenes": {"night": {"synth": {"light_share": 0.9, "mean_burst": "0.2 s"}}}}, "scenes.night.synth.mean_burst",
     "'0.2 s'", "at least one frame"),
    ({"scenes": {"night": {"synth": {"shares": [0.5, 0.4], "mean_burst": "2 s"}}}}, "scenes.night.synth.shares",
     "shares summing to 0.9", "summing to 1"),
    ({"scenes": {"night": {"synth": {"light_share": 1.5, "mean_burst": "2 s"}}}}, "scenes.night.synth.light_share", "1.5",
     "from 0 to 1"),
    ({"reference": {"synth": {"frame_rate": "1 Hz", "width": 0}}}, "reference.synth.width", "0 (int)",
     "from 1 to 4096"),
    ({"seed": -1}, "seed", "-1 (int)", "at least 0"),
]


@pytest.mark.parametrize("change, key, found, expected", BAD, ids=[b[1] + ":" + b[2][:18] for b in BAD])
def test_bad_schedules_name_file_key_found_and_expected(tmp_path, change, key, found, expected):
    one_hz_trace(tmp_path / "src.parquet")
    doc = week_doc()
    for k, v in change.items():
        doc[k] = {**doc["scenes"], **v} if k == "scenes" else v
    path = schedule_file(tmp_path, doc)
    with pytest.raises(InputError) as err:
        load_schedule(path)
    message = str(err.value)
    assert err.value.key_path == key, message
    assert message.startswith(f"{path}: {key}: found "), message
    assert found in err.value.found, message
    assert expected in err.value.expected, message


def test_a_scene_on_another_graph_is_refused_naming_both_and_the_first_difference(tmp_path):
    one_hz_trace(tmp_path / "src.parquet")
    one_hz_trace(tmp_path / "wide.parquet", width=32)                   # C=32 instead of the reference's C=16
    doc = week_doc()
    doc["scenes"]["recorded"] = {"trace": "wide.parquet"}
    with pytest.raises(InputError) as err:
        load_schedule(schedule_file(tmp_path, doc))
    assert err.value.key_path == "scenes.recorded.trace"
    assert "'wide.parquet', whose op graph differs from the reference's (default synth graph (frame_rate 1" in \
        err.value.found
    assert "first at stages.encoder.ops[0].macs: " in err.value.found
    assert "scene 'recorded' and the reference must share" in err.value.expected
    # A shipped trace at another frame rate: the first difference is the rate.
    doc["reference"] = "dsl-75hz-10min"
    doc["scenes"] = {"night": {"synth": {"light_share": 0.9}}, "fr": {"trace": "dsl-50hz-10min"}}
    doc["days"] = [{"scenes": [{"scene": "night"}, {"scene": "fr", "at": "12:00"}]}]
    with pytest.raises(InputError, match=r"reference's \(dsl-75hz-10min\) first at frame_rate: 50.0 vs 75.0"):
        load_schedule(schedule_file(tmp_path, doc))


def test_light_share_on_a_three_path_graph_asks_for_shares(tmp_path):
    write_trace(early_exit_trace(duration=60, frame_rate=1.0, mean_burst=2.0, seed=1), tmp_path / "ee.parquet")
    doc = {"reference": "ee.parquet", "scenes": {"s": {"synth": {"light_share": 0.8, "mean_burst": "2 s"}}},
           "days": [{"scenes": [{"scene": "s"}]}]}
    with pytest.raises(InputError, match=r"scenes.s.synth.light_share: found 0.8, expected 'shares', one per path: "
                                         r"the reference has 3 paths \['exit1', 'exit2', 'exit3'\]"):
        load_schedule(schedule_file(tmp_path, doc))


def test_cli_refuses_a_bad_schedule_with_exit_2_and_leaves_nothing(tmp_path):
    one_hz_trace(tmp_path / "src.parquet")
    path = schedule_file(tmp_path, {**week_doc(), **_slots(N, {"scene": C, "at": "06:00"}, {"scene": "x"})})
    before = sorted(p.name for p in tmp_path.iterdir())
    r = CliRunner().invoke(cli, ["trace", "compose", str(path), str(tmp_path / "out.parquet")])
    assert r.exit_code == 2
    assert f"error: {path}: days[0].scenes[2].scene: found 'x' (str), expected one of the scenes" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_interrupted_composition_leaves_nothing_behind(tmp_path):
    one_hz_trace(tmp_path / "src.parquet")
    plan = load_schedule(schedule_file(tmp_path, week_doc()))
    (tmp_path / "out.parquet").write_bytes(b"an earlier file")

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compose(plan, tmp_path / "out.parquet", row_group_frames=10_000, progress=interrupt)
    assert (tmp_path / "out.parquet").read_bytes() == b"an earlier file"           # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet", "plan.yaml", "src.parquet"]
    with pytest.raises(DslsimError, match="days 0: expected a whole number from 1 to 366"):
        compose(plan, tmp_path / "x.parquet", days=0)


# The shipped example and bounded memory --------------------------------------------------------------------------

def test_the_shipped_week_tiles_its_days_as_its_comments_say():
    plan = load_schedule(EXAMPLE)
    assert plan.span_days == 7 and plan.meta.frame_rate == 75.0 and plan.frames(7) == 45_360_000
    hours = {}
    for day in range(7):
        for slot in plan.plan_of(day).slots:
            hours[slot.scene] = hours.get(slot.scene, 0) + (slot.end - slot.start) / 3600
    # Weekday x5: night 8, morning 1, commute 1, desk 5, meetings 3, lunch 1, home 5; weekend x2: night 9.5,
    # morning 1.5, outdoors 3, lunch 1, home 4, social 5.
    assert hours == {"night": 5 * 8 + 2 * 9.5, "morning": 5 + 2 * 1.5, "commute": 5.0, "desk": 25.0,
                     "meeting": 15.0, "lunch": 7.0, "home": 5 * 5 + 2 * 4, "outdoors": 6.0, "social": 10.0}


_CHILD = """
import resource, sys
from dslsim.trace.compose import compose, load_schedule
compose(load_schedule(sys.argv[1]), sys.argv[2], days=int(sys.argv[3]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_peak_memory_does_not_grow_with_days(tmp_path):
    """The example at 75 Hz: one day is 6.48 M frames (about 140 MB as a frame table), two days twice that; the
    composer holds one row group, so its peak is the same for both."""
    peaks = {}
    for days in (1, 2):
        out = subprocess.run([sys.executable, "-c", _CHILD, str(EXAMPLE), str(tmp_path / f"{days}.parquet"),
                              str(days)], capture_output=True, text=True, check=True)
        peaks[days] = int(out.stdout.split()[-1]) / 1024          # MB (ru_maxrss is in kB on Linux)
    assert pq.ParquetFile(tmp_path / "2.parquet").metadata.num_rows == 2 * 6_480_000
    assert peaks[2] - peaks[1] < 40, peaks


def test_the_schedule_declaration_is_a_json_schema_that_agrees_with_the_loader(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from dslsim.trace.compose_schema import SCHEDULE
    from dslsim.yamlschema import json_schema

    schema = json_schema(SCHEDULE, "dslsim usage schedule")
    for draft in (jsonschema.Draft202012Validator, jsonschema.Draft7Validator):
        draft.check_schema(schema)
        assert not list(draft(schema).iter_errors(yaml.safe_load(EXAMPLE.read_text())))
    # A typo the loader refuses at days[0].scenes[1].lenght, the schema refuses at the same place.
    doc = week_doc()
    doc["days"][0]["scenes"][1]["lenght"] = "1 h"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    assert errors and list(jsonschema.exceptions.best_match(errors).path) == ["days", 0, "scenes", 1]
    one_hz_trace(tmp_path / "src.parquet")
    with pytest.raises(InputError, match=r"days\[0\].scenes\[1\].lenght: found the unknown key"):
        load_schedule(schedule_file(tmp_path, doc))


def test_compose_help_gives_an_example():
    r = CliRunner().invoke(cli, ["trace", "compose", "--help"])
    assert r.exit_code == 0 and "Examples:" in r.output
    assert "dslsim trace compose examples/usage/week-of-a-wearable.yaml week.parquet" in r.output
