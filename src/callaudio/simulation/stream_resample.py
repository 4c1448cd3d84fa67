"""Streaming band-limited resampling (``callaudio process``, sound files): blocks in, blocks out.

The same Kaiser-windowed sinc as :mod:`callaudio.simulation.resample` (32 zero crossings of
the lower rate, cutoff 0.97 of the lower Nyquist frequency, ``beta = 8.6``, about 86 dB of
stopband attenuation), with the filter's history carried across blocks, so that a file of
any length is converted with flat memory and the result equals the whole-signal
:func:`~callaudio.simulation.resample.resample` to rounding.

Output sample ``n`` is the input's band-limited value at input time ``n * M / L`` (the
ratio ``rate_out / rate_in = L / M`` reduced): zero phase, no delay; the look-ahead is
held back until the next block or :meth:`StreamResampler.flush`.

Two forms of the same filter:

- *polyphase matrix* (Crochiere and Rabiner, ch. 3) when the reduced ratio is small
  (44.1 <-> 48 kHz is 160/147): one period of ``L`` outputs is a fixed linear function of
  ``M + 2 * half`` inputs, so a block is one matrix product;
- *tabulated phases* (Smith and Gossett, 1984) otherwise (e.g. 15873 -> 16000 Hz): the
  kernel is tabulated at 512 fractional phases and interpolated linearly between them.

References
----------
- R. E. Crochiere and L. R. Rabiner, *Multirate Digital Signal Processing*,
  Prentice-Hall, 1983, ch. 3.
- J. O. Smith and P. Gossett, "A flexible sampling-rate conversion method", Proc. IEEE
  ICASSP 1984, pp. 112-115.
- J. F. Kaiser, "Nonrecursive digital filter design using the I0-sinh window function",
  Proc. IEEE ISCAS 1974.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

from .resample import kaiser_sinc

__all__ = ["StreamResampler"]

F64 = npt.NDArray[np.float64]

ZERO_CROSSINGS = 32
ROLLOFF = 0.97
BETA = 8.6
#: Fractional phases tabulated when the reduced ratio has too many phases for a matrix.
PHASES = 512
#: Largest polyphase matrix (inputs per period x outputs per period) built.
_MATRIX_LIMIT = 1 << 20
#: Outputs computed per step of the tabulated-phase form (bounds its scratch memory).
_CHUNK = 4096


def _kernel(tau: F64) -> F64:
    """The shared Kaiser-windowed sinc with this resampler's parameters."""
    return kaiser_sinc(tau, ZERO_CROSSINGS, ROLLOFF, BETA)


