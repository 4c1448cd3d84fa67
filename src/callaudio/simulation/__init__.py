"""Reproducible test signals and echo/noise scenarios for callaudio (pure NumPy).

- :mod:`.speech`: ``speech_like`` (seeded synthetic talker) and ``load_talker`` (espeak-ng
  clips in ``data/``);
- :mod:`.noise`: stationary and non-stationary noises, ``mix_at_snr``;
- :mod:`.rir`: image-method room impulse responses, RT60 measurement;
- :mod:`.resample`: band-limited rational and arbitrary-ratio resampling;
- :mod:`.scenario`: ``EchoScenario`` and presets for the echo canceller; ``noisy_speech``
  for the noise suppressor;
- :mod:`.metrics`: levels, ERLE, segmental SNR, near-end loss, musical-noise measures;
- :mod:`.room`: the acoustic room the simulated device plays through.

May import: NumPy, ``config`` and ``errors``. Never the session layer, the engine, the audio
service or a device: the simulated device imports this package, not the other way round.
"""

from __future__ import annotations

from . import metrics, noise, resample, rir, scenario, speech
from .metrics import active_level_dbfs, level_dbfs
from .noise import NOISE_KINDS, make_noise, mix_at_snr
from .resample import resample_ratio
from .rir import image_source_rir, room_rir, rt60_schroeder
from .scenario import EchoResult, EchoScenario, NoisyResult, noisy_speech
from .speech import load_talker, speech_like

__all__ = [
    "NOISE_KINDS",
    "EchoResult",
    "EchoScenario",
    "NoisyResult",
    "active_level_dbfs",
    "image_source_rir",
    "level_dbfs",
    "load_talker",
    "make_noise",
    "metrics",
    "mix_at_snr",
    "noise",
    "noisy_speech",
    "resample",
    "resample_ratio",
    "rir",
    "room_rir",
    "rt60_schroeder",
    "scenario",
    "speech",
    "speech_like",
]
