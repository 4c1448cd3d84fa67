"""The acoustic room on its own (no stream): a frame heard, a frame played, time advances."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio.errors import ConfigError
from callaudio.simulation.room import Room


def test_a_pure_delay_room_returns_what_was_played_delay_samples_later():
    room = Room(16000, delay_ms=20.0, impulse_response=[0.5], record=True)
    n, d = room.frame_size, room.delay_samples
    assert (n, d) == (160, 320)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 6 * n).astype(np.float32)
    mic = np.zeros((n, 1), np.float32)
    heard = []
    for k in range(8):
        room.hear(mic)
        heard.append(mic[:, 0].copy())
        room.play(x[k * n : (k + 1) * n, None] if k < 6 else None)
    y = np.concatenate(heard)
    np.testing.assert_array_equal(y[:d], 0.0)
    np.testing.assert_allclose(y[d : d + x.size], 0.5 * x[: y.size - d], rtol=1e-6)
    assert room.time_samples == 8 * n and room.time_s == 8 * n / 16000
    rec = room.recording()
    assert rec["played"].size == rec["mic"].size == 8 * n


def test_the_earpiece_route_attenuates_the_echo_and_silence_drops_it():
    room = Room(16000, delay_ms=10.0, impulse_response=[1.0], earpiece_loss_db=20.0)
    n = room.frame_size
    mic = np.zeros((n, 1), np.float32)
    room.speaker = False
    room.hear(mic)
    room.play(np.full((n, 1), 0.5, np.float32))
    room.hear(mic)
    np.testing.assert_allclose(mic, 0.05, rtol=1e-6)
    room.play(np.full((n, 1), 0.5, np.float32))
    room.silence()
    room.hear(mic)
    assert np.all(mic == 0.0)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("delay_ms", {"delay_ms": 5.0}),
        ("delay_ms", {"delay_ms": True}),
        ("echo_gain_db", {"echo_gain_db": 30.0}),
        ("impulse_response", {"impulse_response": [np.nan]}),
        ("near", {"near": [np.inf]}),
    ],
)
def test_bad_rooms_are_refused(field, kwargs):
    with pytest.raises(ConfigError, match=field):
        Room(16000, **kwargs)


class _RaisingFloat(float):
    def __float__(self) -> float:
        raise RuntimeError("no float")


class _LyingInt(int):
    def __ge__(self, other: object) -> bool:
        return True

    def __le__(self, other: object) -> bool:
        return True


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("delay_ms", {"delay_ms": 10**400}),  # OverflowError from float()
        ("rt60_s", {"rt60_s": _RaisingFloat(0.3)}),  # RuntimeError
        ("distance_m", {"distance_m": _LyingInt(500)}),  # its own comparisons let it in
        ("impulse_response", {"impulse_response": [1j, 0.5]}),  # TypeError
        ("impulse_response", {"impulse_response": ["a"]}),  # ValueError
        ("impulse_response", {"impulse_response": [10**400]}),  # OverflowError
        ("near", {"near": [_RaisingFloat(0.1)]}),  # RuntimeError
        ("noise", {"noise": _RaisingFloat(0.1)}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_odd_numbers_for_a_room_are_config_errors(field: str, kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=field):
        Room(16000, **kwargs)


def test_the_simulated_backend_takes_odd_arguments_as_config_errors() -> None:
    from callaudio.devices.simulated import SimulatedBackend

    backend = SimulatedBackend(16000)
    for seconds in (10**400, 1e308):  # OverflowError from round()
        with pytest.raises(ConfigError, match="seconds"):
            backend.run_seconds(seconds)
    with pytest.raises(ConfigError, match="near"):
        backend.set_near([_RaisingFloat(0.1)])  # RuntimeError
    with pytest.raises(ConfigError, match="on"):
        backend.set_speaker(np.ones(2))  # ValueError: no truth value
    with pytest.raises(ConfigError, match="kind"):
        backend.inject_fault(np.array(["stall", "stall"]))  # type: ignore[arg-type]
    assert backend.room.speaker
