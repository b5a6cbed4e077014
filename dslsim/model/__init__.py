"""The model side (PyTorch): a small causal SoundStream-style codec with a Dynamic Switch Layer.

Only this package and the commands that need it import torch; the simulator never does.
"""
