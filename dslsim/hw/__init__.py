"""Hardware profiles: cores, operating points, per-op energy, power states, links, battery.

>>> from dslsim.hw import load_profile
>>> profile = load_profile("watch")          # a shipped profile by name, or a path
>>> sorted(profile.cores)
['big', 'dsp', 'mcu']
"""

from dslsim.hw.profile import Battery, Core, Link, OpCost, OperatingPoint, Profile, SleepState
from dslsim.hw.load import load_profile, profile_path, shipped_profiles

__all__ = ["Battery", "Core", "Link", "OpCost", "OperatingPoint", "Profile", "SleepState", "load_profile",
           "profile_path", "shipped_profiles"]
