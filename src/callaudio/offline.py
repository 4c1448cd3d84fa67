"""Offline processing: whole signals of any length through a fresh VoiceProcessor.

:func:`process_arrays` is the block form of :class:`~callaudio.processing.VoiceProcessor`:
it converts the whole signal once (any float or integer dtype) and runs every channel's
chain over it in one GIL-free call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .config import ProcessingConfig
from .errors import FrameError
from .processing import VoiceProcessor

__all__ = ["process_arrays"]


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
        One of :data:`callaudio.config.SAMPLE_RATES`.
    config : ProcessingConfig, optional

    Returns
    -------
    ndarray
        Same length and channel layout as ``mic``; int16 in, int16 out, else float32.
        The last partial frame is zero-padded for processing and trimmed.
    """
    m = _signal(mic, "mic")
    is_int16 = m.dtype.kind == "i" and m.dtype.itemsize == 2  # any byte order
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
        fa = _to_float32(_signal(far, "far")[:total])  # only what the mic needs converts
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


def _signal(a: npt.ArrayLike, what: str) -> npt.NDArray[Any]:
    """``a`` as an array of real samples: signed/unsigned integers or floats, any byte
    order, 1-D or 2-D; bool, complex, datetime/timedelta and objects are refused."""
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise FrameError(f"{what} must be an array of samples: {e}") from None
    except Exception as e:  # the object's own __array__/__len__/__getitem__ raised
        raise FrameError(f"{what} must be an array of samples: {type(e).__name__}: {e}") from e
    if arr.dtype.kind not in "iuf":
        raise FrameError(f"{what} must hold integer or float samples, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise FrameError(f"{what} must be 1-D or 2-D (samples, channels), got {arr.ndim}-D")
    return arr


def _to_float32(a: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """int16 -> float32 full scale 1.0; other integers are taken as int16-scaled too."""
    out: npt.NDArray[np.float32] = np.ascontiguousarray(a, dtype=np.float32)
    if a.dtype.kind in "iu":
        out = out * np.float32(1.0 / 32768.0)
    return out
