"""The audio controller: mute, speaker, progress and busy tones, and sound files.

One :class:`AudioController` per :class:`~callaudio.client.VoiceClient`
(``client.audio_controller``). It follows the session rules itself (README, "The session
rules you must know"):

- It plays one sound at a time (a tone or a WAV file); starting one stops the other.
- When its client has no established call it activates the session for the sound (an
  ``APPLICATION`` hold owned by ``"controller"``) and releases it when the sound stops.
  When the category cannot play (RECORD) it switches to PLAYBACK for the sound and puts
  the category back afterwards: it leaves the category as it found it. If a call is
  established while such a sound plays, the call's snapshot takes the category the
  controller found, not its temporary one.
- During a call, sounds are mixed into the call's output under the call's hold.
- After the last call ends every sound stops (the session is deactivated).
- An interruption pauses the sound; when it ends the sound resumes if ``should_resume``,
  else it is dropped (``should_resume=False`` resumes a call, not a sound). An audio
  system reset drops a sound file (never restarted by itself) but restarts a tone.

Mute reaches the backend as a plain flag (``set_muted``). The speaker has one home, the
session's speaker override (:attr:`~callaudio.session.AudioSession.speaker_override`);
the controller keeps only the user's *wish*, and the session rules set the backend's
speaker flag from the override. ``enable_speaker()`` before a call is established records
the wish (and emits ``speaker_enabled``); the rules apply it at establishment, which emits
``route_changed(OVERRIDE)``. During a call outside PLAY_AND_RECORD (the application set
another category) ``enable_speaker()`` raises InvalidStateError and keeps no wish. The
events ``muted``/``unmuted``/``speaker_enabled``/``speaker_disabled`` are emitted only when
the state changes.

Backend requests are decided under the session lock and run after its release
(:meth:`~callaudio.session.AudioSession.defer`); a sound that the backend refuses to play
is stopped again (hold released, category put back) and the error is raised.

The methods under "for the session rules" are called by :mod:`callaudio.rules`;
applications do not need them.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass

from .audio.base import AudioBackend, PlaybackSource
from .config import SAMPLE_RATES
from .engine.sound import can_resample
from .errors import ConfigError, InvalidStateError, LiveObject, SoundFileError
from .session import AudioSession, Category, HoldKind, SessionConfiguration, SessionHold
from .tones import TonePlan, ToneSource
from .tones import tone_plan as tone_plan_of
from .wavfile import WavFileSource

__all__ = ["AudioController", "SoundKind"]


class SoundKind(enum.Enum):
    """What the controller is playing."""

    PROGRESS_TONE = "progress_tone"
    BUSY_TONE = "busy_tone"
    FILE = "file"


@dataclass(eq=False)
class _Sound:
    kind: SoundKind
    source: PlaybackSource
    path: str | None = None
    hold: SessionHold | None = None
    saved: SessionConfiguration | None = None
    playing: bool = False


class AudioController(LiveObject):
    """Mute, speaker and the one sound being played, for one client.

    Parameters
    ----------
    session : AudioSession
        The session the sounds and the speaker override go through.
    backend : AudioBackend
        Where playback, mute and speaker requests go.
    tone_plan : str or TonePlan
        The default regional plan for :meth:`start_progress_tone` and
        :meth:`start_busy_tone` (``"US"``, ``"UK"``, ``"CEPT"``).
    in_call : callable, optional
        Whether this controller's client has an established call (then a sound plays
        under the call's hold); by default, whether any call holds the session. The
        client passes its own answer: a sound started during another client's call takes
        its own hold, and stops when the session deactivates.
    """

    OWNER = "controller"

    def __init__(
        self,
        session: AudioSession,
        backend: AudioBackend,
        tone_plan: str | TonePlan = "US",
        *,
        in_call: Callable[[], bool] | None = None,
    ) -> None:
        self._session = session
        self._in_call = in_call if in_call is not None else lambda: session.call_hold_count > 0
        self._backend = backend
        self._plan = tone_plan_of(tone_plan)
        self._muted = False
        self._speaker = False
        self._sound: _Sound | None = None
        self._closed = False

    # -- state ---------------------------------------------------------------------------

    @property
    def is_muted(self) -> bool:
        """Whether the microphone is muted."""
        return self._muted

    @property
    def is_speaker_enabled(self) -> bool:
        """Whether the user wants the loudspeaker (applied during a call)."""
        return self._speaker

    @property
    def sound(self) -> SoundKind | None:
        """What is being played (or paused by an interruption), None when nothing."""
        s = self._sound
        return s.kind if s is not None else None

    @property
    def is_playing(self) -> bool:
        """Whether a sound is actually being played right now (not paused)."""
        s = self._sound
        return s is not None and s.playing

    @property
    def tone_plan(self) -> TonePlan:
        """The default tone plan."""
        return self._plan

    # -- mute and speaker ----------------------------------------------------------------

    def mute(self) -> None:
        """Mute the microphone (emits ``muted``)."""
        self._set_muted(True)

    def unmute(self) -> None:
        """Unmute the microphone (emits ``unmuted``)."""
        self._set_muted(False)

    def _set_muted(self, muted: bool) -> None:
        with self._session.lock:
            if self._muted == muted:
                return
            self._muted = muted
            self._request(self._backend.set_muted, muted)
            self._session.emit("muted" if muted else "unmuted")

    def enable_speaker(self) -> None:
        """Route the call to the loudspeaker, now or when the call is established.

        Raises
        ------
        InvalidStateError
            During a call whose category is not PLAY_AND_RECORD (only that category can
            override the output to the speaker); nothing is changed, no wish is kept.
        """
        session = self._session
        with session.lock:
            if self._speaker:
                return
            if session.call_hold_count and not session.can_override_to_speaker():
                raise InvalidStateError(
                    "enable the speaker", session.category.name, "the category cannot override"
                )
            self._speaker = True
            if session.call_hold_count:
                self.apply_speaker_wish()
            session.emit("speaker_enabled")

    def disable_speaker(self) -> None:
        """Route the call back to the receiver/headset."""
        session = self._session
        with session.lock:
            if not self._speaker:
                return
            self._speaker = False
            session.override_output_to_speaker(False)
            session.emit("speaker_disabled")

    # -- sounds --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the sound; from now on every ``start_*`` raises InvalidStateError (the
        client is closed and no longer follows the session)."""
        with self._session.lock:
            self._closed = True
            self.stop_sound()

    def _check_open(self, event: str) -> None:
        if self._closed:
            raise InvalidStateError(event, "CLOSED", "the client is closed")

    def start_progress_tone(self, plan: str | TonePlan | None = None) -> None:
        """Play the ringback (progress) tone of ``plan`` (the controller's plan by default),
        looping, at the session's preferred sample rate.

        Raises InvalidStateError when the client is closed (as every ``start_*``)."""
        self._check_open("play a tone")
        spec = (tone_plan_of(plan) if plan is not None else self._plan).ringback
        source = ToneSource(spec, self._session.preferred_sample_rate)
        self._start(_Sound(SoundKind.PROGRESS_TONE, source))

    def start_busy_tone(self, plan: str | TonePlan | None = None) -> None:
        """Play the busy tone of ``plan``, looping."""
        self._check_open("play a tone")
        spec = (tone_plan_of(plan) if plan is not None else self._plan).busy
        source = ToneSource(spec, self._session.preferred_sample_rate)
        self._start(_Sound(SoundKind.BUSY_TONE, source))

    def stop_tone(self) -> None:
        """Stop a progress or busy tone (a sound file keeps playing)."""
        with self._session.lock:
            s = self._sound
            if s is not None and s.kind is not SoundKind.FILE:
                self.stop_sound()

    def start_playing_sound_file(self, path: str | os.PathLike[str], loop: bool = False) -> None:
        """Play a WAV file (PCM 8/16/24/32-bit, mono or stereo), once or looping.

        The file's header and size are checked here, on the caller's thread, before
        anything changes; its samples are not read here. The backend streams it: it
        decodes and resamples it in blocks as it plays, a few seconds ahead of the audio
        thread (:class:`~callaudio.engine.streamed.StreamedSound`), so the call returns at
        once and memory stays bounded whatever the file's length. A file that becomes
        unreadable while playing (it shrank, an I/O error) ends the sound after what was
        decoded, as if it had run out; a file removed while playing plays to its end (its
        open handle keeps it).

        The samples keep the file's own sample rate (``source.sample_rate``); the backend
        converts. While the session is interrupted the sound waits and starts when the
        interruption ends (if ``should_resume``).

        Raises
        ------
        SoundFileError
            For a missing, corrupt, truncated, non-WAV or unsupported file (a sample rate
            the player cannot convert to every processing rate, checked here so that the
            sound cannot fail later when an interruption ends); nothing changed.
        ConfigError
            ``loop`` is not a bool (a string such as ``"no"`` is not one); nothing changed.
        InvalidStateError
            When the client is closed.
        """
        self._check_open("play a sound file")
        if not isinstance(loop, int):  # bool, or 0/1
            raise ConfigError("loop", f"must be True or False, got {loop!r}")
        source = WavFileSource(path, loop=bool(loop))  # the header checked, no samples read
        if not all(can_resample(source.sample_rate, rate) for rate in SAMPLE_RATES):
            raise SoundFileError(
                source.path,
                "unsupported",
                f"a sample rate of {source.sample_rate} Hz cannot be converted to "
                f"{min(SAMPLE_RATES)}..{max(SAMPLE_RATES)} Hz",
            )
        self._start(_Sound(SoundKind.FILE, source, path=source.path))

    def stop_playing_sound_file(self) -> None:
        """Stop the sound file being played (a tone keeps playing)."""
        with self._session.lock:
            s = self._sound
            if s is not None and s.kind is SoundKind.FILE:
                self.stop_sound()

    @property
    def borrowed_configuration(self) -> SessionConfiguration | None:
        """The configuration the controller found and will put back after its sound
        (it switched a RECORD category to PLAYBACK to play it); None otherwise."""
        s = self._sound
        return s.saved if s is not None else None

    def _start(self, sound: _Sound) -> None:
        session = self._session
        with session.lock:
            self._check_open("play a sound")
            self.stop_sound()
            if not self._in_call():
                if not session.category.can_play:
                    sound.saved = session.configuration
                    session.set_category(Category.PLAYBACK)
                sound.hold = session.acquire(self.OWNER, HoldKind.APPLICATION, self._revoked)
            self._sound = sound
            if session.is_active:
                self._play(sound)

    def _request(self, request: Callable[..., None], *args: object) -> None:
        self._session.defer(lambda: request(*args))

    def _play(self, sound: _Sound) -> None:
        sound.playing = True

        def start() -> None:
            try:
                self._backend.start_playback(sound.source, lambda: self._finished(sound))
            except BaseException:
                with self._session.lock:
                    sound.playing = False
                    if self._sound is sound:
                        self.stop_sound()
                raise

        self._session.defer(start, wait=True)

    def _finished(self, sound: _Sound) -> None:
        """The backend says a non-looping sound ran out (backend thread)."""
        with self._session.lock:
            if self._sound is sound:
                sound.playing = False
                self.stop_sound()

    def _revoked(self, hold: SessionHold) -> None:
        """The session revoked our hold (last call ended, or forced deactivation)."""
        s = self._sound
        if s is not None and s.hold is hold:
            self.stop_sound()

    # -- for the session rules (callaudio.rules) -----------------------------------------

    def stop_sound(self) -> None:
        """Stop the current sound, release its hold, put back the category."""
        with self._session.lock:
            sound, self._sound = self._sound, None
            if sound is None:
                return
            if sound.playing:
                sound.playing = False
                self._request(self._backend.stop_playback)
            if sound.hold is not None and sound.hold.live:
                self._session.release(sound.hold)
            if sound.saved is not None:
                self._session.set_configuration(sound.saved)

    def keep_sound(self) -> None:
        """This client's last call ended while another client's call keeps the session:
        the sound goes on, now under its own hold (so it stops when the session does)."""
        s = self._sound
        if s is not None and s.hold is None:
            s.hold = self._session.acquire(self.OWNER, HoldKind.APPLICATION, self._revoked)

    def stop_progress_tone(self) -> None:
        """Stop the progress tone if it plays (the call was answered, established or ended)."""
        if self.sound is SoundKind.PROGRESS_TONE:
            self.stop_tone()

    def take_found_configuration(self) -> SessionConfiguration | None:
        """A call is being established: hand over the category we found, if we changed it
        (the call's snapshot takes it; the category is not put back after the sound)."""
        s = self._sound
        if s is None or s.saved is None:
            return None
        saved, s.saved = s.saved, None
        return saved

    def apply_speaker_wish(self) -> None:
        """A call holds the session: turn the wish into the session's speaker override
        (when the category allows it)."""
        session = self._session
        if self._speaker and not session.speaker_override and session.can_override_to_speaker():
            session.override_output_to_speaker(True)

    def speaker_cleared(self) -> None:
        """The session dropped the override (a device change): the wish goes too."""
        if self._speaker:
            self._speaker = False
            self._session.emit("speaker_disabled")

    def forget_speaker_wish(self) -> None:
        """No call is left to apply a recorded wish to."""
        if self._speaker and not self._session.speaker_override:
            self._speaker = False
            self._session.emit("speaker_disabled")

    def forget_call_wishes(self) -> None:
        """The client's last call ended without being established: the speaker wish and
        the mute set for it go, as an established call's do (:meth:`clear_call_state`)."""
        self.forget_speaker_wish()
        if self._muted:
            self._set_muted(False)

    def clear_call_state(self) -> None:
        """The last call ended: drop the speaker override and the mute."""
        self._session.override_output_to_speaker(False)
        if self._speaker:
            self._speaker = False
            self._session.emit("speaker_disabled")
        if self._muted:
            self._set_muted(False)

    def pause_sound(self) -> None:
        """An interruption began: stop playing, keep the sound."""
        s = self._sound
        if s is not None and s.playing:
            s.playing = False
            self._request(self._backend.stop_playback)

    def drop_paused_sound(self) -> None:
        """``should_resume=False``: drop a paused sound before the session reactivates."""
        s = self._sound
        if s is not None and not s.playing:
            self.stop_sound()

    def resume_sound(self, should_resume: bool) -> None:
        """The last interruption ended: play the paused sound again (if ``should_resume``)."""
        s = self._sound
        if s is None or s.playing:
            return
        if not should_resume:
            self.stop_sound()
        elif self._session.is_active:
            self._play(s)

    def sound_lost(self) -> None:
        """The audio system went away: stop; drop a file, keep a tone for restarting."""
        s = self._sound
        if s is None:
            return
        self.pause_sound()
        if s.kind is SoundKind.FILE:
            self.stop_sound()

    def sound_reset(self) -> None:
        """The audio system is back: restart a kept tone."""
        s = self._sound
        if s is not None and not s.playing and self._session.is_active:
            self._play(s)
