"""Android power_profile.xml import: an AOSP-format profile mapped by hand, the Pixel 6's GS101 figures
(hardware-figures.md §4a, GrapheneOS device_google_raviole), refusal of XML with entities, and the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dslsim.cli.main import cli
from dslsim.errors import DslsimError
from dslsim.hw.android import android_profile, parse_power_profile
from dslsim.hw.load import load_profile, parse_profile
from dslsim.sim.run import simulate

# The Pixel 6 CPU block (MHz: mA) and scalar items, from the reference notes.
A55 = {300: 13.58, 574: 38.22, 738: 48.59, 930: 64.02, 1098: 79.69, 1197: 89.66, 1328: 105.64, 1401: 113.30,
       1598: 142.24, 1704: 158.91, 1803: 180.73, 1950: 229.19, 2024: 266.66}
A76 = {400: 59.00, 553: 87.69, 696: 114.54, 799: 134.19, 910: 157.72, 1024: 184.69, 1197: 229.99, 1328: 264.08,
       1491: 316.56, 1663: 375.74, 1836: 450.94, 1999: 529.79, 2130: 603.34, 2253: 684.48}
X1 = {500: 199.11, 851: 332.32, 984: 389.40, 1106: 452.85, 1277: 547.22, 1426: 629.93, 1582: 735.84, 1745: 861.23,
      1826: 946.15, 2048: 1137.98, 2188: 1318.48, 2252: 1396.56, 2401: 1583.05, 2507: 1811.61, 2630: 2050.00}
CLUSTER = [32.58, 6.44, 0.0]


def pixel6_xml() -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<device name="Android">',
             '<item name="battery.capacity">4614</item>', '<item name="cpu.suspend">4.35</item>',
             '<item name="cpu.idle">5.78</item>', '<item name="cpu.active">2.35</item>',
             '<array name="cpu.clusters.cores"><value>4</value><value>2</value><value>2</value></array>',
             '<item name="screen.on">98</item>', '<item name="wifi.active">31</item>']
    for i, table in enumerate((A55, A76, X1)):
        parts.append(f'<array name="cpu.core_speeds.cluster{i}">'
                     + "".join(f"<value>{mhz * 1000}</value>" for mhz in table) + "</array>")
        parts.append(f'<array name="cpu.core_power.cluster{i}">'
                     + "".join(f"<value>{ma}</value>" for ma in table.values()) + "</array>")
        parts.append(f'<item name="cpu.cluster_power.cluster{i}">{CLUSTER[i]}</item>')
    return "\n".join(parts + ["</device>"])


def test_pixel6_maps_to_three_clusters_with_every_speed():
    doc, unmapped = android_profile(parse_power_profile(pixel6_xml(), "p6.xml"), "p6.xml", name="pixel6")
    profile = parse_profile(doc, "pixel6.yaml")
    cores = profile.cores
    assert [len(cores[c].opps) for c in ("cluster0", "cluster1", "cluster2")] == [13, 14, 15]
    assert profile.battery.capacity_ah == pytest.approx(4.614)
    # Run power of one X1 core at 2630 MHz, by hand: (2050 + 0 + 2.35) mA x 3.85 V = 7.9015 W.
    top = cores["cluster2"].opps[-1]
    assert top.run_current * top.freq * 3.85 == pytest.approx(2.05235 * 3.85, rel=1e-3)
    # One A55 core at 300 MHz: (13.58 + 32.58 + 2.35) mA.
    low = cores["cluster0"].opps[0]
    assert low.freq == 300e6 and low.run_current * low.freq == pytest.approx(48.51e-3, rel=1e-3)
    assert profile.battery_floor_power == pytest.approx(4.35e-3 * 3.85)     # the suspend floor, at the battery
    assert unmapped == ["screen.on", "wifi.active"]
    r = simulate(profile, "dsl-50hz-10min", baseline=False)
    assert r.summary.keeps_up and r.summary.battery_life_h > 0


def test_xml_with_entities_or_missing_keys_is_refused():
    bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><device><item name="x">&a;</item></device>'
    with pytest.raises(DslsimError, match="DOCTYPE or entities"):
        parse_power_profile(bomb, "bomb.xml")
    with pytest.raises(DslsimError, match="not well-formed"):
        parse_power_profile("<device><item>", "cut.xml")
    values = parse_power_profile('<device><item name="battery.capacity">100</item></device>', "x.xml")
    with pytest.raises(DslsimError, match="cpu.clusters.cores"):
        android_profile(values, "x.xml")
    with pytest.raises(DslsimError, match=r"y\.xml: cpu\.idle: found .lots. \(str\), expected a finite number"):
        parse_power_profile('<device><item name="cpu.idle">lots</item></device>', "y.xml")


def test_cli_writes_a_profile_that_loads(tmp_path):
    xml = tmp_path / "power_profile.xml"
    xml.write_text(pixel6_xml())
    out = tmp_path / "pixel6.yaml"
    r = CliRunner().invoke(cli, ["profiles", "import-android", str(xml), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "3 cores, 42 operating points" in r.output and "screen.on" in r.output
    profile = load_profile(out)
    assert profile.name == "pixel6" and not profile.unsourced


def test_cpu_active_given_per_cluster_as_an_array():
    """The framework's default power profile gives cpu.active as an array (one value per cluster)."""
    xml = ('<device><item name="battery.capacity">3000</item><item name="cpu.suspend">1</item>'
           '<item name="cpu.idle">2</item><array name="cpu.active"><value>10</value><value>20</value></array>'
           '<array name="cpu.clusters.cores"><value>4</value><value>4</value></array>'
           '<array name="cpu.core_speeds.cluster0"><value>1000000</value></array>'
           '<array name="cpu.core_power.cluster0"><value>5</value></array>'
           '<array name="cpu.core_speeds.cluster1"><value>1000000</value></array>'
           '<array name="cpu.core_power.cluster1"><value>5</value></array></device>')
    profile = parse_profile(android_profile(parse_power_profile(xml, "a.xml"), "a.xml")[0], "a.yaml")
    run = [profile.cores[c].opps[0].run_current * 1e9 for c in ("cluster0", "cluster1")]
    assert run == pytest.approx([15e-3, 25e-3])        # (5 + 0 + 10) mA and (5 + 0 + 20) mA at 1 GHz


