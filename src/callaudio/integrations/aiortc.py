"""callaudio as the audio device of an aiortc WebRTC call (the ``webrtc`` extra).

aiortc carries the call (ICE, DTLS-SRTP, Opus) but has no echo canceller, noise suppressor,
gain control or audio session. :class:`CallAudioBridge` gives it callaudio's:

- the remote peer's audio track plays through the client's engine as the far end (so it
  is the echo canceller's reference), on a real device or the simulated room;
- :attr:`CallAudioBridge.track`, a local ``MediaStreamTrack``, sends the engine's processed
  microphone;
- the peer connection's ``connectionState`` drives a :class:`~callaudio.client.VoiceClient`
  call, so the session rules apply: ``connecting`` -> PROGRESSING (outgoing) or ANSWERED
  (incoming), ``connected`` -> ESTABLISHED (the session activated in PLAY_AND_RECORD +
  VOICE_CHAT, the duplex stream started), ``closed`` -> ENDED (HUNG_UP once established,
  CANCELED before), ``failed`` -> ENDED (ERROR) and the connection closed. A call that ends
  on callaudio's side (hang-up, an interruption past the 30-second grace period, a lost
  device) closes the peer connection, which the remote peer sees as ``closed``.

Frames. Opus in aiortc runs at 48 kHz with 20 ms packets (960 samples, stereo s16 out of
the decoder). The chain runs 10 ms mono frames at 16, 32 or 48 kHz. Incoming frames are
mixed to mono and resampled (libswresample through PyAV, streaming) to the engine's rate
and queued with ``write_far``: the engine's far ring is the jitter buffer, started behind
a ``far_prime_ms`` cushion of silence (again after it ran dry), and kept short (a packet is
dropped above ``max_far_queue_ms``, or when a packet more than the cushion stayed queued
for a second). Outgoing, the processed microphone from ``read_capture`` is resampled to
48 kHz, re-framed through a FIFO into 960-sample frames and sent as s16 stereo with
``pts`` counting samples and ``time_base`` 1/48000, paced on the monotonic clock as
aiortc's own ``AudioStreamTrack`` does. The track never stalls: while the call is not
established, is interrupted or its stream is down, it sends silence with continuous
timestamps.

Clocks. On a caller-driven device (the simulated room built with ``realtime=False``) the
outgoing track drives it: one engine frame per 10 ms of audio sent, so the room runs on the
track's real-time pacing and the capture is read exactly as it is produced. On a
self-paced device (a sound card, a real-time room) the track reads what the device has
produced; a short FIFO pads an underrun with silence and drops what exceeds
``max_buffer_ms`` (both counted in :class:`BridgeStats`).

Threads. Everything runs on the asyncio loop the bridge was created on, except session
observers, which may be called on the session's event thread: the bridge moves their work
onto the loop with ``call_soon_threadsafe``. With a caller-driven device the frames run on
the loop's thread, so whatever stops the call's stream should run there too: give the
client ``InterruptionPolicy(clock=LoopClock())`` (the grace timer then fires on the loop)
and begin and end interruptions on the loop (``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import CallAudioError, ConfigError, LiveObject, install_hint

try:
    import av
    from aiortc import MediaStreamTrack, RTCPeerConnection
    from aiortc.mediastreams import MediaStreamError
except ImportError as exc:  # the optional extra is not installed
    raise ModuleNotFoundError(
        f"callaudio.integrations.aiortc needs aiortc and PyAV ({exc}): " + install_hint("webrtc"),
        name=exc.name,
    ) from exc

from ..audio.service import EngineBackend
from ..call import Call, CallDirection, CallState, EndCause
from ..client import VoiceClient
from ..events import check_timeout
from .loop_clock import LoopClock

__all__ = [
    "OPUS_FRAME_SAMPLES",
    "OPUS_SAMPLE_RATE",
    "REMOTE_RATES",
    "BridgeStats",
    "CallAudioBridge",
    "LoopClock",
    "MicrophoneTrack",
    "frame_to_mono",
    "mono_to_frame",
]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]

OPUS_SAMPLE_RATE = 48000
"""The rate aiortc's Opus codec runs at (Hz)."""
OPUS_FRAME_SAMPLES = 960
"""Samples per channel in one 20 ms Opus packet at 48 kHz."""
REMOTE_RATES = (8000, 192000)
"""The remote frame rates played (Hz, inclusive; as ``callaudio process`` reads): a frame
at another rate (a custom track's 1 Hz would resample to 48000 times as many samples on
the loop) is dropped."""
_TIME_BASE = fractions.Fraction(1, OPUS_SAMPLE_RATE)
_SCALE = {"s16": 32768.0, "s16p": 32768.0, "s32": 2147483648.0, "s32p": 2147483648.0}


