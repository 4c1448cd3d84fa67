"""Arguments the engine and its sounds refuse or scale: int16 sounds, a negative start, a
frame index that is no int, a mute that is no bool."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio.devices.simulated import SimulatedBackend
from callaudio.engine import AudioEngine, PreparedSound
from callaudio.errors import ConfigError

RATE = 16000


def test_an_int16_sound_is_scaled_as_write_far_scales_it() -> None:
    snd = PreparedSound(np.array([16384, -32768, 8192], dtype=np.int16))
    np.testing.assert_allclose(snd.samples[:, 0], [0.5, -1.0, 0.25])


@pytest.mark.parametrize("loop", [False, True])
def test_a_negative_start_is_refused(loop: bool) -> None:
    with pytest.raises(ConfigError, match="start"):
        PreparedSound(np.zeros(10, np.float32), start=-1, loop=loop)


@pytest.mark.parametrize("frame", [-1, 1.0, True, "3", None])
def test_frame_times_refuses_what_is_no_frame_index(frame: object) -> None:
    engine = AudioEngine(SimulatedBackend(RATE), RATE)
    with pytest.raises(ConfigError, match="frame"):
        engine.frame_times(frame)  # type: ignore[arg-type]
    assert engine.frame_times(0) == engine.frame_times(0)


@pytest.mark.parametrize("value", ["yes", 1, None, 0.0])
def test_muted_takes_a_bool_only(value: object) -> None:
    engine = AudioEngine(SimulatedBackend(RATE), RATE)
    with pytest.raises(ConfigError, match="muted"):
        engine.muted = value  # type: ignore[assignment]
    assert engine.muted is False
    engine.muted = True
    assert engine.muted is True


def test_misaligned_device_buffers_are_copied_not_failed() -> None:
    # a device handing the Python callback misaligned float32 buffers (legal numpy views)
    # failed every frame ("need a native, aligned ... array"): they are copied like a
    # strided one, and the output lands in the misaligned buffer
    from callaudio import VoiceProcessor

    def misaligned(fill: float) -> np.ndarray:
        raw = np.zeros(4 * 160 + 1, np.uint8)[1:].view(np.float32).reshape(160, 1)
        raw[:] = fill
        assert not raw.flags.aligned
        return raw

    engine = AudioEngine(
        SimulatedBackend(16000, impulse_response=[1.0]),
        16000,
        VoiceProcessor(16000),
        compiled=False,
    )
    engine.start()
    out = misaligned(0.5)
    for _ in range(3):
        engine.callback(misaligned(0.0), out, 160, None, 0)
    stats = engine.stop()
    assert stats.callback_errors == 0 and stats.frames == 3
    assert np.all(out == 0.0)  # nothing queued to play: silence written into it


@pytest.mark.parametrize("loop", ["no", 1, None, np.array([True, False])])
def test_sources_and_rooms_loop_on_a_bool_only(loop: object) -> None:
    # ArraySource and the room's near/noise tracks took bool(loop): loop="no" looped
    # (PreparedSound and start_playing_sound_file already refused it)
    from callaudio.audio.base import ArraySource

    with pytest.raises(ConfigError, match="loop"):
        ArraySource(np.zeros(10, np.float32), RATE, loop=loop)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="loop"):
        SimulatedBackend(RATE, near=np.zeros(160), loop=loop)  # type: ignore[arg-type]
    flag: bool = np.bool_(True)  # type: ignore[assignment]
    assert ArraySource(np.zeros(10, np.float32), RATE, loop=flag).loop is True


def test_numpy_integer_rates_are_taken_wherever_a_rate_is() -> None:
    # VoiceProcessor, AudioEngine, SimulatedBackend take np.int64(16000); ArraySource and
    # AudioSession.set_preferred_sample_rate refused it
    from callaudio.audio.base import ArraySource
    from callaudio.session import AudioSession

    src = ArraySource(np.zeros(10, np.float32), np.int64(RATE))
    assert src.sample_rate == RATE and type(src.sample_rate) is int
    session = AudioSession()
    session.set_preferred_sample_rate(np.int32(RATE))
    assert session.preferred_sample_rate == RATE and type(session.preferred_sample_rate) is int
    for bad in (np.float64(RATE), np.bool_(True)):
        with pytest.raises(ConfigError, match="preferred_sample_rate"):
            session.set_preferred_sample_rate(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="sample_rate"):
        ArraySource(np.zeros(10, np.float32), np.float64(RATE))


class _RaisingInt(int):
    def __int__(self) -> int:
        raise RuntimeError("no int")

    def __index__(self) -> int:
        raise RuntimeError("no index")


class _RaisingFloat(float):
    def __float__(self) -> float:
        raise RuntimeError("no float")


def test_odd_numbers_to_the_rings_are_library_errors() -> None:
    """A max_frames whose __int__ raises and a sample whose __float__ raises came out as
    that RuntimeError (max_frames is read as its plain int now)."""
    from callaudio.errors import FrameError

    engine = AudioEngine(SimulatedBackend(16000), 16000, monitor=True)
    engine.start()
    try:
        # read as the plain int it is (its own __int__ is never asked)
        assert engine.read_capture(_RaisingInt(160)).shape[0] <= 160
        assert engine.read_monitor(_RaisingInt(160))[0].shape[0] <= 160
        with pytest.raises(FrameError, match="far-end"):
            engine.write_far([_RaisingFloat(0.1)] * 160)
        assert engine.write_far(np.zeros(160, np.float32)) == 160
        assert engine.read_capture(np.int64(0)).shape[0] == 0
    finally:
        engine.stop()


class _Source:
    """A PlaybackSource without samples: read() gives what ``block(frames)`` returns."""

    sample_rate = 8000
    channels = 1
    loop = False
    position = 0

    def __init__(self, block: object) -> None:
        self.block = block
        self.reads = 0

    def read(self, frames: int) -> object:
        self.reads += 1
        if self.reads > 2000:  # far past any limit: fail instead of eating the memory
            raise RuntimeError("read on and on")
        return self.block(frames) if callable(self.block) else self.block

    def rewind(self) -> None:
        pass


def test_a_one_shot_source_that_never_ends_is_refused_not_read_forever() -> None:
    """read() never gave an empty block: from_source read until memory ran out."""
    from callaudio.engine.sound import MAX_SOURCE_SECONDS

    source = _Source(lambda n: np.zeros((n, 1), np.float32))
    with pytest.raises(ConfigError, match="without ending"):
        PreparedSound.from_source(source, 16000)
    assert source.reads == MAX_SOURCE_SECONDS + 1


@pytest.mark.parametrize(
    "block",
    [np.float32(0.0), None, np.array(["a"] * 4), [object()] * 4, np.zeros((4, 1, 1))],
    ids=["scalar", "none", "str", "object", "3-D"],
)
def test_what_a_source_reads_must_be_samples(block: object) -> None:
    """IndexError (a scalar, None) or a read on and on (str, objects) before."""
    from callaudio.errors import FrameError

    with pytest.raises(FrameError, match="read"):
        PreparedSound.from_source(_Source(block), 16000)


def test_a_source_whose_attributes_or_read_raise_is_a_config_error() -> None:
    def boom(frames: int) -> None:
        raise OSError("stream gone")

    with pytest.raises(ConfigError, match="read"):
        PreparedSound.from_source(_Source(boom), 16000)

    class Odd(_Source):
        loop = np.ones(2)  # no truth value

    with pytest.raises(ConfigError, match="unusable"):
        PreparedSound.from_source(Odd(None), 16000)


def test_start_playback_of_a_source_whose_rate_raises_is_a_config_error() -> None:
    from callaudio.audio.service import make_backend

    class NoRate(_Source):
        @property
        def sample_rate(self) -> int:  # type: ignore[override]
            raise RuntimeError("no rate")

    backend = make_backend("simulated", realtime=False, sample_rate=16000)
    with pytest.raises(ConfigError, match="source"):
        backend.start_playback(NoRate(None))  # type: ignore[arg-type]
