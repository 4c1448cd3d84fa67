"""The VoiceProcessor: a validated Python face over the compiled per-channel chains.

Per 10 ms frame, call :meth:`VoiceProcessor.process_render` with what the loudspeaker plays
and then :meth:`VoiceProcessor.process_capture` with what the microphone recorded (WebRTC's
``ProcessReverseStream`` / ``ProcessStream`` pair). The usual frame (native float32 or
int16, C-contiguous) is checked and run in one compiled call (``pipeline.FrameEntry``:
no Python per frame beyond the method call); anything else is validated here, then copied
and run or refused. The compiled chain (``callaudio._dsp.pipeline.Chain``) runs without
the GIL.

Frames
------
* ``channels == 1``: shape ``(frame_size,)`` or ``(frame_size, 1)``.
* ``channels > 1``: shape ``(frame_size, channels)``, interleaved as sounddevice delivers.
* dtype float32 (full scale +-1.0) or int16; the output dtype follows the input. The
  per-frame calls convert nothing (float64 frames are refused with a FrameError that says
  so): a real-time path should not allocate a converted copy per frame. The offline
  :func:`callaudio.process_arrays` converts whole signals of any float or integer dtype.
* Non-contiguous input is accepted (copied into an internal buffer); ``out=`` must be
  C-contiguous, of the input's shape and dtype, and writable.
* Far-end frames may have any channel count; they are downmixed to one reference.
* NaN and +-Inf samples are replaced by silence at the input (counted in
  ``stats.nonfinite_frames``); the output is always finite and the state recovers.

Threads: see :class:`VoiceProcessor` (render and capture on two threads at once; the
other calls from any thread).
"""

from __future__ import annotations

import math
import operator
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from ._dsp.pipeline import Chain, ChainClaimed, ChainLockHeld, FrameEntry, PathState
from .config import ProcessingConfig, check_sample_rate, frame_size
from .errors import ConfigError, FrameError, InvalidStateError, LiveObject

__all__ = ["ProcessingStats", "VoiceProcessor"]

_F32 = np.dtype(np.float32)
_I16 = np.dtype(np.int16)
_DTYPES = (_F32, _I16)
_STAGES = ("high_pass", "echo_canceller", "noise_suppressor", "gain_control")

_MAX_CHANNELS = 32


def _db(power: float) -> float:
    return 10.0 * math.log10(max(power, 1e-20))