def frame_to_mono(frame: av.AudioFrame) -> F32:
    """The samples of an audio frame as float32 mono, full scale +-1 (channels averaged).

    Accepts the packed and planar forms of s16, s32, flt and dbl.
    """
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    name = frame.format.name
    if frame.format.is_planar:
        planes = data.reshape(channels, -1)
    else:
        planes = data.reshape(-1, channels).T
    mono = planes.astype(np.float64).mean(axis=0)
    scale = _SCALE.get(name)
    if scale is not None:
        mono /= scale
    elif name not in ("flt", "fltp", "dbl", "dblp"):
        raise ConfigError("frame", f"unsupported sample format {name!r}")
    out: F32 = np.asarray(mono, dtype=np.float32)
    return out


def mono_to_frame(samples: npt.ArrayLike, pts: int) -> av.AudioFrame:
    """A 48 kHz s16 stereo frame (what aiortc's Opus encoder takes) from float mono samples.

    ``pts`` counts samples; ``time_base`` is 1/48000. Beyond full scale clips; NaN is
    silence.
    """
    x = np.nan_to_num(np.asarray(samples, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(np.repeat(pcm, 2)[None, :], format="s16", layout="stereo")
    frame.sample_rate = OPUS_SAMPLE_RATE
    frame.pts = int(pts)
    frame.time_base = _TIME_BASE
    return frame


class _Resampler:
    """Streaming mono float32 rate conversion (libswresample); identity at equal rates."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.rate_in = rate_in
        self.rate_out = rate_out
        self._swr = (
            None
            if rate_in == rate_out
            else av.AudioResampler(format="flt", layout="mono", rate=rate_out)
        )

    def __call__(self, x: F32) -> F32:
        if self._swr is None or x.size == 0:
            return x
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(x, dtype=np.float32)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = self.rate_in
        out = [f.to_ndarray().reshape(-1) for f in self._swr.resample(frame)]
        if not out:
            return np.zeros(0, np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)


@dataclass(frozen=True)
class BridgeStats:
    """Counters of one bridge (a snapshot).

    Attributes
    ----------
    frames_sent : int
        20 ms frames the local track returned to aiortc.
    paused_frames : int
        Of those, silence sent because the call was not established, was interrupted or
        had no stream.
    capture_underruns : int
        Frames padded with silence because the device had not produced enough audio.
    capture_dropped_ms : float
        Processed audio dropped because the FIFO held more than ``max_buffer_ms``.
    out_buffer_ms : float
        Mean audio left in the outgoing FIFO after each frame sent (the re-framing delay).
    far_frames : int
        Frames received from the remote track.
    far_gaps : int
        Remote frames whose ``pts`` did not follow the previous frame's end.
    far_discarded_ms : float
        Remote audio dropped because the call had no running stream (before establishment,
        during an interruption).
    far_dropped_ms : float
        Remote audio dropped to keep the delay down: more than ``max_far_queue_ms`` was
        queued, or a whole packet more than the cushion stayed queued for a second.
    far_primes : int
        Times the far end started behind a ``far_prime_ms`` cushion of silence: once per
        stream (the call's start, each resume), again after the far-end ring ran dry.
    far_queue_ms : float
        Mean far-end audio queued in the engine when a remote frame arrived (the jitter
        buffer's delay).
    far_refused : int
        Remote frames dropped as unusable (logged): no samples, a rate outside
        ``REMOTE_RATES``, a sample format no decoder produces, or one the resampler failed
        on. They are not in ``far_frames``.
    """

    frames_sent: int
    paused_frames: int
    capture_underruns: int
    capture_dropped_ms: float
    out_buffer_ms: float
    far_frames: int
    far_gaps: int
    far_discarded_ms: float
    far_dropped_ms: float
    far_primes: int
    far_queue_ms: float
    far_refused: int = 0


class MicrophoneTrack(MediaStreamTrack):
    """The engine's processed microphone as an aiortc audio track (see the module docstring).

    Parameters
    ----------
    backend : EngineBackend
        The client's audio service.
    live : callable returning bool
        Whether to send the microphone now (else silence).
    max_buffer_ms : float
        On a self-paced device, the most audio the FIFO keeps; the excess is dropped.
    """

    kind = "audio"

    def __init__(
        self, backend: EngineBackend[Any], live: Callable[[], bool], *, max_buffer_ms: float = 60.0
    ) -> None:
        super().__init__()
        self._backend = backend
        self._live = live
        self._max_buffer = int(max_buffer_ms * OPUS_SAMPLE_RATE / 1000.0)
        self._fifo = np.zeros(0, np.float32)
        self._resampler: _Resampler | None = None
        self._start: float | None = None
        self._pts = -OPUS_FRAME_SAMPLES
        self.frames_sent = 0
        self.paused_frames = 0
        self.underruns = 0
        self.dropped = 0
        self._fifo_sum = 0

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms frame, at its time (pts continuous from 0, time_base 1/48000)."""
        if self.readyState != "live":
            raise MediaStreamError
        self._pts += OPUS_FRAME_SAMPLES
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            wait = self._start + self._pts / OPUS_SAMPLE_RATE - now
            if wait > 0:
                await asyncio.sleep(wait)
        samples = self._next_block()
        self.frames_sent += 1
        self._fifo_sum += self._fifo.size
        return mono_to_frame(samples, self._pts)

    @property
    def out_buffer_ms(self) -> float:
        """Mean FIFO depth after each frame sent, in ms."""
        if not self.frames_sent:
            return 0.0
        return 1000.0 * self._fifo_sum / self.frames_sent / OPUS_SAMPLE_RATE

    def _silence(self) -> F32:
        self._fifo = np.zeros(0, np.float32)
        self._resampler = None
        self.paused_frames += 1
        return np.zeros(OPUS_FRAME_SAMPLES, np.float32)

    def _next_block(self) -> F32:
        backend = self._backend
        engine = backend.engine
        if not self._live() or engine is None or backend.stream_kind != "duplex":
            return self._silence()
        device = backend.device
        run_frames = getattr(device, "run_frames", None)
        driven = device.capabilities.caller_driven and callable(run_frames)
        rate = engine.sample_rate
        if self._resampler is None or self._resampler.rate_in != rate:
            self._resampler = _Resampler(rate, OPUS_SAMPLE_RATE)
        parts = [self._fifo]
        have = self._fifo.size
        for _ in range(8):  # 20 ms is 2 engine frames; a resampler's start-up delay needs more
            if have >= OPUS_FRAME_SAMPLES:
                break
            if driven:
                assert run_frames is not None
                try:
                    run_frames(1)
                except CallAudioError:  # the stream stopped under us (an interruption)
                    break
            chunk = backend.read_capture()
            if chunk.size == 0:
                if driven:
                    continue
                break
            mono = chunk.mean(axis=1) if chunk.ndim == 2 else chunk
            converted = self._resampler(np.asarray(mono, dtype=np.float32))
            parts.append(converted)
            have += converted.size
        fifo = np.concatenate(parts) if len(parts) > 1 else self._fifo
        if fifo.size < OPUS_FRAME_SAMPLES:
            self.underruns += 1
            fifo = np.concatenate([fifo, np.zeros(OPUS_FRAME_SAMPLES - fifo.size, np.float32)])
        out, fifo = fifo[:OPUS_FRAME_SAMPLES], fifo[OPUS_FRAME_SAMPLES:]
        if not driven and fifo.size > self._max_buffer:
            self.dropped += fifo.size - self._max_buffer
            fifo = fifo[fifo.size - self._max_buffer :]
        self._fifo = fifo
        return out


class CallAudioBridge(LiveObject):
    """One WebRTC call of an aiortc ``RTCPeerConnection`` on a callaudio client.

    Create it inside a coroutine, before the offer/answer exchange (it adds its track to
    ``pc`` and listens for the remote track)::

        pc = RTCPeerConnection()
        bridge = CallAudioBridge(client, pc)            # an outgoing call
        await pc.setLocalDescription(await pc.createOffer())
        ...                                             # signalling
        await bridge.wait_closed()

    Parameters
    ----------
    client : VoiceClient
        Its backend must be an :class:`~callaudio.audio.service.EngineBackend`
        (``make_backend("simulated", realtime=False)`` for the simulated room driven by the
        call, ``make_backend("sounddevice", ...)`` for a sound card).
    pc : RTCPeerConnection
        A new peer connection (state ``new``).
    direction : CallDirection
        OUTGOING (this side offers: connecting -> PROGRESSING) or INCOMING (this side
        answers: connecting -> ANSWERED).
    remote : str, optional
        Who is on the other end, for the :class:`~callaudio.call.Call`.
    max_buffer_ms : float
        The outgoing FIFO's limit on a self-paced device.
    max_far_queue_ms : float
        The most far-end audio kept queued in the engine: a remote frame arriving when more
        is queued is dropped (counted in ``far_dropped_ms``), so a burst from the network
        (after a stall) does not leave the call with that much more delay for good.
    far_prime_ms : float
        Silence queued ahead of the far end when its stream starts and after the ring ran
        dry (a packet came late): the jitter cushion, at the price of that much delay.

    Raises
    ------
    ConfigError
        Not an engine backend, not a new ``RTCPeerConnection`` (or one that already sends
        an audio track: another bridge's), or no running event loop.
    """

    def __init__(
        self,
        client: VoiceClient,
        pc: RTCPeerConnection,
        *,
        direction: CallDirection = CallDirection.OUTGOING,
        remote: str | None = None,
        max_buffer_ms: float = 60.0,
        max_far_queue_ms: float = 100.0,
        far_prime_ms: float = 20.0,
    ) -> None:
        if not isinstance(client, VoiceClient):  # (None: AttributeError on .backend)
            raise ConfigError("client", f"must be a VoiceClient, got {client!r:.80}")
        backend = client.backend
        if not isinstance(backend, EngineBackend):
            raise ConfigError(
                "client",
                f"the bridge plays through an engine: the client's backend must be an "
                f"EngineBackend (make_backend(...)), got {type(backend).__name__}",
            )
        if not isinstance(pc, RTCPeerConnection) or pc.connectionState != "new":
            raise ConfigError("pc", f"must be a new RTCPeerConnection, got {pc!r}")
        if any(s.track is not None and s.track.kind == "audio" for s in pc.getSenders()):
            # a second bridge (or the application's own audio track): two tracks would
            # send, and two bridges would split the remote track's frames between them
            raise ConfigError("pc", "already sends an audio track (one bridge per connection)")
        if not isinstance(direction, CallDirection):
            raise ConfigError("direction", f"must be a CallDirection, got {direction!r}")
        for name, value, low in (
            ("max_buffer_ms", max_buffer_ms, 20.0),
            ("max_far_queue_ms", max_far_queue_ms, 20.0),
            ("far_prime_ms", far_prime_ms, 0.0),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not low <= value <= 1000.0
            ):
                raise ConfigError(name, f"must be {low:g}-1000 ms, got {value!r}")
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigError(
                "loop", "create the bridge inside a coroutine (it runs on the asyncio loop)"
            ) from None
        self.client = client
        self.pc = pc
        self.backend = backend
        self.direction = direction
        if direction is CallDirection.OUTGOING:
            self.call: Call = client.start_call(remote)
        else:
            self.call = client.incoming_call(remote)
        self.track = MicrophoneTrack(backend, self._sending, max_buffer_ms=max_buffer_ms)
        """The local track: add nothing else for audio; the bridge added it to ``pc``."""
        self.connection_states: list[str] = []
        """Every ``connectionState`` the peer connection went through, in order."""
        self._far_task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._done = asyncio.Event()
        self._far_frames = 0
        self._far_refused = 0
        self._far_gaps = 0
        self._far_discarded = 0.0
        self._far_dropped = 0.0
        self._far_queue_sum = 0.0
        self._max_far_queue_ms = float(max_far_queue_ms)
        self._far_prime_ms = float(far_prime_ms)
        self._far_primes = 0
        self._primed: object = None  # the engine whose far ring got the cushion
        self._underruns = 0
        pc.addTrack(self.track)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_connection_state)
        client.add_observer(self)

    def __repr__(self) -> str:
        return f"<CallAudioBridge {self.call!r} connection={self.pc.connectionState}>"

    # -- what the application calls -------------------------------------------------------

    async def hangup(self) -> None:
        """End the call (HUNG_UP) and close the peer connection; returns when closed.

        Cancelling the wait (a timeout around it) does not cancel the closing."""
        if self.call.is_live:
            self.call.hangup()
        self._close_soon()
        assert self._closing is not None
        await asyncio.shield(self._closing)

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the call has ended and the peer connection is closed.

        Returns False when ``timeout`` seconds passed first. ConfigError (before any
        wait) unless ``timeout`` is None or seconds >= 0 (NaN waited for ever, 10**400
        raised OverflowError).
        """
        timeout = check_timeout(timeout)
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    @property
    def closed(self) -> bool:
        """Whether the call ended and the peer connection is closed."""
        return self._done.is_set()

    def stats(self) -> BridgeStats:
        """The bridge's counters now."""
        track = self.track
        frames = max(self._far_frames, 1)
        return BridgeStats(
            frames_sent=track.frames_sent,
            paused_frames=track.paused_frames,
            capture_underruns=track.underruns,
            capture_dropped_ms=1000.0 * track.dropped / OPUS_SAMPLE_RATE,
            out_buffer_ms=track.out_buffer_ms,
            far_frames=self._far_frames,
            far_gaps=self._far_gaps,
            far_discarded_ms=self._far_discarded,
            far_dropped_ms=self._far_dropped,
            far_primes=self._far_primes,
            far_queue_ms=self._far_queue_sum / frames,
            far_refused=self._far_refused,
        )

    # -- session observer (any thread) ----------------------------------------------------

    def on_call_ended(self, call: Call, cause: EndCause) -> None:
        """The call ended on callaudio's side too: close the peer connection."""
        if call is not self.call:
            return
        try:
            self._loop.call_soon_threadsafe(self._close_soon)
        except RuntimeError:  # the loop is closed: nothing left to close on it
            pass

    # -- on the loop -----------------------------------------------------------------------

    def _sending(self) -> bool:
        call = self.call
        return call.state is CallState.ESTABLISHED and not call.is_interrupted

    def _on_track(self, track: MediaStreamTrack) -> None:
        task = self._far_task
        if track.kind == "audio" and (task is None or task.done()):  # one remote track at a time
            self._far_task = self._loop.create_task(self._play_far(track))

    async def _play_far(self, track: MediaStreamTrack) -> None:
        resampler: _Resampler | None = None
        next_pts: int | None = None
        backend = self.backend
        lowest, seen = float("inf"), 0  # the queue's minimum over the last second
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue
            try:
                low, high = REMOTE_RATES
                if frame.samples <= 0 or not low <= frame.sample_rate <= high:
                    raise ValueError(f"{frame.samples} samples at {frame.sample_rate} Hz")
                samples = frame_to_mono(frame)
            except (CallAudioError, ValueError, TypeError) as exc:
                # a sample format no decoder of aiortc produces, an empty frame, an odd
                # rate: this frame is dropped, the remote party is still played after it
                self._refuse_far(exc)
                continue
            self._far_frames += 1
            if frame.pts is not None:
                if next_pts is not None and frame.pts != next_pts:
                    self._far_gaps += 1
                next_pts = frame.pts + frame.samples
            engine = backend.engine
            if engine is None or backend.stream_kind != "duplex" or not self._sending():
                self._far_discarded += 1000.0 * frame.samples / frame.sample_rate
                resampler = None
                continue
            if (
                resampler is None
                or resampler.rate_out != engine.sample_rate
                or resampler.rate_in != frame.sample_rate
            ):
                resampler = _Resampler(frame.sample_rate, engine.sample_rate)
            queued = engine.far_queued_ms()
            self._far_queue_sum += queued
            frame_ms = 1000.0 * frame.samples / frame.sample_rate
            lowest, seen = min(lowest, queued), seen + 1
            # Too much queued, or a whole packet more than the cushion all second long (a
            # burst after a stall): drop this packet, so the delay comes back down.
            settled = seen >= 50 and lowest > self._far_prime_ms + frame_ms
            if seen >= 50:
                lowest, seen = float("inf"), 0
            if queued > self._max_far_queue_ms or settled:
                self._far_dropped += frame_ms
                continue
            try:
                converted = resampler(samples)
            except (MemoryError, ValueError, av.FFmpegError) as exc:
                self._refuse_far(exc)
                resampler = None  # a fresh one for the next frame
                continue
            ran_dry = engine.stats.underruns
            if engine is not self._primed or (ran_dry > self._underruns and queued < 10.0):
                # A new stream, or the ring ran dry: start again behind a cushion of silence
                # so that the next late packet finds audio still queued.
                self._primed, self._underruns = engine, ran_dry
                self._far_primes += 1
                cushion = int(self._far_prime_ms * engine.sample_rate / 1000.0)
                backend.write_far(np.zeros(cushion, np.float32))
            backend.write_far(converted)

    def _refuse_far(self, exc: BaseException) -> None:
        self._far_refused += 1
        log.warning("call %s: remote frame dropped: %s", self.call.call_id, exc)

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        self.connection_states.append(state)
        call = self.call
        try:
            if state == "connecting":
                if call.can("progress"):
                    call.progress()
                elif self.direction is CallDirection.INCOMING and call.can("answer"):
                    call.answer()
            elif state == "connected":
                if call.can("answer"):
                    call.answer()
                if call.can("establish"):
                    call.establish()
            elif state == "closed" and call.is_live:
                established = call.state is CallState.ESTABLISHED
                call.end(EndCause.HUNG_UP if established else EndCause.CANCELED)
            elif state == "failed" and call.is_live:
                call.end(EndCause.ERROR, ConnectionError("the WebRTC connection failed"))
        except CallAudioError as exc:  # e.g. the device refused the call's stream
            log.warning("call %s: %s", call.call_id, exc)
            if call.is_live:
                call.end(EndCause.ERROR, exc)
        if state in ("failed", "closed") or not call.is_live:
            self._close_soon()

    def _close_soon(self) -> None:
        closing = self._closing  # one cancelled before it ran never closed: start again
        if closing is None or (closing.cancelled() and not self._done.is_set()):
            self._closing = self._loop.create_task(self._shutdown())

    async def _shutdown(self) -> None:
        try:
            self.track.stop()
            await self.pc.close()
            task = self._far_task
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        finally:
            self.client.remove_observer(self)
            self._done.set()
