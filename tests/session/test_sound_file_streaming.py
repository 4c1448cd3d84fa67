"""Sound files stream: the controller checks the file on the caller's thread and returns;
the backend decodes and resamples it in blocks ahead of the audio thread (issue: a 10-minute
file was read and resampled whole before ``start_playing_sound_file`` returned, 862 MB).

No timed assertions: "returns before decoding" is what was decoded when it returned; waits
for another thread are bounded by timeouts (a hang fails, it does not block the suite).
"""

from __future__ import annotations

import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import callaudio as ca
from callaudio.audio import make_backend
from callaudio.audio.base import ArraySource
from callaudio.engine import PreparedSound
from callaudio.engine.streamed import StreamedSound, prepare_sound
from callaudio.errors import SoundFileError
from callaudio.wavfile import WavFileSource, read_wav

soundfile = pytest.importorskip("soundfile")

WAIT = 30.0  # seconds a wait for another thread may take before the test fails


def _write(path: Path, seconds: float, rate: int, channels: int, seed: int = 0) -> Path:
    """A noise-and-tone WAV written in one-second blocks (never whole in memory)."""
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    with soundfile.SoundFile(str(path), "w", rate, channels, "PCM_16") as f:
        for start in range(0, total, rate):
            n = min(rate, total - start)
            t = (start + np.arange(n)) / rate
            x = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.1 * rng.standard_normal(
                (n, channels)
            )
            f.write(x)
    return path


def _open_handles(path: Path) -> int:
    """This process's open file descriptors on ``path`` (Linux's /proc)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd) == str(path)
        except OSError:
            continue
    return count


def _whole(path: Path, rate_out: int) -> np.ndarray:
    """What the whole-file path played before: the file read whole and prepared whole."""
    audio = read_wav(path)
    return PreparedSound.from_source(
        ArraySource(audio.samples, audio.sample_rate), rate_out
    ).samples[:, 0]


def _drain(sound: StreamedSound, n: int, limit: int) -> np.ndarray:
    """Mix ``sound`` frame by frame as the callback does (``mix_into`` is its Python model),
    pumping after each frame as a caller-driven device's poll does, until it ran out."""
    out = []
    buf = np.zeros((n, 1), dtype=np.float32)
    for _ in range(limit):
        if sound.ran_out:
            break
        buf.fill(0.0)
        sound.mix_into(buf)
        out.append(buf[:, 0].copy())
        sound.pump()
    assert sound.ran_out, "the sound did not end"
    return np.concatenate(out)


