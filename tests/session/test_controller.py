"""The audio controller: mute, speaker, tones and WAV files, following the session rules."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from callaudio.audio.base import ArraySource
from callaudio.audio.recording import MemoryBackend
from callaudio.call import CallState, EndCause
from callaudio.client import VoiceClient
from callaudio.controller import SoundKind
from callaudio.errors import CallAudioError, ConfigError, SoundFileError
from callaudio.session import (
    AudioSession,
    Category,
    CategoryOptions,
    HoldKind,
    Mode,
    Port,
)
from callaudio.tones import ToneSource
from callaudio.wavfile import read_wav

from .helpers import EventLog, check_invariants, established, wav_bytes, write_wav

# -- mute ---------------------------------------------------------------------------------------


def test_mute_and_unmute(client: VoiceClient, backend: MemoryBackend, log: EventLog) -> None:
    ctrl = client.audio_controller
    ctrl.mute()
    ctrl.mute()
    assert ctrl.is_muted and backend.muted
    ctrl.unmute()
    ctrl.unmute()
    assert not ctrl.is_muted and not backend.muted
    assert log.take() == ["muted()", "unmuted()"]
    assert backend.calls == [("set_muted", True), ("set_muted", False)]


# -- speaker ------------------------------------------------------------------------------------


def test_speaker_wish_before_establishment_is_applied_then(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    ctrl = client.audio_controller
    call = client.start_call()
    call.progress()
    ctrl.enable_speaker()
    assert log.take() == ["call_progressing(call=call-1)", "speaker_enabled()"]
    assert ctrl.is_speaker_enabled and not session.speaker_override and backend.calls == []
    call.answer()
    call.establish()
    assert log.take() == [
        "call_answered(call=call-1)",
        "will_set_active(active=True)",
        "did_set_active(active=True)",
        "route_changed(reason=OVERRIDE, previous=built_in_mic->built_in_receiver)",
        "call_established(call=call-1)",
    ]
    assert session.speaker_override
    assert [c[0] for c in backend.calls] == ["set_speaker", "start_duplex"]
    assert (
        backend.duplex_config is not None
        and backend.duplex_config.output_port == Port.BUILT_IN_SPEAKER
    )


def test_speaker_wish_is_forgotten_when_the_call_never_established(
    client: VoiceClient, log: EventLog
) -> None:
    call = client.start_call()
    client.audio_controller.enable_speaker()
    call.end(EndCause.NO_ANSWER)
    assert log.take() == [
        "speaker_enabled()",
        "call_ended(call=call-1, cause=NO_ANSWER)",
        "speaker_disabled()",
    ]
    assert not client.audio_controller.is_speaker_enabled


@pytest.mark.parametrize("cause", [EndCause.NO_ANSWER, EndCause.DENIED, EndCause.HUNG_UP])
def test_a_mute_is_dropped_when_the_call_never_established(
    client: VoiceClient, backend: MemoryBackend, log: EventLog, cause: EndCause
) -> None:
    # Adversarial round 13: a mute set while the call rang outlived it (the speaker wish
    # did not), so the next call started muted, where an established call's mute is
    # cleared at its end (row 4).
    ctrl = client.audio_controller
    call = client.start_call()
    call.progress()
    ctrl.mute()
    call.end(cause)
    assert log.take()[-2:] == [f"call_ended(call=call-1, cause={cause.name})", "unmuted()"]
    assert not ctrl.is_muted and not backend.muted
    established(client)
    assert not ctrl.is_muted and not backend.muted


def test_a_mute_stays_while_another_call_of_the_client_is_live(client: VoiceClient) -> None:
    ctrl = client.audio_controller
    first = established(client)
    second = client.start_call()
    ctrl.mute()
    second.end(EndCause.NO_ANSWER)  # the established call goes on, muted
    assert ctrl.is_muted and first.state is CallState.ESTABLISHED


def test_disable_speaker_before_a_call_only_changes_the_wish(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    client.audio_controller.enable_speaker()
    client.audio_controller.disable_speaker()
    client.audio_controller.disable_speaker()
    assert log.take() == ["speaker_enabled()", "speaker_disabled()"]
    assert backend.calls == []
    established(client)
    assert not session.speaker_override


# -- tones --------------------------------------------------------------------------------------


def test_progress_tone_activates_for_playback_and_stops_at_answer(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, log: EventLog
) -> None:
    session.set_category(Category.AMBIENT)
    call = client.start_call()
    call.progress()
    log.take()
    client.audio_controller.start_progress_tone()
    assert log.take() == ["will_set_active(active=True)", "did_set_active(active=True)"]
    assert session.category is Category.AMBIENT  # left as found: AMBIENT can play
    assert [h.owner for h in session.holds] == ["controller"]
    assert session.holds[0].kind is HoldKind.APPLICATION
    ((name, source),) = backend.calls
    assert name == "start_playback" and isinstance(source, ToneSource)
    assert source.sample_rate == 48000 and source.spec.frequencies == (440.0, 480.0)
    assert (
        client.audio_controller.sound is SoundKind.PROGRESS_TONE
        and client.audio_controller.is_playing
    )
    call.ring()
    call.answer()
    assert log.take() == [
        "call_ringing(call=call-1)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
        "call_answered(call=call-1)",
    ]
    assert backend.calls[-1] == ("stop_playback",)
    assert client.audio_controller.sound is None and session.activation_count == 0
    check_invariants(session, client)


def test_progress_tone_stops_when_the_call_ends_unanswered(
    client: VoiceClient, backend: MemoryBackend
) -> None:
    call = client.start_call()
    call.progress()
    client.audio_controller.start_progress_tone("UK")
    call.end(EndCause.DENIED)
    assert client.audio_controller.sound is None and not backend.playback_running
    client.audio_controller.start_busy_tone("uk")
    assert isinstance(backend.playback_source, ToneSource)
    assert backend.playback_source.spec.frequencies == (400.0,)
    client.audio_controller.stop_playing_sound_file()  # a tone is not a sound file
    assert backend.playback_running
    client.audio_controller.stop_tone()
    assert not backend.playback_running and client.session.activation_count == 0


def test_tones_use_the_session_rate_and_the_plan(
    session: AudioSession, backend: MemoryBackend, clock
) -> None:
    from callaudio.session import InterruptionPolicy

    session.set_preferred_sample_rate(16000)
    client = VoiceClient(
        backend, session=session, policy=InterruptionPolicy(clock=clock), tone_plan="CEPT"
    )
    client.audio_controller.start_progress_tone()
    assert isinstance(backend.playback_source, ToneSource)
    assert backend.playback_source.sample_rate == 16000
    assert backend.playback_source.spec == client.audio_controller.tone_plan.ringback
    block = backend.pull(16000)  # the first second of 425 Hz, 1 s on
    spectrum = np.abs(np.fft.rfft(block[:, 0]))
    assert np.argmax(spectrum) == 425
    with pytest.raises(ConfigError, match="unknown tone plan 'XX'"):
        client.audio_controller.start_busy_tone("XX")
    assert client.audio_controller.sound is SoundKind.PROGRESS_TONE  # unchanged


# -- sound files --------------------------------------------------------------------------------


def test_sound_file_plays_once_and_releases_the_session(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    log: EventLog,
    tmp_path: Path,
) -> None:
    samples = (np.sin(np.arange(1600) * 0.05) * 20000).astype(np.int16)
    path = write_wav(tmp_path / "ding.wav", samples, rate=16000)
    client.audio_controller.start_playing_sound_file(path)
    assert session.is_active and backend.playback_running
    pulled = backend.pull(2000)
    np.testing.assert_array_equal(pulled[:1600, 0], samples.astype(np.float32) / 32768.0)
    assert not pulled[1600:].any()
    backend.finish_playback()
    assert client.audio_controller.sound is None
    assert not session.is_active and session.activation_count == 0
    assert log.take() == [
        "will_set_active(active=True)",
        "did_set_active(active=True)",
        "will_set_active(active=False)",
        "did_set_active(active=False)",
    ]


def test_looping_sound_file_wraps(
    client: VoiceClient, backend: MemoryBackend, tmp_path: Path
) -> None:
    path = write_wav(tmp_path / "loop.wav", np.arange(10, dtype=np.int16) * 1000)
    client.audio_controller.start_playing_sound_file(path, loop=True)
    block = backend.pull(25)[:, 0] * 32768.0
    np.testing.assert_array_equal(block, np.tile(np.arange(10) * 1000, 3)[:25])
    assert backend.playback_source is not None and backend.playback_source.loop
    client.audio_controller.stop_playing_sound_file()
    assert not backend.playback_running and not client.session.is_active


def test_record_category_is_switched_for_playback_and_put_back(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, tmp_path: Path
) -> None:
    session.set_category(Category.RECORD, Mode.VIDEO_RECORDING, CategoryOptions.ALLOW_BLUETOOTH)
    found = session.configuration
    path = write_wav(tmp_path / "a.wav", np.zeros(100, dtype=np.int16))
    client.audio_controller.start_playing_sound_file(path)
    assert session.category is Category.PLAYBACK
    client.audio_controller.stop_playing_sound_file()
    assert session.configuration == found


def test_sound_before_the_call_does_not_change_the_snapshot(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, tmp_path: Path
) -> None:
    session.set_category(Category.RECORD)
    found = session.configuration
    path = write_wav(tmp_path / "ring.wav", np.zeros(100, dtype=np.int16))
    client.audio_controller.start_playing_sound_file(path, loop=True)
    call = established(client, incoming=True)
    assert client.snapshot == found  # not the controller's temporary PLAYBACK
    assert session.configuration.category is Category.PLAY_AND_RECORD
    assert session.activation_count == 2
    call.hangup()
    assert session.configuration == found
    assert client.audio_controller.sound is None and not backend.is_running
    check_invariants(session, client)


def test_sound_during_a_call_uses_the_calls_hold_and_stops_with_it(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, tmp_path: Path
) -> None:
    call = established(client)
    path = write_wav(tmp_path / "beep.wav", np.zeros(100, dtype=np.int16))
    client.audio_controller.start_playing_sound_file(path, loop=True)
    assert session.activation_count == 1 and backend.playback_running
    assert session.configuration.category is Category.PLAY_AND_RECORD
    call.hangup()
    assert not backend.is_running and client.audio_controller.sound is None


def test_one_sound_at_a_time(client: VoiceClient, backend: MemoryBackend, tmp_path: Path) -> None:
    client.audio_controller.start_progress_tone()
    path = write_wav(tmp_path / "x.wav", np.zeros(10, dtype=np.int16))
    client.audio_controller.start_playing_sound_file(path)
    assert backend.names == ["start_playback", "stop_playback", "start_playback"]
    assert client.audio_controller.sound is SoundKind.FILE
    assert client.session.activation_count == 1
    client.audio_controller.stop_tone()  # not a tone: keeps playing
    assert backend.playback_running


def test_playback_start_failure_changes_nothing(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, tmp_path: Path
) -> None:
    session.set_category(Category.RECORD)
    backend.fail_next("start_playback")
    path = write_wav(tmp_path / "x.wav", np.zeros(10, dtype=np.int16))
    with pytest.raises(CallAudioError, match="simulated failure"):
        client.audio_controller.start_playing_sound_file(path)
    assert session.category is Category.RECORD and session.activation_count == 0
    assert client.audio_controller.sound is None


# -- WAV decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2], ids=["mono", "stereo"])
@pytest.mark.parametrize(
    ("width", "values", "scale"),
    [
        (1, [-128, -1, 0, 1, 127], 128.0),
        (2, [-32768, -1, 0, 1, 32767], 32768.0),
        (3, [-(1 << 23), -1, 0, 1, (1 << 23) - 1], float(1 << 23)),
        (4, [-(1 << 31), -1, 0, 1, (1 << 31) - 1], float(1 << 31)),
    ],
    ids=["8bit", "16bit", "24bit", "32bit"],
)
def test_wav_widths_decode_exactly(
    tmp_path: Path, width: int, values: list[int], scale: float, channels: int
) -> None:
    ints = np.repeat(np.array(values, dtype=np.int64), channels)
    path = write_wav(tmp_path / "w.wav", ints, width=width, channels=channels, rate=22050)
    audio = read_wav(path)
    assert (audio.sample_rate, audio.sample_width, audio.channels) == (22050, width, channels)
    assert audio.samples.dtype == np.float32 and audio.samples.shape == (5, channels)
    expected = (np.array(values, dtype=np.float64) / scale).astype(np.float32)
    for ch in range(channels):
        np.testing.assert_array_equal(audio.samples[:, ch], expected)
    assert audio.duration == pytest.approx(5 / 22050)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32"])
def test_wave_format_extensible_pcm_as_sox_and_ffmpeg_write_it_is_read(
    tmp_path: Path, subtype: str, client: VoiceClient, backend: MemoryBackend
) -> None:
    # on Python < 3.12 wave refused the tag (SoundFileError 'only integer PCM WAV is
    # supported (unknown format: 65534)'): sox's 24- and 32-bit WAVs could not be played
    import soundfile

    x = np.stack([np.linspace(-0.5, 0.5, 400), np.linspace(0.25, -0.25, 400)], 1)
    path = tmp_path / "hold.wav"
    soundfile.write(str(path), x, 16000, format="WAVEX", subtype=subtype)
    assert path.read_bytes()[20:22] == b"\xfe\xff"  # WAVE_FORMAT_EXTENSIBLE
    audio = read_wav(path)
    ref, _ = soundfile.read(str(path), dtype="float32", always_2d=True)
    assert (audio.sample_rate, audio.channels) == (16000, 2)
    np.testing.assert_array_equal(audio.samples, ref)
    client.audio_controller.start_playing_sound_file(path)
    assert client.audio_controller.sound is SoundKind.FILE


def _float_wav(path: Path) -> Path:
    data = np.zeros(8, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _float_extensible_wav(path: Path) -> Path:
    import soundfile

    soundfile.write(str(path), np.zeros(80), 8000, format="WAVEX", subtype="FLOAT")
    return path


def _three_channel_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(3)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00" * 60)
    return path


BAD_FILES = {
    "missing": lambda d: d / "nope.wav",
    "directory": lambda d: d,
    "not_wav": lambda d: _write(d / "notes.wav", b"hello, this is text, not audio" * 4),
    "mp3": lambda d: _write(d / "song.wav", b"ID3\x03\x00\x00\x00" + bytes(100)),
    "truncated_data": lambda d: _write(d / "cut.wav", wav_bytes(np.arange(400))[:-300]),
    "truncated_header": lambda d: _write(d / "head.wav", wav_bytes(np.arange(400))[:30]),
    "corrupt_no_data_chunk": lambda d: _write(d / "nodata.wav", wav_bytes(np.arange(4))[:36]),
    "float": lambda d: _float_wav(d / "float.wav"),
    "float_extensible": lambda d: _float_extensible_wav(d / "floatx.wav"),
    "three_channels": lambda d: _three_channel_wav(d / "3ch.wav"),
    "empty_audio": lambda d: _write(d / "empty.wav", wav_bytes(np.zeros(0))),
}
REASONS = {
    "missing": "missing",
    "directory": "missing",
    "not_wav": "not_wav",
    "mp3": "not_wav",
    "truncated_data": "truncated",
    "truncated_header": "truncated",
    "corrupt_no_data_chunk": "corrupt",
    "float": "unsupported",
    "float_extensible": "unsupported",
    "three_channels": "unsupported",
    "empty_audio": "corrupt",
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_sound_files_raise_a_clear_error_and_change_nothing(
    session: AudioSession,
    client: VoiceClient,
    backend: MemoryBackend,
    log: EventLog,
    tmp_path: Path,
    case: str,
) -> None:
    path = BAD_FILES[case](tmp_path)
    with pytest.raises(SoundFileError) as info:
        client.audio_controller.start_playing_sound_file(path)
    err = info.value
    assert isinstance(err, CallAudioError)
    assert err.reason == REASONS[case], str(err)
    assert err.path == str(path) and str(path) in str(err)
    assert backend.calls == [] and log.lines == [] and not session.is_active
    assert client.audio_controller.sound is None


def test_array_source_checks_its_input() -> None:
    with pytest.raises(ConfigError, match="samples"):
        ArraySource(np.zeros((4, 3)), 8000)
    with pytest.raises(ConfigError, match="looping"):
        ArraySource(np.zeros(0), 8000, loop=True)
    with pytest.raises(ConfigError, match="sample_rate"):
        ArraySource(np.zeros(4), 0)
    src = ArraySource(np.arange(4), 8000)
    assert (
        src.read(3).shape == (3, 1) and src.read(3).shape == (1, 1) and src.read(3).shape == (0, 1)
    )
    src.rewind()
    assert src.position == 0 and not src.samples.flags.writeable


def test_sound_file_during_interruption_waits(
    session: AudioSession, client: VoiceClient, backend: MemoryBackend, tmp_path: Path
) -> None:
    call = established(client)
    session.begin_interruption("pstn")
    path = write_wav(tmp_path / "x.wav", np.zeros(10, dtype=np.int16))
    client.audio_controller.start_playing_sound_file(path, loop=True)
    assert (
        client.audio_controller.sound is SoundKind.FILE and not client.audio_controller.is_playing
    )
    session.end_interruption("pstn")
    assert client.audio_controller.is_playing and call.state is CallState.ESTABLISHED


def test_a_header_announcing_gigabytes_reads_no_more_than_the_file(tmp_path: Path) -> None:
    """A 300-byte WAV whose data chunk claims 4 GB: wave was asked for all of it (one
    4 GB allocation, a MemoryError under a memory limit instead of a SoundFileError)."""
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", 0xFFFFFFF0) + bytes(256)
    path = _write(tmp_path / "huge.wav", b"RIFF" + struct.pack("<I", 0xFFFFFFF8) + body)
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(SoundFileError) as info:
            read_wav(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.reason == "truncated" and "holds 128" in str(info.value)
    assert peak < 1 << 20  # the header is checked against the file's size: nothing read


class _RaisingInt(int):
    def __int__(self) -> int:
        raise RuntimeError("no int")

    def __index__(self) -> int:
        raise RuntimeError("no index")


@pytest.mark.parametrize("samples", [[1j], ["a"], [10**400], [object()]])
def test_array_source_refuses_samples_that_are_not_real_numbers(samples: object) -> None:
    with pytest.raises(ConfigError, match="samples"):  # TypeError/ValueError/OverflowError
        ArraySource(samples, 8000)  # type: ignore[arg-type]


def test_array_source_reads_a_rate_and_a_count_as_plain_ints() -> None:
    assert ArraySource(np.zeros(4), _RaisingInt(8000)).sample_rate == 8000  # RuntimeError
    src = ArraySource(np.arange(4), 8000, loop=True)
    for bad in (None, 1.5, True, "3", np.zeros(2), 10**400, np.int64(2**62), -1):
        with pytest.raises(ConfigError, match="frames"):
            src.read(bad)  # type: ignore[arg-type]
    assert src.position == 0 and src.read(np.int16(6)).shape == (6, 1)


def test_a_path_like_whose_fspath_raises_is_a_sound_file_error(client: VoiceClient) -> None:
    class BrokenPath:
        def __fspath__(self) -> str:
            raise RuntimeError("no path")

    with pytest.raises(SoundFileError, match="not a file path"):  # RuntimeError before
        client.audio_controller.start_playing_sound_file(BrokenPath())  # type: ignore[arg-type]
    assert client.audio_controller.sound is None
