# Band-split filter bank (cosine-modulated, near-perfect reconstruction).  See bands.pyx.
from callaudio._dsp._typedefs cimport f32


cdef class FilterBank:
    cdef readonly int sample_rate
    # Number of bands M (sample_rate // 16000) and samples per band per 10 ms frame.
    cdef readonly int bands
    cdef readonly int band_size
    cdef readonly int frame_size
    # Prototype length N = 2 M K; analysis + synthesis delay N - 1 samples.
    cdef readonly int taps
    cdef readonly int latency_samples
    cdef int _K
    cdef f32* _arena
    cdef f32* _q        # 2M x K polyphase branches
    cdef f32* _can      # M x 2M analysis modulation
    cdef f32* _csyn     # 2M x M synthesis modulation (gain M included)
    cdef f32* _xs       # analysis state: M rows of 2K + band_size
    cdef f32* _u        # analysis work: 2M x band_size
    cdef f32* _ws       # synthesis state: 2M rows of 2K + band_size
    cdef f32* _yr       # synthesis work: M x band_size

    # x: frame_size samples -> v: M x band_size (row k: band k at 16 kHz).
    cdef void analysis_c(self, const f32* x, f32* v) noexcept nogil
    # The same, band 0 only (v: band_size); its own state (a render-side bank).
    cdef void analysis_low_c(self, const f32* x, f32* v) noexcept nogil
    # v: M x band_size -> y: frame_size samples, latency_samples after the analysis input.
    cdef void synthesis_c(self, const f32* v, f32* y) noexcept nogil
    cdef void reset_c(self) noexcept nogil
