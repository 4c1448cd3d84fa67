"""Adversarial reproducers (wave 4): VoiceProcessor.claim/release and close racing
apply_config. Each test states what should happen; they fail on main at 524a741."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from callaudio import VoiceProcessor
from callaudio.config import NoiseSuppressorConfig, ProcessingConfig
from callaudio.errors import CallAudioError, InvalidStateError

RATE = 16000
N = RATE // 100


def test_claim_by_none_is_refused_and_leaves_the_processor_usable() -> None:
    """claim(None) used to be accepted: the chains were claimed with no owner, so every
    frame/reset call raised IN USE ("a running stream") and release(None) -- a no-op --
    could never undo it. It should be refused, changing nothing."""
    vp = VoiceProcessor(RATE)
    with pytest.raises(CallAudioError):
        vp.claim(None)
    vp.process_capture(np.zeros(N, np.float32))  # still usable
    vp.reset()


def test_close_racing_apply_config_stays_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """apply_config builds its new chains (milliseconds) outside any lock, then assigns
    them: a close() that returned in between is undone, and the 'closed' processor
    processes frames again. After close() returns, the processor must stay closed."""
    vp = VoiceProcessor(RATE)
    building, closed = threading.Event(), threading.Event()
    build = VoiceProcessor._build_chains

    def slow_build(self, *args):  # type: ignore[no-untyped-def]
        chains = build(self, *args)
        if self is vp and args[1]:  # the rebuild of apply_config (old chains given)
            building.set()
            closed.wait(5.0)
        return chains

    monkeypatch.setattr(VoiceProcessor, "_build_chains", slow_build)
    errors: list[BaseException] = []

    def reconfigure() -> None:
        try:
            # a changed setting (an equal configuration is a no-op that builds nothing)
            vp.apply_config(ProcessingConfig(noise_suppressor=NoiseSuppressorConfig(level_db=18.0)))
        except CallAudioError:
            pass  # refusing (closed) is fine
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    t = threading.Thread(target=reconfigure)
    t.start()
    assert building.wait(5.0)
    vp.close()
    closed.set()
    t.join(5.0)
    assert not errors
    with pytest.raises(InvalidStateError):
        vp.process_capture(np.zeros(N, np.float32))