class StreamResampler:
    """Convert ``channels`` channels from ``rate_in`` to ``rate_out`` Hz, block by block.

    Feed blocks of shape ``(frames, channels)`` to :meth:`process`, which returns every
    output sample the input so far determines; :meth:`flush` ends the stream and returns
    the rest, so that the total is ``ceil(n_in * rate_out / rate_in)`` samples.
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int = 1) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise ValueError(f"rates must be positive, got {rate_in} -> {rate_out}")
        ratio = Fraction(int(rate_out), int(rate_in))
        self.up, self.down = ratio.numerator, ratio.denominator
        self.channels = int(channels)
        scale = min(1.0, self.up / self.down)  # cutoff at the lower Nyquist frequency
        self._scale = scale
        # Taps k = -half+1 .. half around the input sample at or before the output instant.
        self._half = int(np.ceil(ZERO_CROSSINGS / scale))
        self._taps = 2 * self._half
        # The buffer holds the input from absolute sample `_base - (half - 1)` on; the
        # leading zeros stand for the silence before the stream.
        self._buf = np.zeros((self._half - 1, self.channels))
        self._base = 0  # absolute input index of the first output not yet produced's window
        self._n_in = 0
        self._n_out = 0  # outputs produced so far
        self._matrix: F64 | None = None
        self._bank: F64 | None = None
        if self.up == self.down:
            return
        span = (self.up - 1) * self.down // self.up + self._taps
        if span * self.up <= _MATRIX_LIMIT:
            self._matrix = self._build_matrix(span)
        else:
            k = np.arange(-self._half + 1, self._half + 1, dtype=np.float64)
            frac = np.arange(PHASES + 1, dtype=np.float64) / PHASES
            tau = (k[None, :] - frac[:, None]) * scale
            self._bank = _kernel(tau) * scale

    def _build_matrix(self, span: int) -> F64:
        """Column ``p``: the weights of output ``j * L + p`` over inputs ``j * M ..``."""
        up, down, half = self.up, self.down, self._half
        mat = np.zeros((span, up))
        k = np.arange(-half + 1, half + 1, dtype=np.float64)
        for p in range(up):
            offset, rem = divmod(p * down, up)
            mat[offset : offset + self._taps, p] = _kernel((k - rem / up) * self._scale)
        return mat * self._scale

    def _expected(self, n_in: int) -> int:
        return -(-n_in * self.up // self.down)

    def process(self, block: npt.ArrayLike) -> F64:
        """Append ``block`` (``(frames, channels)`` or 1-D for one channel); return the
        outputs it completes, shape ``(n, channels)``."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s), got shape {x.shape}")
        self._n_in += x.shape[0]
        if self.up == self.down:
            self._n_out += x.shape[0]
            return x
        self._buf = np.concatenate([self._buf, x])
        return self._run(final=False)

    def flush(self) -> F64:
        """End of the stream: the remaining outputs (zeros stand for what follows)."""
        if self.up == self.down:
            return np.zeros((0, self.channels))
        self._buf = np.concatenate([self._buf, np.zeros((self._taps + self.down, self.channels))])
        return self._run(final=True)

    def _run(self, *, final: bool) -> F64:
        want = self._expected(self._n_in) if final else None
        return self._run_matrix(want) if self._matrix is not None else self._run_phases(want)

    def _run_matrix(self, want: int | None) -> F64:
        mat = self._matrix
        assert mat is not None
        up, down = self.up, self.down
        span = mat.shape[0]
        avail = self._buf.shape[0]
        periods = 0 if avail < span else (avail - span) // down + 1
        if want is not None:
            periods = min(periods, -(-(want - self._n_out) // up))
        if periods <= 0:
            return np.zeros((0, self.channels))
        out = np.empty((periods * up, self.channels))
        for c in range(self.channels):
            col = np.ascontiguousarray(self._buf[:, c])
            win = np.lib.stride_tricks.as_strided(
                col, shape=(periods, span), strides=(down * col.itemsize, col.itemsize)
            )
            out[:, c] = (win @ mat).reshape(-1)
        self._buf = self._buf[periods * down :]
        self._base += periods * down
        return self._trim(out, want)

    def _run_phases(self, want: int | None) -> F64:
        bank = self._bank
        assert bank is not None
        up, down, taps = self.up, self.down, self._taps
        avail_end = self._base + self._buf.shape[0]  # absolute end (+ half - 1 of padding)
        # Output n needs buffer rows floor(n M / L) - base .. + taps - 1.
        # The outputs with floor(n M / L) <= avail_end - taps: n < (avail_end - taps + 1) L / M.
        n_end = max(self._n_out, -(-(avail_end - taps + 1) * up // down))
        if want is not None:
            n_end = min(n_end, want)
        parts = []
        for s in range(self._n_out, n_end, _CHUNK):
            n = np.arange(s, min(s + _CHUNK, n_end), dtype=np.int64)
            pos = n * down
            start = pos // up - self._base
            pf = (pos % up) * (PHASES / up)
            p = np.minimum(pf.astype(np.int64), PHASES - 1)
            w = (pf - p)[:, None]
            coef = bank[p] + w * (bank[p + 1] - bank[p])
            idx = start[:, None] + np.arange(taps)[None, :]
            chunk = np.empty((n.size, self.channels))
            for c in range(self.channels):
                chunk[:, c] = np.einsum("ij,ij->i", coef, self._buf[idx, c])
            parts.append(chunk)
        produced = n_end - self._n_out
        self._n_out = n_end
        # Keep the rows the next output needs.
        drop = max(0, (n_end * down // up) - self._base)
        drop = min(drop, self._buf.shape[0])
        self._buf = self._buf[drop:]
        self._base += drop
        if not parts:
            return np.zeros((0, self.channels))
        out = np.concatenate(parts)
        assert out.shape[0] == produced
        return out

    def _trim(self, out: F64, want: int | None) -> F64:
        if want is not None:
            out = out[: max(0, want - self._n_out)]
        self._n_out += out.shape[0]
        return out
