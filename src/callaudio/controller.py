"""The audio controller: mute, speaker, progress and busy tones, and sound files.

One :class:`AudioController` per :class:`~callaudio.client.VoiceClient`
(``client.audio_controller``). It follows the session rules itself (spec rule 6):

- It plays one sound at a time (a tone or a WAV file); starting one stops the other.
- When no call holds the session it activates the session for the sound (an
  ``APPLICATION`` hold owned by ``"controller"``) and releases it when the sound stops.
  When the category cannot play (RECORD) it switches to PLAYBACK for the sound and puts
  the category back afterwards: it leaves the category as it found it. If a call is
  established while such a sound plays, the call's snapshot takes the category the
  controller found, not its temporary one.
- During a call, sounds are mixed into the call's output under the call's hold.
- After the last call ends every sound stops (the session is deactivated; rule 2).
- An interruption pauses the sound; when it ends the sound resumes if ``should_resume``,
  else it is dropped (spec: "should_resume=False ... not a controller sound"). An audio
  system reset drops a sound file (never restarted by itself) but restarts a tone.

Mute and speaker state reach the backend as plain flags (``set_muted``, ``set_speaker``).
``enable_speaker()`` before a call is established records the wish (and emits
``speaker_enabled``); the client applies it at establishment, which emits
``route_changed(OVERRIDE)``. The events ``muted``/``unmuted``/``speaker_enabled``/
``speaker_disabled`` are emitted only when the state changes.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from .audio.base import ArraySource, AudioBackend, PlaybackSource
from .session import AudioSession, Category, HoldKind, SessionConfiguration, SessionHold
from .tones import TonePlan, ToneSource
from .tones import tone_plan as tone_plan_of
from .wavfile import read_wav

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


class AudioController:
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
    """

    OWNER = "controller"

    def __init__(
        self, session: AudioSession, backend: AudioBackend, tone_plan: str | TonePlan = "US"
    ) -> None:
        self._session = session
        self._backend = backend
        self._plan = tone_plan_of(tone_plan)
        self._muted = False
        self._speaker = False
        self._sound: _Sound | None = None

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
        with self._session._operation():
            if self._muted:
                return
            self._muted = True
            self._backend.set_muted(True)
            self._session._emit("muted")

    def unmute(self) -> None:
        """Unmute the microphone (emits ``unmuted``)."""
        with self._session._operation():
            if not self._muted:
                return
            self._muted = False
            self._backend.set_muted(False)
            self._session._emit("unmuted")

    def enable_speaker(self) -> None:
        """Route the call to the loudspeaker, now or when the call is established."""
        with self._session._operation():
            if self._speaker:
                return
            self._speaker = True
            if self._session.call_hold_count:
                self._apply_speaker()
            self._session._emit("speaker_enabled")

    def disable_speaker(self) -> None:
        """Route the call back to the receiver/headset."""
        with self._session._operation():
            if not self._speaker:
                return
            self._speaker = False
            if self._session.speaker_override:
                self._backend.set_speaker(False)
                self._session.override_output_to_speaker(False)
            self._session._emit("speaker_disabled")

    def _apply_speaker(self) -> None:
        """Apply the wish to the session and backend (a call holds the session)."""
        if self._speaker and not self._session.speaker_override:
            self._backend.set_speaker(True)
            self._session.override_output_to_speaker(True)

    def _speaker_cleared(self) -> None:
        """The session dropped the override (a device change): say so."""
        self._backend.set_speaker(False)
        if self._speaker:
            self._speaker = False
            self._session._emit("speaker_disabled")

    def _clear_call_state(self) -> None:
        """Row 4: the last call ended; drop the speaker override and the mute."""
        if self._session.speaker_override:
            self._backend.set_speaker(False)
            self._session.override_output_to_speaker(False)
        if self._speaker:
            self._speaker = False
            self._session._emit("speaker_disabled")
        if self._muted:
            self._muted = False
            self._backend.set_muted(False)
            self._session._emit("unmuted")

    def _forget_speaker_wish(self) -> None:
        """No call is left to apply a recorded wish to."""
        if self._speaker and not self._session.speaker_override:
            self._speaker = False
            self._session._emit("speaker_disabled")

    # -- sounds --------------------------------------------------------------------------

    def start_progress_tone(self, plan: str | TonePlan | None = None) -> None:
        """Play the ringback (progress) tone of ``plan`` (the controller's plan by default),
        looping, at the session's preferred sample rate."""
        spec = (tone_plan_of(plan) if plan is not None else self._plan).ringback
        source = ToneSource(spec, self._session.preferred_sample_rate)
        self._start(_Sound(SoundKind.PROGRESS_TONE, source))

    def start_busy_tone(self, plan: str | TonePlan | None = None) -> None:
        """Play the busy tone of ``plan``, looping."""
        spec = (tone_plan_of(plan) if plan is not None else self._plan).busy
        source = ToneSource(spec, self._session.preferred_sample_rate)
        self._start(_Sound(SoundKind.BUSY_TONE, source))

    def stop_tone(self) -> None:
        """Stop a progress or busy tone (a sound file keeps playing)."""
        with self._session._operation():
            s = self._sound
            if s is not None and s.kind is not SoundKind.FILE:
                self._stop()

    def start_playing_sound_file(self, path: str | os.PathLike[str], loop: bool = False) -> None:
        """Play a WAV file (PCM 8/16/24/32-bit, mono or stereo), once or looping.

        The file is read and checked before anything changes.

        The samples keep the file's own sample rate (``source.sample_rate``); the backend
        converts. While the session is interrupted the sound waits and starts when the
        interruption ends (if ``should_resume``).

        Raises
        ------
        SoundFileError
            For a missing, corrupt, truncated, non-WAV or unsupported file; nothing changed.
        """
        audio = read_wav(path)
        source = ArraySource(audio.samples, audio.sample_rate, loop=loop)
        self._start(_Sound(SoundKind.FILE, source, path=os.fspath(path)))

    def stop_playing_sound_file(self) -> None:
        """Stop the sound file being played (a tone keeps playing)."""
        with self._session._operation():
            s = self._sound
            if s is not None and s.kind is SoundKind.FILE:
                self._stop()

    def _start(self, sound: _Sound) -> None:
        session = self._session
        with session._operation():
            self._stop()
            if not session.call_hold_count:
                if not session.category.can_play:
                    sound.saved = session.configuration
                    session.set_category(Category.PLAYBACK)
                sound.hold = session._acquire(self.OWNER, HoldKind.APPLICATION, self._revoked)
            self._sound = sound
            if session.is_active:
                try:
                    self._play(sound)
                except BaseException:
                    self._stop()
                    raise

    def _play(self, sound: _Sound) -> None:
        self._backend.start_playback(sound.source, lambda: self._finished(sound))
        sound.playing = True

    def _stop(self) -> None:
        """Stop the current sound, release its hold, put back the category."""
        sound, self._sound = self._sound, None
        if sound is None:
            return
        if sound.playing:
            sound.playing = False
            self._backend.stop_playback()
        if sound.hold is not None and sound.hold.live:
            self._session.release(sound.hold)
        if sound.saved is not None:
            self._session.set_configuration(sound.saved)

    def _finished(self, sound: _Sound) -> None:
        """The backend says a non-looping sound ran out (backend thread)."""
        with self._session._operation():
            if self._sound is sound:
                sound.playing = False
                self._stop()

    def _revoked(self, hold: SessionHold) -> None:
        """The session revoked our hold (last call ended, or forced deactivation)."""
        s = self._sound
        if s is not None and s.hold is hold:
            self._stop()

    def _yield_category(self) -> SessionConfiguration | None:
        """A call is being established: hand over the category we found, if we changed it."""
        s = self._sound
        if s is None or s.saved is None:
            return None
        saved, s.saved = s.saved, None
        return saved

    def _pause(self) -> None:
        """An interruption began: stop playing, keep the sound."""
        s = self._sound
        if s is not None and s.playing:
            s.playing = False
            self._backend.stop_playback()

    def _interruption_over(self, should_resume: bool) -> None:
        """The last interruption ended (the session is active again if anyone holds it)."""
        s = self._sound
        if s is None or s.playing:
            return
        if not should_resume:
            self._stop()
        elif self._session.is_active:
            self._play(s)

    def _drop_paused(self) -> None:
        """``should_resume=False``: drop a paused sound before the session reactivates."""
        s = self._sound
        if s is not None and not s.playing:
            self._stop()

    def _media_services_lost(self) -> SoundKind | None:
        """The audio system went away: stop; drop a file, keep a tone for restarting."""
        s = self._sound
        if s is None:
            return None
        self._pause()
        if s.kind is SoundKind.FILE:
            self._stop()
            return None
        return s.kind

    def _media_services_reset(self) -> None:
        """The audio system is back: restart a kept tone."""
        s = self._sound
        if s is not None and not s.playing and self._session.is_active:
            self._play(s)