@pytest.mark.parametrize(
    ("rate_in", "rate_out", "channels"),
    [(44100, 48000, 2), (44100, 16000, 2), (8000, 48000, 1), (22050, 16000, 1), (16000, 16000, 2)],
)
def test_streamed_output_equals_the_whole_file_conversion(
    tmp_path: Path, rate_in: int, rate_out: int, channels: int
) -> None:
    path = _write(tmp_path / "f.wav", 2.3, rate_in, channels)
    # a ring of 0.25 s: the 2.3 s file wraps it nine times, across every block boundary
    sound = StreamedSound(
        WavFileSource(path).open_reader(),
        rate_in,
        rate_out,
        ring_seconds=0.25,
        block_seconds=0.013,
        prefill_seconds=0.1,
        lap_clock=False,
    )
    whole = _whole(path, rate_out)
    played = _drain(sound, rate_out // 100, 1000)
    # the callback mixes whole frames: the last one ends in silence after the file
    assert played.size >= whole.size and not played[whole.size :].any()
    # the streaming resampler equals the whole-signal one to ~1e-9 before the float32
    # rounding both end with: at most one float32 step apart
    np.testing.assert_allclose(played[: whole.size], whole, rtol=0, atol=2e-7)
    assert sound.underruns == 0 and sound.error is None
    assert sound.frames_decoded == read_wav(path).samples.shape[0]


def test_the_compiled_callback_plays_the_streamed_file_as_the_whole_file(tmp_path: Path) -> None:
    # end to end: the engine's compiled callback mixes the ring, the backend's poll pumps it
    path = _write(tmp_path / "f.wav", 6.0, 44100, 2)  # longer than the 4 s ring
    backend = make_backend("simulated", sample_rate=48000, realtime=False, monitor=True)
    client = ca.VoiceClient(backend, session=ca.AudioSession())
    client.audio_controller.start_playing_sound_file(path)
    assert backend.engine is not None and backend.engine.callback_kind == "compiled"
    played = []
    for _ in range(800):
        if client.audio_controller.sound is None:
            break
        backend.device.run_frames(1)
        played.append(backend.read_monitor()[0])
    assert client.audio_controller.sound is None, "the sound did not end"
    out = np.concatenate(played)
    whole = _whole(path, 48000)
    # the frame after which the sound ran out stops the stream before it can be read
    assert whole.size - 480 <= out.size <= whole.size + 480
    n = min(out.size, whole.size)
    np.testing.assert_allclose(out[:n], whole[:n], rtol=0, atol=2e-7)
    client.close()


def test_a_looping_file_runs_on_across_its_seam(tmp_path: Path) -> None:
    path = _write(tmp_path / "loop.wav", 0.5, 44100, 1)
    sound = StreamedSound(
        WavFileSource(path).open_reader(), 44100, 48000, loop=True, ring_seconds=0.3,
        lap_clock=False,
    )  # fmt: skip
    whole = _whole(path, 48000)
    buf = np.zeros((480, 1), dtype=np.float32)
    out = []
    for _ in range(250):  # 2.5 s: five passes
        buf.fill(0.0)
        sound.mix_into(buf)
        out.append(buf[:, 0].copy())
        sound.pump()
    played = np.concatenate(out)
    assert not sound.done and sound.underruns == 0
    assert sound.frames_decoded > 4 * 22050
    # the first pass equals the whole file's but for the kernel's reach (32 zero crossings)
    # before the seam: there the streamed one already hears the file's start again
    # (band-limited across the seam) where the whole-file one heard silence
    np.testing.assert_allclose(played[: whole.size - 64], whole[:-64], rtol=0, atol=2e-7)
    assert np.abs(played[2 * whole.size : 3 * whole.size]).max() > 0.2  # still playing


def test_a_reader_that_falls_behind_gives_counted_silence_not_a_wait(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.wav", 2.0, 16000, 1)
    rate, n = 16000, 160
    sound = StreamedSound(
        WavFileSource(path).open_reader(), rate, rate, ring_seconds=1.0, prefill_seconds=0.1,
        lap_clock=False,
    )  # fmt: skip
    whole = _whole(path, rate)
    buf = np.zeros((n, 1), dtype=np.float32)
    out = []
    for _ in range(30):  # 0.3 s mixed, nothing pumped: 0.1 s of audio, then silence
        buf.fill(0.0)
        sound.mix_into(buf)
        out.append(buf[:, 0].copy())
    played = np.concatenate(out)
    np.testing.assert_array_equal(played[:1600], whole[:1600])
    assert not played[1600:].any()
    sound.pump()  # it sees the callback ahead of it: counts, and writes ahead of it again
    guard = rate // 50
    assert sound.underruns == 4800 - 1600 + guard
    rest = _drain(sound, n, 1000)
    # after the guard's silence the file goes on from where it was (nothing skipped)
    assert not rest[:guard].any()
    np.testing.assert_array_equal(rest[guard : guard + 8000], whole[1600:9600])


@pytest.fixture
def threads_before() -> Iterator[set[threading.Thread]]:
    before = set(threading.enumerate())
    yield before


def _threads_back(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since ``before`` still alive after each got up to WAIT to end."""
    extra = [
        t
        for t in threading.enumerate()
        if t not in before and (not t.daemon or t.name.startswith("callaudio-engine"))
    ]
    for t in extra:
        t.join(WAIT)
    return [t for t in extra if t.is_alive()]


def _play_and_measure(path: Path, frames: int) -> tuple[int, int, StreamedSound]:
    """(peak traced bytes, frames decoded when the call returned, the sound) for playing
    ``path`` on a fresh caller-driven backend for ``frames`` frames."""
    backend = make_backend("simulated", sample_rate=48000, realtime=False)
    client = ca.VoiceClient(backend, session=ca.AudioSession())
    tracemalloc.start()
    try:
        client.audio_controller.start_playing_sound_file(path)
        sound = backend.engine.source if backend.engine is not None else None
        assert isinstance(sound, StreamedSound)
        decoded_at_return = sound.frames_decoded
        backend.device.run_frames(frames)  # pumped after each frame
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    client.close()
    assert sound.stopped and client.audio_controller.sound is None
    return peak, decoded_at_return, sound


def test_the_call_returns_before_the_file_is_decoded_and_memory_stays_bounded(
    tmp_path: Path,
) -> None:
    # 3 minutes of 44.1 kHz stereo: 63 MB as float32 whole (the old path held that, and
    # its float64 copies while resampling: it peaked near 200 MB here)
    long = _write(tmp_path / "hold.wav", 180.0, 44100, 2)
    short = _write(tmp_path / "short.wav", 25.0, 44100, 2)
    peak_short, _, _ = _play_and_measure(short, 2000)
    peak, decoded_at_return, sound = _play_and_measure(long, 2000)
    assert 0 < decoded_at_return <= 44100  # at most a second of the three minutes
    assert 20 * 44100 < sound.frames_decoded < 30 * 44100  # then decoded as it played
    assert sound.underruns == 0
    # the engine, its rings, the sound's 4 s ring and a block: a few MB, the same for a
    # file seven times as long
    assert peak < 8 << 20, f"peak {peak / 1e6:.1f} MB"
    assert peak - peak_short < 1 << 20, f"{peak_short / 1e6:.1f} -> {peak / 1e6:.1f} MB"


def test_stop_and_close_from_another_thread_mid_play_join_everything(
    tmp_path: Path, threads_before: set[threading.Thread]
) -> None:
    path = _write(tmp_path / "long.wav", 60.0, 22050, 1)
    for how in ("stop", "close"):
        backend = make_backend("simulated", sample_rate=16000, realtime=True)
        client = ca.VoiceClient(backend, session=ca.AudioSession())
        client.audio_controller.start_playing_sound_file(path)
        sound = backend.engine.source if backend.engine is not None else None
        assert isinstance(sound, StreamedSound)
        prefilled = sound.frames_decoded
        played = threading.Event()

        def watch(
            s: StreamedSound = sound, first: int = prefilled, done: threading.Event = played
        ) -> None:
            while not s.stopped and not (s.frames_decoded > first and s.position > 3200):
                threading.Event().wait(0.01)
            done.set()

        threading.Thread(target=watch, daemon=True).start()
        assert played.wait(WAIT), "the helper thread never decoded more"
        stopper = threading.Thread(
            target=(
                client.audio_controller.stop_playing_sound_file if how == "stop" else client.close
            )
        )
        stopper.start()
        stopper.join(WAIT)
        assert not stopper.is_alive(), f"{how} hung"
        assert sound.stopped and client.audio_controller.sound is None
        assert _open_handles(path) == 0
        client.close()
        backend.close()
        assert backend.stream is None
    assert _threads_back(threads_before) == []


def test_should_resume_false_drops_the_streamed_sound_and_closes_its_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.wav", 30.0, 16000, 1)
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    session = ca.AudioSession()
    client = ca.VoiceClient(backend, session=session)
    client.audio_controller.start_playing_sound_file(path)
    sound = backend.engine.source if backend.engine is not None else None
    assert isinstance(sound, StreamedSound)
    backend.device.run_frames(10)
    assert _open_handles(path) == 1
    session.begin_interruption("pstn")
    assert sound.stopped and backend.engine is None and _open_handles(path) == 0
    decoded = sound.frames_decoded
    session.end_interruption("pstn", should_resume=False)
    assert client.audio_controller.sound is None and backend.engine is None
    sound.pump()  # a stopped sound reads nothing more
    assert sound.frames_decoded == decoded
    client.close()


def test_a_file_removed_during_an_interruption_ends_the_sound_when_it_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import callaudio.audio.service as service

    made: list[PreparedSound] = []

    def prepare(*args: object, **kw: bool) -> PreparedSound:
        made.append(prepare_sound(*args, **kw))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(service, "prepare_sound", prepare)
    path = _write(tmp_path / "f.wav", 5.0, 16000, 1)
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    session = ca.AudioSession()
    client = ca.VoiceClient(backend, session=session)
    client.audio_controller.start_playing_sound_file(path)
    backend.device.run_frames(5)
    session.begin_interruption("pstn")
    os.remove(path)
    session.end_interruption("pstn", should_resume=True)  # (it raised SoundFileError)
    assert len(made) == 2
    sound = made[-1]
    assert isinstance(sound, StreamedSound) and sound.ran_out
    assert isinstance(sound.error, SoundFileError) and sound.error.reason == "missing"
    _play_until_over(backend, client, 10)
    assert not session.is_active and backend.engine is None
    client.close()


def test_ending_the_call_stops_the_file_it_played_and_closes_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.wav", 30.0, 22050, 2)
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    session = ca.AudioSession()
    client = ca.VoiceClient(backend, session=session)
    call = client.start_call("alice")
    call.progress()
    call.answer()
    call.establish()
    client.audio_controller.start_playing_sound_file(path)  # mixed into the call
    sound = backend.engine.source if backend.engine is not None else None
    assert isinstance(sound, StreamedSound) and backend.stream_kind == "duplex"
    backend.device.run_frames(50)
    assert sound.position == 50 * 160 and sound.underruns == 0
    assert _open_handles(path) == 1
    call.hangup()
    assert sound.stopped and client.audio_controller.sound is None
    assert backend.engine is None and not session.is_active
    assert _open_handles(path) == 0
    client.close()


def _play_until_over(backend: object, client: ca.VoiceClient, limit: int) -> None:
    device = backend.device  # type: ignore[attr-defined]
    for _ in range(limit):
        if client.audio_controller.sound is None:
            return
        device.run_frames(10)
    raise AssertionError("the sound never ended")


def test_a_file_removed_while_playing_plays_to_its_end(tmp_path: Path) -> None:
    path = _write(tmp_path / "gone.wav", 3.0, 16000, 1)
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    session = ca.AudioSession()
    client = ca.VoiceClient(backend, session=session)
    client.audio_controller.start_playing_sound_file(path)
    sound = backend.engine.source if backend.engine is not None else None
    assert isinstance(sound, StreamedSound)
    backend.device.run_frames(20)
    os.remove(path)  # the open handle keeps the file's data
    _play_until_over(backend, client, 100)
    assert sound.error is None and sound.frames_decoded == 3 * 16000
    assert not session.is_active and backend.engine is None
    client.close()


def test_a_file_that_shrinks_while_playing_ends_the_sound_not_the_process(tmp_path: Path) -> None:
    path = _write(tmp_path / "cut.wav", 10.0, 16000, 1)
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    session = ca.AudioSession()
    client = ca.VoiceClient(backend, session=session)
    client.audio_controller.start_playing_sound_file(path)
    sound = backend.engine.source if backend.engine is not None else None
    assert isinstance(sound, StreamedSound)
    backend.device.run_frames(20)
    decoded = sound.frames_decoded  # the ring's 4 s ahead
    assert decoded < 10 * 16000
    os.truncate(path, 44 + 2 * 16000)  # one second of audio left of ten
    _play_until_over(backend, client, 200)
    assert isinstance(sound.error, SoundFileError) and sound.error.reason == "truncated"
    assert sound.frames_decoded == decoded and sound.position >= decoded  # all it had played
    assert client.audio_controller.sound is None and not session.is_active
    assert backend.engine is None
    # the controller still plays the next file (nothing left stuck)
    other = _write(tmp_path / "next.wav", 0.2, 16000, 1)
    client.audio_controller.start_playing_sound_file(other)
    _play_until_over(backend, client, 10)
    client.close()


def test_a_bad_file_still_raises_synchronously_with_nothing_changed(tmp_path: Path) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    session = ca.AudioSession()
    client = ca.VoiceClient(backend, session=session)
    with pytest.raises(SoundFileError):
        client.audio_controller.start_playing_sound_file(path)
    assert client.audio_controller.sound is None and not session.is_active
    assert backend.engine is None
    client.close()


def test_a_looping_file_of_a_few_frames_is_decoded_a_block_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 3-frame file looped: one pass per decode made the 4 s ring's fill ~21000 reads and
    # resampler calls at 8 kHz -> 48 kHz (a pumping thread that could not keep up at 44.1 kHz)
    path = tmp_path / "tick.wav"
    soundfile.write(str(path), np.array([0.5, -0.25, 0.125]), 8000, subtype="PCM_16")
    decodes = []
    real = StreamedSound._decode

    def counting(self: StreamedSound) -> None:
        decodes.append(1)
        real(self)

    monkeypatch.setattr(StreamedSound, "_decode", counting)
    for rate_out in (8000, 48000):
        decodes.clear()
        sound = StreamedSound(
            WavFileSource(path).open_reader(), 8000, rate_out, loop=True, lap_clock=False
        )
        sound.pump()  # the whole ring: 4 s
        assert sound.buffered > 3 * rate_out and sound.error is None
        # 4.5 s of input in 50 ms blocks: about 90 decodes (it was one per 3 frames)
        assert len(decodes) <= 100, len(decodes)
        if rate_out == 8000:  # no resampler: the ring is the file over and over
            ring = sound.samples[: sound.buffered, 0]
            want = np.tile(read_wav(path).samples[:, 0], ring.size // 3 + 1)[: ring.size]
            np.testing.assert_array_equal(ring, want)
        sound.stop()


def test_a_file_replaced_in_another_format_during_an_interruption_is_not_decoded_as_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import callaudio.audio.service as service

    made: list[PreparedSound] = []

    def prepare(*args: object, **kw: bool) -> PreparedSound:
        made.append(prepare_sound(*args, **kw))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(service, "prepare_sound", prepare)
    path = tmp_path / "f.wav"
    quiet = 0.01 * np.sin(2 * np.pi * 440 * np.arange(80000) / 16000)
    soundfile.write(str(path), quiet, 16000, subtype="PCM_16")
    backend = make_backend("simulated", sample_rate=16000, realtime=False)
    session = ca.AudioSession()
    client = ca.VoiceClient(backend, session=session)
    client.audio_controller.start_playing_sound_file(path)
    backend.device.run_frames(5)
    session.begin_interruption("pstn")
    os.remove(path)  # a new file at the path (its inode number may well be the old one's)
    other = tmp_path / "other.wav"
    soundfile.write(str(other), np.tile(quiet[:40000, None], (1, 2)), 8000, subtype="PCM_24")
    os.replace(other, path)
    session.end_interruption("pstn", should_resume=True)
    sound = made[-1]
    assert len(made) == 2 and isinstance(sound, StreamedSound)
    # its 24-bit stereo bytes read as 16-bit mono were noise near full scale (0.98)
    assert np.abs(sound.samples).max() <= 0.011
    assert sound.ran_out and isinstance(sound.error, SoundFileError)
    _play_until_over(backend, client, 10)
    assert _open_handles(path) == 0
    client.close()


def test_a_stream_slow_to_start_does_not_skip_the_decoded_start_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the sound is prepared (its first 0.5 s decoded) before the stream opens; a device that
    # took 2 s or more to start was read as a pumping thread stalled for a lap of the ring:
    # the decoded start was zeroed and 4 s of position counted as played
    import callaudio.engine.streamed as streamed

    now = [100.0]

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return now[0]

    monkeypatch.setattr(streamed, "time", Clock)
    path = _write(tmp_path / "f.wav", 10.0, 16000, 1)  # longer than the 4 s ring
    whole = read_wav(path).samples[:, 0]
    sound = StreamedSound(WavFileSource(path).open_reader(), 16000, 16000)
    assert sound.lap_clock
    now[0] += 3.0  # opening the device
    buf = np.zeros((160, 1), dtype=np.float32)
    played = []
    for _ in range(3):
        buf.fill(0.0)
        sound.mix_into(buf)
        played.append(buf[:, 0].copy())
        now[0] += 0.01
        sound.pump()
    assert sound.position == 480 and sound.underruns == 0
    np.testing.assert_array_equal(np.concatenate(played), whole[:480])
    # a stall of the pumping thread once playing is still measured by the clock
    now[0] += 4.5
    sound.mix_into(buf)
    sound.pump()
    assert sound.position > 480 + 4 * 16000 and sound.underruns > 0
    sound.stop()