def _known(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class ProcessingStats:
    """What the chain measured, for channel 0 (WebRTC's ``AudioProcessingStats``).

    A measured field is ``None`` until it is known (its stage is off, or has not seen
    enough signal yet); the frame counters and ``latency_ms`` always have a value.

    Attributes
    ----------
    output_level_dbfs : float or None
        Level of the last output frame: 10*log10(mean(y**2)) + 3.01 dBFS (a full-scale
        sine reads 0 dBFS).
    speech_level_dbfs : float or None
        The gain control's estimate of the input's active speech level (same scale).
    gain_db : float or None
        Gain the gain control applied to the last frame, in dB (limiter included).
    speech : bool or None
        The gain control's near-end speech decision for the last frame.
    erl_db, erle_db, delay_ms, echo_converged : float, float, float, bool or None
        Echo canceller metrics (echo return loss, echo return loss enhancement, bulk
        delay estimate, convergence flag); None while the canceller is off.
    speech_probability : float or None
        The noise suppressor's probability that the last frame holds speech.
    capture_frames, render_frames, nonfinite_frames : int
        Frames processed, far-end frames received, frames that held NaN/Inf samples.
    latency_ms : float
        Algorithmic latency the capture chain adds, in ms.
    """

    output_level_dbfs: float | None
    speech_level_dbfs: float | None
    gain_db: float | None
    speech: bool | None
    erl_db: float | None
    erle_db: float | None
    delay_ms: float | None
    echo_converged: bool | None
    speech_probability: float | None
    capture_frames: int
    render_frames: int
    nonfinite_frames: int
    latency_ms: float


class VoiceProcessor(LiveObject):
    """Voice processing for one call: high-pass, echo canceller, noise suppressor, gain control.

    Parameters
    ----------
    sample_rate : int
        8000, 16000, 32000, 44100 or 48000 Hz; a 10 ms frame (441 samples at 44.1 kHz).
    channels : int
        Capture channels (1..32), each with its own chain.
    link_channels : bool
        With several channels and the echo canceller on (default): one residual-echo, one
        noise-suppression and one gain-control gain for all channels, estimated once on
        their combined powers (mean per bin; the loudest channel's level for the gain
        control); each channel keeps its own high-pass, echo filter (echo path) and
        synthesis, so level and phase differences (a panned talker's pan) are kept.
        False: each channel on its own, exactly as a mono processor would. A bool.
    config : ProcessingConfig, optional
        Stage configuration; the default enables every stage this build provides.

    Examples
    --------
    >>> import numpy as np, callaudio as ca
    >>> vp = ca.VoiceProcessor(sample_rate=16000)
    >>> vp.frame_size
    160
    >>> out = vp.process_capture(np.zeros(160, dtype=np.float32))
    >>> out.shape, out.dtype.name
    ((160,), 'float32')

    Rates
    -----
    8, 16, 32 and 48 kHz run natively (8 kHz: 80-sample frames, 160-point transforms).
    44.1 kHz is resampled to 48 kHz inside the chain rather than run natively: a 441-sample
    frame splits into no whole number of the noise suppressor's hops, and its transforms
    would need radix 7. Each 441-sample frame goes through a polyphase Kaiser-windowed
    sinc resampler (32 taps per output, passband to 18.7 kHz, history kept in state, no
    allocation per frame) to 480 samples, through the 48 kHz stages, and back; the far
    frames likewise. :attr:`latency_samples` includes the resamplers' delay (31 samples,
    0.7 ms, beyond the stages' own), which the chain makes a whole number of samples. With
    every stage off nothing is resampled (the output is the input, latency 0).

    Threads
    -------
    As with WebRTC's ``AudioProcessing``, the render path (:meth:`process_render`, usually
    on the playback thread) and the capture path (:meth:`process_capture`, usually on the
    recording thread) may be called from two different threads at the same time: each path
    has its own lock in the compiled chain, and the far frames reach the echo canceller
    through a lock-free single-producer/single-consumer queue, so no state is torn between
    them. Calls on the
    *same* path from several threads at once are serialised, one frame after the other
    (each channel's chain has its own locks, so with several channels two threads' frames
    are serialised channel by channel), as WebRTC serialises them: nothing is refused, so
    no error reaches an audio callback, and nothing can crash, but interleaving one
    stream's frames from two threads gives a meaningless signal. The locks are taken
    without the GIL, so waiting for one never blocks other Python threads, and always
    capture path first, then render path, so no call can deadlock another. :meth:`reset`,
    :meth:`reset_echo_path` and :attr:`stats` may be called from any thread: they wait for
    the capture frame in flight, and reset in place, so no state is ever freed or replaced
    under a running frame. :meth:`apply_config` and :meth:`close` may be called from any
    thread too: a frame already in flight finishes on the chain it started with.

    While an :class:`~callaudio.AudioEngine` runs the processor (it claims it with :meth:`claim`
    from ``start()`` to ``stop()``: its callback runs the chains without their locks),
    the frame and reset calls and :meth:`close` raise InvalidStateError and change
    nothing; reset through ``engine.reset_processor()`` then. :meth:`apply_config` and
    :attr:`stats` still work.
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        channels: int = 1,
        config: ProcessingConfig | None = None,
        *,
        link_channels: bool = True,
    ) -> None:
        self._sample_rate = check_sample_rate(sample_rate)
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
            raise ConfigError("channels", f"must be an int, got {channels!r}")
        try:  # a plain int: no lying subclass (nor one whose __int__ raises)
            plain = operator.index(channels)
        except Exception:
            raise ConfigError("channels", f"must be an int, got {channels!r}") from None
        if not 1 <= (channels := int.__index__(plain)) <= _MAX_CHANNELS:
            raise ConfigError("channels", f"must be within [1, {_MAX_CHANNELS}], got {channels}")
        config = ProcessingConfig() if config is None else config
        if not isinstance(config, ProcessingConfig):
            raise ConfigError("config", f"must be a ProcessingConfig, got {config!r}")
        self._config = config
        self._channels = channels = int(channels)
        if not isinstance(link_channels, (bool, np.bool_)):
            raise ConfigError("link_channels", f"must be a bool, got {link_channels!r}")
        self._link_channels = bool(link_channels)
        self._n = frame_size(self._sample_rate)
        self._claim_lock = threading.Lock()  # also the chains' claim key (Chain.claim)
        self._chains: list[Chain] = self._build_chains(config, [], config)
        # the per-frame calls: one compiled check-and-run over the chains (see process_capture)
        self._entry = FrameEntry(self._chains, channels)
        self._latency = int(self._chains[0].latency_samples)
        self._owner: object = None  # who claimed the processor (a running engine)
        self._generation = 0  # counts the apply_config calls that rebuilt the chains
        shape = (self._n,) if channels == 1 else (self._n, channels)
        self._fast_shapes = (shape, (self._n, 1)) if channels == 1 else (shape,)

    def _build_chains(
        self, config: ProcessingConfig, old: list[Chain], old_config: ProcessingConfig
    ) -> list[Chain]:
        """One chain per channel; a stage of ``old`` whose config did not change is adopted."""
        chains = []
        for c in range(self._channels):
            kw: dict[str, Any] = {}
            for name in _STAGES:
                stage = getattr(config, name)
                if not stage.enabled:
                    continue
                kept = getattr(old[c], name) if old else None
                same = kept is not None and getattr(old_config, name) == stage
                kw[name] = kept if same else stage.kwargs()
            state = old[c].state if old else PathState()
            chains.append(Chain(self._sample_rate, state=state, **kw))
        if len(chains) > 1 and self._link_channels:
            chains[0].link(chains[1:], self._claim_lock)  # common gains (False: independent)
        return chains

    # -- properties ------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        """Sample rate in Hz."""
        return self._sample_rate

    @property
    def channels(self) -> int:
        """Number of capture channels."""
        return self._channels

    @property
    def frame_size(self) -> int:
        """Samples per channel in one 10 ms frame."""
        return self._n

    @property
    def config(self) -> ProcessingConfig:
        """The (frozen) configuration this processor was built with."""
        return self._config

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency the capture chain adds, in samples (also after close)."""
        return self._latency

    @property
    def stats(self) -> ProcessingStats:
        """Measurements of channel 0; see :class:`ProcessingStats`."""
        chains = self._chains
        if not chains:
            raise self._closed()
        # read under the chain's capture lock: one consistent frame, never one in flight
        return chains[0].locked(self._stats_of)

    def _stats_of(self, ch: Chain) -> ProcessingStats:
        agc, aec, ns = ch.gain_control, ch.echo_canceller, ch.noise_suppressor
        started = ch.capture_frames > 0
        level = None if ch.output_power < 0 else _db(ch.output_power) + 3.0103
        return ProcessingStats(
            output_level_dbfs=level,
            speech_level_dbfs=None if agc is None else _known(agc.speech_level_dbfs),
            gain_db=None if agc is None or not started else float(agc.gain_db),
            speech=None if agc is None or not started else bool(agc.speech),
            erl_db=None if aec is None else _known(aec.erl_db),
            erle_db=None if aec is None else _known(aec.erle_db),
            delay_ms=None if aec is None else _known(aec.delay_ms),
            echo_converged=None if aec is None or not started else bool(aec.converged),
            speech_probability=None if ns is None or not started else float(ns.speech_prob),
            capture_frames=int(ch.capture_frames),
            render_frames=int(ch.render_frames),
            nonfinite_frames=int(ch.nonfinite_frames),
            latency_ms=1000.0 * self._latency / self._sample_rate,
        )

    # -- validation ------------------------------------------------------------------

    def _check_open(self) -> None:
        if not self._chains:
            raise self._closed()

    def _check_frame(self, x: object, what: str, channels: int | None) -> int:
        """Raise FrameError unless ``x`` is one frame; return its channel count."""
        if not isinstance(x, np.ndarray):
            raise FrameError(f"{what} must be a numpy array, got {type(x).__name__}")
        dt = x.dtype
        if dt is not _F32 and dt is not _I16 and dt not in _DTYPES:
            hint = (
                f" (convert with {what}.astype(np.float32); process_arrays converts whole signals)"
                if dt.kind == "f"
                else ""
            )
            raise FrameError(f"{what} must be float32 or int16, got dtype {dt}{hint}")
        shape = x.shape
        if len(shape) == 1:
            got_ch = 1
        elif len(shape) == 2:
            got_ch = shape[1]
        else:
            raise FrameError(f"{what} must be 1-D or 2-D (frames, channels), got {x.ndim}-D")
        if shape[0] != self._n:
            raise FrameError(
                f"{what} must hold one 10 ms frame of {self._n} samples at "
                f"{self._sample_rate} Hz, got shape {shape}"
            )
        if channels is not None and got_ch != channels:
            raise FrameError(f"{what} must have {channels} channel(s), got shape {shape}")
        if got_ch < 1:
            raise FrameError(f"{what} has no channels: shape {shape}")
        return int(got_ch)

    def _closed(self) -> InvalidStateError:
        return InvalidStateError("process", "CLOSED", "the VoiceProcessor was closed")

    def _in_use(self, event: str) -> InvalidStateError:
        owner = self._owner
        who = "a running stream" if owner is None else f"a running {type(owner).__name__}"
        return InvalidStateError(
            event,
            "IN USE",
            f"{who} runs this VoiceProcessor's chains on its audio thread; stop it first, "
            "or reset through the engine (reset_processor)",
        )

    # -- ownership -------------------------------------------------------------------

    def claim(self, owner: object) -> None:
        """Reserve the processor for ``owner`` (``AudioEngine`` around its stream), which
        runs its chains (:meth:`chains`) without their locks. Waits for the frames in
        flight; until :meth:`release` the frame and reset calls and :meth:`close` raise
        InvalidStateError. Raises InvalidStateError (nothing changed) if closed or
        claimed by another owner."""
        if owner is None:
            raise ConfigError("owner", "must be the object that runs the chains, got None")
        with self._claim_lock:
            chains = self._chains
            if not chains:
                raise InvalidStateError("claim", "CLOSED", "the VoiceProcessor was closed")
            if self._owner is not None:
                if self._owner is owner:
                    return
                raise self._in_use("claim")
            claimed: list[Chain] = []
            try:
                for ch in chains:
                    ch.claim(self._claim_lock)
                    claimed.append(ch)
            except ChainLockHeld:  # inside Chain.locked (an InvalidStateError): nothing claimed
                for ch in claimed:
                    ch.release(self._claim_lock)
                raise
            self._owner = owner  # only once every chain is claimed: else nothing changed

    def release(self, owner: object) -> None:
        """End ``owner``'s :meth:`claim` (a no-op for anyone else)."""
        with self._claim_lock:
            if self._owner is not owner or owner is None:
                return
            for ch in self._chains:
                ch.release(self._claim_lock)
            self._owner = None

    # -- processing ------------------------------------------------------------------

    def process_render(self, far: npt.NDArray[Any]) -> None:
        """Feed one 10 ms frame of what the loudspeaker plays (the echo reference).

        Any channel count is accepted and downmixed. Raises FrameError for a bad frame;
        the processor is unchanged then.
        """
        try:  # a C-contiguous native frame runs in one compiled call; None: not taken
            if self._entry.render(far) is not None:
                return
        except ChainClaimed:
            raise self._in_use("process") from None
        self._render_checked(far)

    def _render_checked(self, far: npt.NDArray[Any]) -> None:
        """process_render for what the compiled entry did not take: check, copy, run."""
        chans = self._check_frame(far, "far", None)
        x: npt.NDArray[Any] = far
        chains = self._chains
        if not chains:
            raise self._closed()
        if self._owner is not None:
            raise self._in_use("process")
        try:  # the first chain checks the frame; the others take its analysed far frame
            try:
                chains[0].render(x, chans)
            except ValueError:  # not C-contiguous or misaligned: a fresh array is both
                chains[0].render(np.array(x, order="C"), chans)
            for ch in chains[1:]:
                ch.render_shared(chains[0])
        except ChainClaimed:
            raise self._in_use("process") from None

    def process_render_fast(self, far: npt.NDArray[Any]) -> None:
        """:meth:`process_render` for a frame already known to be right: the fast path of
        an audio callback that reuses one validated buffer.

        ``far`` must be a C-contiguous, aligned float32 or int16 array of ``frame_size``
        samples per channel (shape ``(frame_size,)`` or ``(frame_size, channels)``); the
        compiled chain still refuses anything it could not read safely (FrameError), but
        the descriptive checks of :meth:`process_render` are skipped.
        """
        try:
            if self._entry.render(far) is not None:
                return
        except ChainClaimed:
            raise self._in_use("process") from None
        if not isinstance(far, np.ndarray) or far.ndim not in (1, 2):
            raise FrameError(f"far must be a 1-D or 2-D ndarray, got {far!r:.60}")
        chans = 1 if far.ndim == 1 else far.shape[1]
        chains = self._chains
        if not chains:
            raise self._closed()
        try:
            chains[0].render(far, chans)
            for ch in chains[1:]:
                ch.render_shared(chains[0])
        except ChainClaimed:
            raise self._in_use("process") from None
        except (TypeError, ValueError) as e:
            raise FrameError(f"far: {e}") from None

    def process_capture(
        self, mic: npt.NDArray[Any], out: npt.NDArray[Any] | None = None
    ) -> npt.NDArray[Any]:
        """Process one 10 ms microphone frame; return the processed frame.

        Parameters
        ----------
        mic : ndarray
            float32 or int16, shape ``(frame_size,)`` or ``(frame_size, channels)``.
        out : ndarray, optional
            Where to write the result (may be ``mic`` itself); same shape and dtype as
            ``mic``, C-contiguous and writable. Reusing it makes the call allocation-free.

        Returns
        -------
        ndarray
            ``out`` if given, else a new array; dtype and shape follow ``mic``.

        Raises
        ------
        FrameError
            Wrong type, dtype, shape, channel count or ``out``; nothing is processed.
        """
        try:  # the usual frame runs in one compiled call that checks it; None: not taken
            y = self._entry.capture(mic, out)
        except ChainClaimed:
            raise self._in_use("process") from None
        return self._capture_checked(mic, out) if y is None else y

    def _capture_checked(
        self, mic: npt.NDArray[Any], out: npt.NDArray[Any] | None
    ) -> npt.NDArray[Any]:
        """process_capture for what the compiled entry did not take (a wrong argument, a
        frame that needs a copy, a closed processor): check in full, raise or run."""
        self._check_frame(mic, "mic", self._channels)
        x: npt.NDArray[Any] = mic
        if out is None:
            out = np.empty_like(x, order="C")
        elif not isinstance(out, np.ndarray):
            raise FrameError(f"out must be a numpy array, got {type(out).__name__}")
        elif out.shape != x.shape or (out.dtype is not x.dtype and out.dtype != x.dtype):
            raise FrameError(
                f"out must match mic's shape {x.shape} and dtype {x.dtype}, "
                f"got {out.shape} {out.dtype}"
            )
        chains = self._chains
        if not chains:
            raise self._closed()
        if self._owner is not None:
            raise self._in_use("process")
        try:
            if len(chains) == 1:
                try:  # the compiled chain checks contiguity, alignment and writability in C
                    chains[0].capture(x, out, 0, 1)
                except ValueError:
                    self._capture_slow(chains, x, out)
            else:
                self._capture_slow(chains, x, out)
        except ChainClaimed:
            raise self._in_use("process") from None
        return out

    def _capture_slow(
        self, chains: list[Chain], x: npt.NDArray[Any], out: npt.NDArray[Any]
    ) -> None:
        """Several channels, or a mic/out the compiled chain could not take as they are."""
        oflags = out.flags
        if not (oflags.c_contiguous and oflags.writeable and oflags.aligned):
            raise FrameError("out must be C-contiguous, aligned and writable")
        # Each channel reads its column of mic and writes its column of out: an out that
        # overlaps mic elsewhere would overwrite columns not read yet, so copy mic first.
        flags = x.flags
        if not (flags.c_contiguous and flags.aligned) or (
            len(chains) > 1 and out is not x and np.may_share_memory(out, x)
        ):
            x = np.array(x, order="C")  # a private aligned C-contiguous copy
        chans = len(chains)
        if chains[0].linked_channels == chans:
            chains[0].capture_linked(x, out)
            return
        for c, ch in enumerate(chains):
            ch.capture(x, out, c, chans)

    def process_capture_fast(
        self, mic: npt.NDArray[Any], out: npt.NDArray[Any]
    ) -> npt.NDArray[Any]:
        """:meth:`process_capture` for frames already known to be right: the fast path of
        an audio callback that reuses validated buffers.

        ``mic`` and ``out``: C-contiguous, aligned arrays of one dtype (float32 or int16)
        and of the frame's shape; ``out`` writable, either ``mic`` itself or not
        overlapping it. The compiled chain still refuses what it could not read or write
        safely (FrameError), but the descriptive checks of :meth:`process_capture` are
        skipped. Returns ``out``.
        """
        try:
            if out is not None and self._entry.capture(mic, out) is not None:
                return out
        except ChainClaimed:
            raise self._in_use("process") from None
        chains = self._chains
        if not chains:
            raise self._closed()
        try:
            if mic.shape not in self._fast_shapes or out.shape != mic.shape:
                raise ValueError(f"shapes {mic.shape} and {out.shape}, not {self._fast_shapes[0]}")
            if len(chains) == 1:
                chains[0].capture(mic, out, 0, 1)
            else:  # channel by channel: an out overlapping mic elsewhere would tear it
                if out is not mic and np.may_share_memory(out, mic):
                    raise ValueError("out overlaps mic without being mic")
                chans = len(chains)
                if chains[0].linked_channels == chans:
                    chains[0].capture_linked(mic, out)
                else:
                    for c, ch in enumerate(chains):
                        ch.capture(mic, out, c, chans)
        except ChainClaimed:
            raise self._in_use("process") from None
        except (TypeError, ValueError, AttributeError) as e:
            raise FrameError(f"mic/out: {e}") from None
        return out

    def _run_block(
        self,
        mic: npt.NDArray[np.float32],
        out: npt.NDArray[np.float32],
        far: npt.NDArray[np.float32] | None,
        far_channels: int,
    ) -> None:
        """Whole-frame float32 signals through every channel's chain, GIL released."""
        chains = self._chains
        if not chains:
            raise self._closed()
        if len(chains) > 1 and chains[0].linked_channels == len(chains):
            chains[0].process_block_linked(mic, out, far, far_channels)
            return
        for c, ch in enumerate(chains):
            ch.process_block(mic, out, far, c, self._channels, far_channels)

    def reset(self) -> None:
        """Forget all adaptive state (as after construction); counters are kept.

        Safe from any thread: waits for the capture frame in flight, resets in place.
        """
        chains = self._chains
        if not chains:
            raise self._closed()
        try:
            for ch in chains:
                ch.reset()
        except ChainClaimed:
            raise self._in_use("reset") from None

    def reset_echo_path(self) -> None:
        """Tell the echo canceller the echo path changed (route change, speaker toggled).

        The adaptive filter and the residual-echo suppressor restart; the delay estimate
        is kept as a prior, so cancellation is back within about a second. The noise
        suppressor and the gain control keep their state. Safe from any thread.
        """
        chains = self._chains
        if not chains:
            raise self._closed()
        try:
            for ch in chains:
                ch.reset_echo_path()
        except ChainClaimed:
            raise self._in_use("reset") from None

    def apply_config(self, config: ProcessingConfig) -> None:
        """Change the configuration while the processor runs (WebRTC's ``ApplyConfig``).

        A stage whose settings did not change keeps its state (a converged echo canceller
        stays converged); a stage whose settings changed, or that is switched on, starts
        fresh; frame counters carry over; an equal configuration changes nothing. The new
        stages are built before the switch, which then happens between two frames of each
        path. Safe from any thread. At 32, 44.1 and 48 kHz the band split and resamplers
        around the stages restart, which leaves a ~10 ms transient in the output.

        Raises
        ------
        ConfigError
            ``config`` is not a ProcessingConfig; nothing changed.
        """
        if not isinstance(config, ProcessingConfig):
            raise ConfigError("config", f"must be a ProcessingConfig, got {config!r}")
        old, old_config = self._chains, self._config
        if not old:
            raise self._closed()
        if config == old_config:  # nothing to rebuild: the chains run on untouched
            return
        # Built beside the running chains (it allocates). Each new chain shares its
        # predecessor's PathState: its locks, so a frame still running through the old
        # chain and one through the new never use an adopted stage at the same time, and
        # its counters, so every frame is counted once.
        chains = self._build_chains(config, old, old_config)
        with self._claim_lock:  # not after a close() that ran meanwhile
            if self._chains is not old:
                if not self._chains:
                    raise self._closed()
                chains = self._build_chains(config, self._chains, self._config)
            self._chains = chains  # one swap: each call sees the old or the new list
            self._entry = FrameEntry(chains, self._channels)
            self._config = config
            self._latency = int(chains[0].latency_samples)
            self._generation += 1

    @property
    def generation(self) -> int:
        """How many times :meth:`apply_config` changed the chains (a running engine
        compares it to see a new configuration, even one equal to an earlier one)."""
        return self._generation

    def chains(self) -> tuple[Chain, ...]:
        """The compiled chains as they run now, one per channel (empty once closed): for
        an engine's compiled callback, which runs them without their path locks while
        its stream runs (nothing else may process frames on them meanwhile)."""
        return tuple(self._chains)

    def close(self) -> None:
        """Release the processor's state; later calls raise InvalidStateError.

        Safe from any thread: a frame already in flight finishes on the state it started
        with (the chains are freed when the last call using them returns).

        Raises
        ------
        InvalidStateError
            A running engine holds the processor (:meth:`claim`); nothing changed.
        """
        with self._claim_lock:
            if self._owner is not None:
                raise self._in_use("close")
            self._entry = FrameEntry((), self._channels)  # takes nothing: the checked path raises
            self._chains = []

    def _copy_refused(self, how: str) -> InvalidStateError:  # pickle, copy, deepcopy
        return InvalidStateError(
            how,
            "a VoiceProcessor",
            "a copy would share or fork its compiled adaptive state; build a new one from "
            "VoiceProcessor(vp.sample_rate, vp.channels, vp.config)",
        )

    def __enter__(self) -> VoiceProcessor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        on = [name for name in _STAGES if getattr(self._config, name).enabled]
        return (
            f"VoiceProcessor(sample_rate={self._sample_rate}, channels={self._channels}, "
            f"stages={on})"
        )