def test_pre_2017_names_are_read_as_the_newer_ones():
    """Android 7's layout: cpu.speeds / cpu.active per cluster, cpu.idle = suspended, cpu.awake = idle (the
    renaming in AOSP's muskie change 5ba00f6)."""
    xml = ('<device><item name="battery.capacity">2700</item><item name="cpu.idle">6.8</item>'
           '<item name="cpu.awake">0.4</item><array name="cpu.clusters.cores"><value>4</value></array>'
           '<array name="cpu.speeds.cluster0"><value>500000</value><value>1000000</value></array>'
           '<array name="cpu.active.cluster0"><value>20</value><value>50</value></array></device>')
    doc, unmapped = android_profile(parse_power_profile(xml, "old.xml"), "old.xml")
    profile = parse_profile(doc, "old.yaml")
    assert profile.battery_floor_power == pytest.approx(6.8e-3 * 3.85)              # cpu.idle was suspend
    assert profile.cores["cluster0"].opps[1].run_current * 1e9 == pytest.approx(50e-3)
    assert profile.cores["cluster0"].opps[1].idle_current * 1e9 == pytest.approx(0.4e-3)
    assert unmapped == []


POLICY_XML = ('<device><item name="battery.capacity">4000</item><item name="cpu.suspend">2</item>'
              '<item name="cpu.idle">4</item><item name="cpu.active">3</item>'
              '<item name="cpu.scaling_policy_power.policy0">7</item>'
              '<array name="cpu.scaling_step_power.policy0"><value>10</value><value>30</value></array>'
              '<item name="cpu.scaling_policy_power.policy4">11</item>'
              '<array name="cpu.scaling_step_power.policy4"><value>100</value><value>250</value><value>600</value>'
              '</array><array name="cpu.power_brackets.policy4"><value>0</value><value>1</value><value>2</value>'
              '</array></device>')


def test_per_policy_layout_with_frequencies_given():
    """Android 14's layout: a policy's power like a cluster's, its step powers like a core's; frequencies come
    from the caller (the kernel's scaling_available_frequencies). Run current = step + policy + active."""
    values = parse_power_profile(POLICY_XML, "p.xml")
    doc, unmapped = android_profile(values, "p.xml", speeds={0: [500_000, 1_500_000],
                                                              4: [400_000, 1_200_000, 2_400_000]})
    profile = parse_profile(doc, "p.yaml")
    assert list(profile.cores) == ["policy0", "policy4"]
    top = profile.cores["policy4"].opps[-1]
    assert top.freq == pytest.approx(2.4e9)
    assert top.run_current * top.freq == pytest.approx((600 + 11 + 3) * 1e-3)   # A at 2.4 GHz
    low = profile.cores["policy0"].opps[0]
    assert low.run_current * low.freq == pytest.approx((10 + 7 + 3) * 1e-3)
    assert unmapped == ["cpu.power_brackets.policy4"]


