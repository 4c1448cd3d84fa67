"""The VoiceProcessor: a validated Python face over the compiled per-channel chains.

Per 10 ms frame, call :meth:`VoiceProcessor.process_render` with what the loudspeaker plays
and then :meth:`VoiceProcessor.process_capture` with what the microphone recorded (WebRTC's
``ProcessReverseStream`` / ``ProcessStream`` pair). Validation happens here, once per call;
the compiled chain (``callaudio._dsp.pipeline.Chain``) never re-checks and runs without the
GIL.

Frames
------
* ``channels == 1``: shape ``(frame_size,)`` or ``(frame_size, 1)``.
* ``channels > 1``: shape ``(frame_size, channels)``, interleaved as sounddevice delivers.
* dtype float32 (full scale +-1.0) or int16; the output dtype follows the input.
* Non-contiguous input is accepted (copied into an internal buffer); ``out=`` must be
  C-contiguous, of the input's shape and dtype, and writable.
* Far-end frames may have any channel count; they are downmixed to one reference.
* NaN and +-Inf samples are replaced by silence at the input (counted in
  ``stats.nonfinite_frames``); the output is always finite and the state recovers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from ._dsp.pipeline import Chain
from .config import ProcessingConfig, check_sample_rate, frame_size
from .errors import ConfigError, FrameError, InvalidStateError

__all__ = ["ProcessingStats", "VoiceProcessor", "process_arrays"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.int16))
_STAGES = ("high_pass", "echo_canceller", "noise_suppressor", "gain_control")

_MAX_CHANNELS = 32


def _db(power: float) -> float:
    return 10.0 * math.log10(max(power, 1e-20))


def _known(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class ProcessingStats:
    """What the chain measured, for channel 0 (WebRTC's ``AudioProcessingStats``).

    Every field is ``None`` until it is known (its stage is off, or has not seen enough
    signal yet).

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
        The voice-activity decision of the last frame.
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


class VoiceProcessor:
    """Voice processing for one call: high-pass, echo canceller, noise suppressor, gain control.

    Parameters
    ----------
    sample_rate : int
        16000, 32000 or 48000 Hz. A frame is 10 ms: ``sample_rate // 100`` samples.
    channels : int
        Capture channels (1..32); each runs its own chain.
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
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        channels: int = 1,
        config: ProcessingConfig | None = None,
    ) -> None:
        self._sample_rate = check_sample_rate(sample_rate)
        if isinstance(channels, bool) or not isinstance(channels, int):
            raise ConfigError("channels", f"must be an int, got {channels!r}")
        if not 1 <= channels <= _MAX_CHANNELS:
            raise ConfigError("channels", f"must be within [1, {_MAX_CHANNELS}], got {channels}")
        if config is None:
            config = ProcessingConfig()
        if not isinstance(config, ProcessingConfig):
            raise ConfigError("config", f"must be a ProcessingConfig, got {config!r}")
        self._config = config
        self._channels = channels
        self._n = frame_size(self._sample_rate)
        kw: dict[str, Any] = {
            name: getattr(config, name).kwargs()
            for name in _STAGES
            if getattr(config, name).enabled
        }
        self._chains = [Chain(self._sample_rate, **kw) for _ in range(channels)]
        shape = (self._n,) if channels == 1 else (self._n, channels)
        self._shape = shape
        # Buffers for the slow paths (non-contiguous or read-only input, no out=).
        self._scratch = {dt: np.zeros(shape, dtype=dt) for dt in _DTYPES}

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
        """Algorithmic latency the capture chain adds, in samples."""
        return int(self._chains[0].latency_samples)

    @property
    def stats(self) -> ProcessingStats:
        """Measurements of channel 0; see :class:`ProcessingStats`."""
        self._check_open()
        ch = self._chains[0]
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
            latency_ms=1000.0 * self.latency_samples / self._sample_rate,
        )

    # -- validation ------------------------------------------------------------------

    def _check_open(self) -> None:
        if not self._chains:
            raise InvalidStateError("process", "CLOSED", "the VoiceProcessor was closed")

    def _check_frame(self, x: object, what: str, channels: int | None) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise FrameError(f"{what} must be a numpy array, got {type(x).__name__}")
        if x.dtype not in _DTYPES:
            raise FrameError(f"{what} must be float32 or int16, got dtype {x.dtype}")
        n = self._n
        if x.ndim == 1:
            got_ch = 1
            ok = x.shape[0] == n
        elif x.ndim == 2:
            got_ch = x.shape[1]
            ok = x.shape[0] == n
        else:
            raise FrameError(f"{what} must be 1-D or 2-D (frames, channels), got {x.ndim}-D")
        if not ok:
            raise FrameError(
                f"{what} must hold one 10 ms frame of {n} samples at {self._sample_rate} Hz, "
                f"got shape {x.shape}"
            )
        if channels is not None and got_ch != channels:
            raise FrameError(f"{what} must have {channels} channel(s), got shape {x.shape}")
        if got_ch < 1:
            raise FrameError(f"{what} has no channels: shape {x.shape}")
        return x

    # -- processing ------------------------------------------------------------------

    def process_render(self, far: npt.NDArray[Any]) -> None:
        """Feed one 10 ms frame of what the loudspeaker plays (the echo reference).

        Any channel count is accepted and downmixed. Raises FrameError for a bad frame;
        the processor is unchanged then.
        """
        self._check_open()
        x = self._check_frame(far, "far", None)
        if not (x.flags.c_contiguous and x.flags.aligned):
            x = np.array(x, order="C")  # a fresh array is always aligned
        chans = 1 if x.ndim == 1 else x.shape[1]
        for ch in self._chains:
            ch.render(x, chans)

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
        self._check_open()
        x = self._check_frame(mic, "mic", self._channels if self._channels > 1 else None)
        if self._channels == 1 and x.ndim == 2 and x.shape[1] != 1:
            raise FrameError(f"mic must have 1 channel(s), got shape {x.shape}")
        if out is None:
            out = np.empty_like(x, order="C")
        elif not isinstance(out, np.ndarray):
            raise FrameError(f"out must be a numpy array, got {type(out).__name__}")
        elif out.shape != x.shape or out.dtype != x.dtype:
            raise FrameError(
                f"out must match mic's shape {x.shape} and dtype {x.dtype}, "
                f"got {out.shape} {out.dtype}"
            )
        elif not (out.flags.c_contiguous and out.flags.writeable and out.flags.aligned):
            raise FrameError("out must be C-contiguous, aligned and writable")
        if not (x.flags.c_contiguous and x.flags.aligned):
            src = self._scratch[x.dtype]
            np.copyto(src.reshape(x.shape), x)
            x = src.reshape(x.shape)
        chans = self._channels
        for c, ch in enumerate(self._chains):
            if ch.capture(x, out, c, chans):
                # A stage produced a non-finite value despite the input guard: start clean.
                ch.reset()
        return out

    def _run_block(
        self,
        mic: npt.NDArray[np.float32],
        out: npt.NDArray[np.float32],
        far: npt.NDArray[np.float32] | None,
        far_channels: int,
    ) -> None:
        """Whole-frame float32 signals through every channel's chain, GIL released."""
        for c, ch in enumerate(self._chains):
            ch.process_block(mic, out, far, c, self._channels, far_channels)

    def reset(self) -> None:
        """Forget all adaptive state (as after construction); counters are kept."""
        self._check_open()
        for ch in self._chains:
            ch.reset()

    def reset_echo_path(self) -> None:
        """Tell the echo canceller the echo path changed (route change, speaker toggled).

        The adaptive filter and the residual-echo suppressor restart; the delay estimate
        is kept as a prior, so cancellation is back within about a second. The noise
        suppressor and the gain control keep their state.
        """
        self._check_open()
        for ch in self._chains:
            ch.reset_echo_path()

    def close(self) -> None:
        """Release the processor's state; later calls raise InvalidStateError."""
        self._chains = []

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


def process_arrays(
    mic: npt.ArrayLike,
    far: npt.ArrayLike | None = None,
    *,
    sample_rate: int,
    config: ProcessingConfig | None = None,
) -> npt.NDArray[Any]:
    """Process whole signals of any length offline, frame by frame.

    Parameters
    ----------
    mic : array_like
        Microphone signal, shape ``(n,)`` or ``(n, channels)``, float32/float64 (full
        scale 1.0) or int16.
    far : array_like, optional
        What the loudspeaker played, same length as ``mic`` (shorter is padded with
        silence, longer is cut); any channel count.
    sample_rate : int
        16000, 32000 or 48000.
    config : ProcessingConfig, optional

    Returns
    -------
    ndarray
        Same length and channel layout as ``mic``; int16 in, int16 out, else float32.
        The last partial frame is zero-padded for processing and trimmed.
    """
    m = np.asarray(mic)
    if m.dtype == np.bool_ or not (
        np.issubdtype(m.dtype, np.floating) or np.issubdtype(m.dtype, np.integer)
    ):
        raise FrameError(f"mic must be numeric, got dtype {m.dtype}")
    if m.ndim not in (1, 2):
        raise FrameError(f"mic must be 1-D or 2-D (samples, channels), got {m.ndim}-D")
    is_int16 = m.dtype == np.int16
    x = _to_float32(m)
    channels = 1 if x.ndim == 1 else x.shape[1]
    vp = VoiceProcessor(sample_rate, channels=channels, config=config)
    n = vp.frame_size
    total = x.shape[0]
    frames = -(-total // n)
    padded = np.zeros((frames * n, *x.shape[1:]), dtype=np.float32)
    padded[:total] = x
    ref: npt.NDArray[np.float32] | None = None
    far_channels = 1
    if far is not None:
        fa = np.asarray(far)
        if fa.dtype == np.bool_ or not (
            np.issubdtype(fa.dtype, np.floating) or np.issubdtype(fa.dtype, np.integer)
        ):
            raise FrameError(f"far must be numeric, got dtype {fa.dtype}")
        if fa.ndim not in (1, 2):
            raise FrameError(f"far must be 1-D or 2-D (samples, channels), got {fa.ndim}-D")
        fa = _to_float32(fa)
        far_channels = 1 if fa.ndim == 1 else fa.shape[1]
        if far_channels < 1:
            raise FrameError(f"far has no channels: shape {fa.shape}")
        ref = np.zeros((frames * n, *fa.shape[1:]), dtype=np.float32)
        k = min(total, fa.shape[0])
        ref[:k] = fa[:k]
    out = np.empty_like(padded)
    vp._run_block(padded, out, ref, far_channels)
    y = out[:total]
    if is_int16:
        return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)
    return y


def _to_float32(a: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """int16 -> float32 full scale 1.0; other integers are taken as int16-scaled too."""
    out: npt.NDArray[np.float32] = np.ascontiguousarray(a, dtype=np.float32)
    if np.issubdtype(a.dtype, np.integer):
        out = out * np.float32(1.0 / 32768.0)
    return out
