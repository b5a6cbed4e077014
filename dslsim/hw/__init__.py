"""Hardware profiles, a pure device description: cores, operating points (or voltage ranges), per-op costs, power
states, links, battery. The cost model that multiplies a trace's op counts by them is :mod:`dslsim.cost`.

>>> from dslsim.hw import load_profile
>>> profile = load_profile("watch")          # a shipped profile by name, or a path
>>> sorted(profile.cores)
['big', 'dsp', 'mcu']
"""

from dslsim.hw.profile import Battery, Clock, Core, Link, OpCost, OperatingPoint, Profile, SleepState, Supply
from dslsim.hw.load import load_profile, profile_path, shipped_profiles

__all__ = ["Battery", "Clock", "Core", "Link", "OpCost", "OperatingPoint", "Profile", "SleepState", "Supply",
           "load_profile", "profile_path", "shipped_profiles"]