@pytest.mark.parametrize("speeds, message", [
    (None, "--speeds 0=KHZ"),
    ({0: [500_000], 4: [1, 2, 3]}, "lists 2 step currents but --speeds gives 1"),
    ({0: [1_500_000, 500_000], 4: [1, 2, 3]}, "lowest first"),
    ({0: [1, 2], 4: [1, 2, 3], 8: [1]}, "names policy 8"),
])
def test_per_policy_layout_refuses_missing_or_mismatched_frequencies(speeds, message):
    with pytest.raises(DslsimError, match=message.replace("-", r"\-")):
        android_profile(parse_power_profile(POLICY_XML, "p.xml"), "p.xml", speeds=speeds)


def test_cli_per_policy_speeds(tmp_path):
    xml = tmp_path / "p.xml"
    xml.write_text(POLICY_XML)
    out = tmp_path / "p.yaml"
    args = ["profiles", "import-android", str(xml), "--out", str(out)]
    r = CliRunner().invoke(cli, args + ["--speeds", "0=500000,1500000", "--speeds", "4=400000,1200000,2400000"])
    assert r.exit_code == 0, r.output
    assert "2 cores, 5 operating points" in r.output
    r = CliRunner().invoke(cli, args + ["--speeds", "0=fast"])
    assert r.exit_code == 2 and "'--speeds': found '0=fast', expected a policy number" in r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0 and "scaling_available_frequencies" in r.output


CLASSIC = ('<device name="Android"><item name="battery.capacity">2915</item><item name="cpu.suspend">1.3</item>'
           '<item name="cpu.idle">3.9</item><item name="cpu.active">18.33</item>'
           '<array name="cpu.clusters.cores"><value>4</value></array>'
           '<array name="cpu.core_speeds.cluster0"><value>{s0}</value><value>{s1}</value></array>'
           '<array name="cpu.core_power.cluster0"><value>{c0}</value><value>40</value></array>'
           '<item name="cpu.cluster_power.cluster0">2.41</item></device>')


@pytest.mark.parametrize("values, where, expected", [
    ({"s0": 0}, "cpu.core_speeds.cluster0[0]", "above 0 kHz"),                        # was a ZeroDivisionError
    ({"s1": 1_000_000_000}, "cpu.core_speeds.cluster0[1]", "at most 1e+07 kHz"),      # Hz where kHz is meant
    ({"s1": 300_000}, "cpu.core_speeds.cluster0[1]", "lowest first"),                 # one speed twice
    # -10 mA + 2.41 + 18.33 = +10.7 mA: a positive sum the loader would have taken without a word.
    ({"c0": -10}, "cpu.core_power.cluster0[0]", "at least 0 mA"),
    ({"c0": "nan"}, "cpu.core_power.cluster0[0]", "a finite number"),
])
def test_impossible_numbers_in_the_xml_are_refused_naming_the_xml(tmp_path, values, where, expected):
    xml = tmp_path / "power_profile.xml"
    xml.write_text(CLASSIC.format(**{"s0": 300_000, "s1": 1_000_000, "c0": 10, **values}))
    out = tmp_path / "out" / "phone.yaml"
    r = CliRunner().invoke(cli, ["profiles", "import-android", str(xml), "--out", str(out)])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert f"{xml}: {where}" in r.output and expected in r.output
    assert str(out) not in r.output and not out.exists()          # the output is neither blamed nor written


def test_speeds_for_a_classic_layout_file_are_refused_not_ignored(tmp_path):
    xml = tmp_path / "power_profile.xml"
    xml.write_text(CLASSIC.format(s0=300_000, s1=1_000_000, c0=10))
    r = CliRunner().invoke(cli, ["profiles", "import-android", str(xml), "--out", str(tmp_path / "p.yaml"),
                                 "--speeds", "0=500000,1500000"])
    assert r.exit_code == 2 and "classic layout" in r.output and "--speeds" in r.output
    assert not (tmp_path / "p.yaml").exists()


def test_an_implausible_current_is_imported_with_a_warning(tmp_path):
    """8 A for one core: possible on paper, beyond any phone (the Pixel 6's X1 draws 2 A at its top speed)."""
    xml = tmp_path / "power_profile.xml"
    xml.write_text(CLASSIC.format(s0=300_000, s1=1_000_000, c0=8000))
    out = tmp_path / "p.yaml"
    r = CliRunner().invoke(cli, ["profiles", "import-android", str(xml), "--out", str(out)])
    assert r.exit_code == 0 and out.exists(), r.output
    assert "warning:" in r.output and "cpu.core_power.cluster0[0]: 8000 mA" in r.output and "Pixel 6" in r.output
