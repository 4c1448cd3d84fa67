# cython: language_level=3
"""The engine's real-time callback, compiled: PortAudio calls it without the GIL.

``rt_callback`` has PortAudio's ``PaStreamCallback`` signature (declared in ``ca_rt.h``,
so building needs no PortAudio); ``Core.callback_address``/``userdata_address`` hand it to
python-sounddevice as a raw C callback. Per 10 ms frame it

1. applies the application's commands (a lock-free queue: a sound to play, a chain to
   use, an echo-path reset) and reads the mute flag (an atomic),
2. pops a far-end frame from the far ring (silence when empty: a silent frame, and an
   underrun when the application had been sending and did not mark the end),
3. mixes the prepared sound (a preloaded buffer; its position and stop flag are atomics
   the Python side reads), guards the result (NaN -> 0, clipped to +-1), writes the
   output and feeds every channel's chain its render path,
4. runs each channel's capture path in place, zeroes the frame when muted and pushes it
   into the capture ring (full: the frame is dropped and counted as an overrun); a reader
   blocked in ``Core.wait_capture`` is woken with ``sem_post`` (only while one waits),
5. counts frames, xruns (PortAudio's status bits), its own cost and the interval between
   calls with atomics and a monotonic clock (a 1 us histogram for the percentiles).

It holds no Python object, takes no lock and allocates nothing: everything is allocated
in ``Core.__cinit__`` (the echo cancellers' render queues are lock-free too).
The application side (``write_far``, ``read_capture``, ``push_command`` ...) is the other
end of each single-producer/single-consumer ring.
"""

cimport cython
cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int64_t, uint32_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset

from callaudio._dsp._typedefs cimport OK, f32

import numpy as np

cnp.import_array()

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    struct sched_param:
        int sched_priority
    pthread_t pthread_self()
    int pthread_setschedparam(pthread_t, int, const sched_param*)
    int SCHED_FIFO

cdef extern from "ca_rt.h" nogil:
    ctypedef unsigned long ca_pa_flags
    ctypedef struct ca_pa_time_info:
        double inputBufferAdcTime
        double currentTime
        double outputBufferDacTime
    int CA_PA_CONTINUE
    unsigned long CA_PA_XRUN_MASK
    ctypedef struct ca_chain_api:
        void* self
        void (*render)(void*, const f32*) noexcept nogil
        int (*capture)(void*, f32*) noexcept nogil
        void (*reset)(void*) noexcept nogil
        void (*reset_echo_path)(void*) noexcept nogil
        int frame_size
        int (*capture_multi)(void*, f32*) noexcept nogil
        const int* linked_channels
    const char* CA_CHAIN_API_CAPSULE
    ctypedef struct ca_ring:
        int64_t head
        int64_t tail
        f32* buf
        int64_t mask
        int64_t limit
    int64_t ca_ring_count(ca_ring* r)
    int64_t ca_ring_push(ca_ring* r, const f32* x, int64_t k, int whole)
    int ca_ring_push_zeros(ca_ring* r, int64_t k)
    int ca_ring_pop(ca_ring* r, f32* y, int64_t k)
    int64_t CA_LOAD(int64_t* p)
    int CA_LOAD_INT "CA_LOAD"(int* p)
    void CA_STORE(int64_t* p, int64_t v)
    void CA_STORE_INT "CA_STORE"(int* p, int v)
    void CA_ADD(int64_t* p, int64_t v)
    void CA_OR(int64_t* p, int64_t v)
    int64_t ca_now_ns()
    void ca_max64(int64_t* p, int64_t v)


cdef extern from "<pthread.h>" nogil:
    int pthread_create(pthread_t*, const void*, void* (*)(void*) noexcept nogil, void*)
    int pthread_join(pthread_t, void**)

cdef extern from "<time.h>" nogil:
    struct timespec:
        long tv_sec
        long tv_nsec
    int nanosleep(const timespec*, timespec*)
    int clock_gettime(int, timespec*)
    int CLOCK_REALTIME

cdef extern from "<semaphore.h>" nogil:
    ctypedef struct sem_t:
        pass
    int sem_init(sem_t*, int, unsigned int)
    int sem_destroy(sem_t*)
    int sem_post(sem_t*)
    int sem_trywait(sem_t*)
    int sem_timedwait(sem_t*, const timespec*)

cdef extern from "ca_rt.h" nogil:
    void CA_FENCE()

cdef enum:
    MAX_CHANNELS = 64
    QUEUE = 64          # commands in flight (a power of two)
    HIST = 20000        # cost histogram: 1 us bins up to 20 ms, the last one open
    TIMES = 1024        # frames whose start and capture-push times are kept
    K_SOUND = 1         # command: play a prepared sound (NULL samples: stop)
    K_CHAIN = 2         # command: channel `index` runs this chain (NULL self: bypass)
    K_RESET_ECHO = 3    # command: reset every chain's echo path

ctypedef struct rt_command:
    int kind
    int index
    int loop
    const f32* samples
    int64_t length
    int64_t* state          # a sound's [position, stop flag]
    ca_chain_api chain

ctypedef struct rt_counters:
    int64_t frames
    int64_t underruns
    int64_t overruns
    int64_t silent
    int64_t xruns
    int64_t status_bits
    int64_t bad_frames
    int64_t resets           # chains reset after a non-finite output
    int64_t echo_resets      # echo-path resets applied (commands)
    int64_t cost_sum
    int64_t cost_max
    int64_t interval_max
    int64_t commands_done
    int64_t xrun_frames[8]   # the frame index of the first 8 xruns

ctypedef struct rt_state:
    int n
    int channels
    int n_chains
    int monitor
    int deliver          # 0: capture ring; 1: the Python callback takes `capf` itself
    int muted            # atomic
    int far_ended        # atomic: the application marked the end of the far end
    int extra_mix        # atomic: mix `extra` into the next frame (Python callback)
    int rt_priority      # SCHED_FIFO priority asked for on the first frame (0: none)
    int prio_result      # atomic: 0 pending, 1 granted, -errno refused
    int far_flowing
    int cap_waiting      # atomic: a reader waits on cap_sem for the capture ring
    int sem_ok
    sem_t cap_sem        # posted after a capture push while a reader waits
    ca_ring far
    ca_ring cap
    ca_ring mon_play
    ca_ring mon_mic
    f32* play
    f32* capf
    f32* tmp
    f32* zeros
    f32* extra
    ca_chain_api chains[MAX_CHANNELS]
    int have_chain[MAX_CHANNELS]
    const f32* snd
    int64_t snd_len
    int snd_loop
    int64_t* snd_state
    rt_command queue[QUEUE]
    int64_t q_head       # written by the application
    int64_t q_tail       # written by the callback (published as counters.commands_done)
    int64_t last_start
    rt_counters c
    uint32_t hist[HIST]
    int64_t t_start[TIMES]   # monotonic ns at the callback's start, by frame index
    int64_t t_push[TIMES]    # ... when its processed frame was in the capture ring

ctypedef struct native_job:
    rt_state* s
    long long frames
    int done
    f32* inp
    f32* out


cdef int64_t _pow2(int64_t k) noexcept nogil:
    cdef int64_t p = 1
    while p < k:
        p <<= 1
    return p


cdef int _ring_init(ca_ring* r, int64_t limit) noexcept nogil:
    cdef int64_t size = _pow2(limit)
    r.buf = <f32*>malloc(size * sizeof(f32))
    if r.buf != NULL:       # touched now: the callback never takes a page fault on it
        memset(r.buf, 0, size * sizeof(f32))
    r.mask = size - 1
    r.limit = limit
    r.head = 0
    r.tail = 0
    return r.buf != NULL


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline void _guard(f32* x, int n) noexcept nogil:
    """Finite and within full scale, in place (NaN -> 0, +-Inf and beyond -> +-1)."""
    cdef int i
    cdef f32 v
    for i in range(n):
        v = x[i]
        if v != v:
            x[i] = 0.0
        elif v > 1.0:
            x[i] = 1.0
        elif v < -1.0:
            x[i] = -1.0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _mix_sound(rt_state* s) noexcept nogil:
    cdef int64_t* st = s.snd_state
    cdef int64_t pos, total = s.snd_len, k, i
    cdef int filled = 0, n = s.n
    if CA_LOAD(&st[1]):
        return
    pos = CA_LOAD(&st[0])
    if pos < 0 or pos > total:  # an application wrote the position: never trusted
        if s.snd_loop:
            pos %= total
            if pos < 0:
                pos += total
        else:
            pos = 0 if pos < 0 else total
    while filled < n and (s.snd_loop or pos < total):
        k = n - filled
        if total - pos < k:
            k = total - pos
        for i in range(k):
            s.play[filled + i] += s.snd[pos + i]
        filled += <int>k
        pos += k
        if pos >= total and s.snd_loop:
            pos = 0
    CA_STORE(&st[0], pos)


cdef void _apply_commands(rt_state* s) noexcept nogil:
    cdef int64_t t = s.q_tail
    cdef int64_t h = CA_LOAD(&s.q_head)
    cdef rt_command* cmd
    cdef int i
    while t != h:
        cmd = &s.queue[t & (QUEUE - 1)]
        if cmd.kind == K_SOUND:
            s.snd = cmd.samples
            s.snd_len = cmd.length
            s.snd_loop = cmd.loop
            s.snd_state = cmd.state
        elif cmd.kind == K_CHAIN:
            s.chains[cmd.index] = cmd.chain
            s.have_chain[cmd.index] = cmd.chain.self != NULL
        elif cmd.kind == K_RESET_ECHO:
            for i in range(s.n_chains):
                if s.have_chain[i]:
                    s.chains[i].reset_echo_path(s.chains[i].self)
            CA_ADD(&s.c.echo_resets, 1)
        t += 1
    s.q_tail = t
    CA_STORE(&s.c.commands_done, t)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _frame(rt_state* s, const f32* inp, f32* out, unsigned long frames,
                 ca_pa_flags status) noexcept nogil:
    cdef int n = s.n, ch = s.channels, c, i
    cdef const f32* mic = inp
    cdef sched_param prm
    cdef int rc
    if s.rt_priority and CA_LOAD_INT(&s.prio_result) == 0:
        prm.sched_priority = s.rt_priority
        rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &prm)
        CA_STORE_INT(&s.prio_result, 1 if rc == 0 else -rc)
    _apply_commands(s)
    if status:
        CA_OR(&s.c.status_bits, <int64_t>status)
        if status & CA_PA_XRUN_MASK:
            if s.c.xruns < 8:
                s.c.xrun_frames[s.c.xruns] = s.c.frames
            CA_ADD(&s.c.xruns, 1)
    if frames != <unsigned long>n:
        CA_ADD(&s.c.bad_frames, 1)
        if out != NULL:
            memset(out, 0, frames * sizeof(f32))
        return
    if out != NULL:
        if ca_ring_pop(&s.far, s.play, n):
            s.far_flowing = 1
        else:
            memset(s.play, 0, n * sizeof(f32))
            CA_ADD(&s.c.silent, 1)
            if s.far_flowing and not CA_LOAD_INT(&s.far_ended):
                CA_ADD(&s.c.underruns, 1)
        if s.snd != NULL:
            _mix_sound(s)
            _guard(s.play, n)
        if CA_LOAD_INT(&s.extra_mix):
            for i in range(n):
                s.play[i] += s.extra[i]
            _guard(s.play, n)
            CA_STORE_INT(&s.extra_mix, 0)
        if inp != NULL:
            for c in range(s.n_chains):
                if s.have_chain[c]:
                    s.chains[c].render(s.chains[c].self, s.play)
        memcpy(out, s.play, n * sizeof(f32))
    if inp != NULL:
        memcpy(s.capf, inp, n * ch * sizeof(f32))
        if s.have_chain[0] and s.n_chains > 1 and ch == s.n_chains \
                and s.chains[0].linked_channels[0] == s.n_chains:
            # linked channels (Chain.link): one call for all, the failing ones reset in it
            if s.chains[0].capture_multi(s.chains[0].self, s.capf) != OK:
                CA_ADD(&s.c.resets, 1)
        else:
            for c in range(s.n_chains):
                if not s.have_chain[c]:
                    continue
                for i in range(n):
                    s.tmp[i] = s.capf[i * ch + c]
                if s.chains[c].capture(s.chains[c].self, s.tmp) != OK:
                    s.chains[c].reset(s.chains[c].self)
                    CA_ADD(&s.c.resets, 1)
                for i in range(n):
                    s.capf[i * ch + c] = s.tmp[i]
        if CA_LOAD_INT(&s.muted):
            memset(s.capf, 0, n * ch * sizeof(f32))
        if not s.deliver and not ca_ring_push(&s.cap, s.capf, n * ch, 1):
            CA_ADD(&s.c.overruns, 1)
        CA_FENCE()                       # the push before the waiter's flag (see wait_capture)
        if CA_LOAD_INT(&s.cap_waiting):
            sem_post(&s.cap_sem)         # async-signal-safe, never blocks
        s.t_push[s.c.frames & (TIMES - 1)] = ca_now_ns()
    else:
        mic = s.zeros
    if s.monitor:
        ca_ring_push(&s.mon_play, s.play if out != NULL else s.zeros, n, 1)
        ca_ring_push(&s.mon_mic, mic, n * ch, 1)


cdef int rt_callback(const void* inp, void* out, unsigned long frames,
                     const ca_pa_time_info* time_info, ca_pa_flags status,
                     void* userdata) noexcept nogil:
    """PortAudio's stream callback: one frame of the engine, no GIL, no allocation."""
    cdef rt_state* s = <rt_state*>userdata
    cdef int64_t t0 = ca_now_ns(), cost, us
    if s.last_start:
        ca_max64(&s.c.interval_max, t0 - s.last_start)
    s.last_start = t0
    s.t_start[s.c.frames & (TIMES - 1)] = t0
    _frame(s, <const f32*>inp, <f32*>out, frames, status)
    cost = ca_now_ns() - t0
    CA_ADD(&s.c.cost_sum, cost)
    ca_max64(&s.c.cost_max, cost)
    us = cost // 1000
    s.hist[us if us < HIST - 1 else HIST - 1] += 1
    CA_ADD(&s.c.frames, 1)   # last: a reader seeing `frames` sees the rest of the frame
    return CA_PA_CONTINUE


cdef void* _native_main(void* arg) noexcept nogil:
    cdef native_job* job = <native_job*>arg
    cdef long long _k
    for _k in range(job.frames):
        rt_callback(job.inp, job.out, job.s.n, NULL, 0, job.s)
    CA_STORE_INT(&job.done, 1)
    return NULL


cdef inline f32* _f32_ptr(cnp.ndarray a, Py_ssize_t size) except NULL:
    if (cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT32 or not cnp.PyArray_ISNOTSWAPPED(a)
            or not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISALIGNED(a)
            or cnp.PyArray_SIZE(a) != size):
        raise ValueError(f"need a native, aligned, C-contiguous float32 array of {size}")
    return <f32*>cnp.PyArray_DATA(a)


cdef class Core:
    """The compiled callback's state: rings, counters, command queue (see the module).

    Parameters
    ----------
    frame_size : int
        Samples per channel in a frame (the stream's blocksize).
    channels : int
        Microphone channels (the capture ring's frames are interleaved); one chain each.
    far_frames, capture_frames : int
        Capacity of the far-end and capture rings, in frames.
    monitor : bool
        Keep what was played and the unprocessed microphone in two more rings.
    deliver : bool
        The Python callback takes each processed frame itself (:meth:`captured`) instead
        of the capture ring.
    rt_priority : int
        SCHED_FIFO priority the audio thread asks for on the first frame (0: none).
    """

    cdef rt_state* s
    cdef readonly int frame_size
    cdef readonly int channels
    cdef object _cap_view

    def __cinit__(self, int frame_size, int channels, long long far_frames,
                  long long capture_frames, bint monitor=False, bint deliver=False,
                  int rt_priority=0):
        if frame_size < 1 or not 1 <= channels <= MAX_CHANNELS:
            raise ValueError("bad frame size or channel count")
        if far_frames < 1 or capture_frames < 1:
            raise ValueError("ring capacities must be >= 1 frame")
        self.s = <rt_state*>malloc(sizeof(rt_state))
        if self.s == NULL:
            raise MemoryError()
        memset(self.s, 0, sizeof(rt_state))     # touched now: no page fault in the callback
        cdef rt_state* s = self.s
        self.frame_size = frame_size
        self.channels = channels
        s.n = frame_size
        s.channels = channels
        s.n_chains = channels
        s.monitor = monitor
        s.deliver = deliver
        s.rt_priority = rt_priority
        if sem_init(&s.cap_sem, 0, 0) != 0:
            raise OSError("sem_init failed")
        s.sem_ok = 1
        s.play = <f32*>calloc(frame_size, sizeof(f32))
        s.capf = <f32*>calloc(frame_size * channels, sizeof(f32))
        s.tmp = <f32*>calloc(frame_size, sizeof(f32))
        s.zeros = <f32*>calloc(frame_size * channels, sizeof(f32))
        s.extra = <f32*>calloc(frame_size, sizeof(f32))
        if (s.play == NULL or s.capf == NULL or s.tmp == NULL or s.zeros == NULL
                or s.extra == NULL):
            raise MemoryError()
        if not _ring_init(&s.far, far_frames * frame_size):
            raise MemoryError()
        if not _ring_init(&s.cap, capture_frames * frame_size * channels):
            raise MemoryError()
        if monitor:
            if not _ring_init(&s.mon_play, capture_frames * frame_size):
                raise MemoryError()
            if not _ring_init(&s.mon_mic, capture_frames * frame_size * channels):
                raise MemoryError()

    def __dealloc__(self):
        cdef rt_state* s = self.s
        if s == NULL:
            return
        free(s.play)
        free(s.capf)
        free(s.tmp)
        free(s.zeros)
        free(s.extra)
        free(s.far.buf)
        free(s.cap.buf)
        free(s.mon_play.buf)
        free(s.mon_mic.buf)
        if s.sem_ok:
            sem_destroy(&s.cap_sem)
        free(s)

    # -- handing the callback to a stream ---------------------------------------------------

    @property
    def callback_address(self):
        """Address of ``rt_callback`` (PortAudio's ``PaStreamCallback``), as an int."""
        return <size_t>&rt_callback

    @property
    def userdata_address(self):
        """Address of this core's state: the callback's ``userData``, as an int."""
        return <size_t>self.s

    def run(self, cnp.ndarray indata, cnp.ndarray outdata, unsigned long frames,
            unsigned long status=0):
        """Call the compiled callback once, the GIL released (simulated devices and the
        Python fallback callback). ``indata``/``outdata``: float32 C-contiguous frames or
        None for a side the stream does not have."""
        cdef const f32* inp = NULL
        cdef f32* out = NULL
        cdef void* ud = <void*>self.s
        if indata is not None:
            inp = _f32_ptr(indata, frames * self.channels)
        if outdata is not None:
            if not cnp.PyArray_ISWRITEABLE(outdata):
                raise ValueError("outdata must be writable")
            out = _f32_ptr(outdata, frames)
        with nogil:
            rt_callback(inp, out, frames, NULL, status, ud)

    # -- application side: commands ---------------------------------------------------------

    def set_chain(self, int index, chain):
        """Queue: channel ``index`` runs ``chain`` (a pipeline.Chain; None: bypass) from the
        next frame on. The caller keeps ``chain`` alive until :attr:`commands_done` passes
        the returned sequence number. Returns it, or -1 when the queue is full."""
        cdef rt_command cmd
        memset(&cmd, 0, sizeof(cmd))
        if not 0 <= index < self.s.n_chains:
            raise ValueError("channel out of range")
        cmd.kind = K_CHAIN
        cmd.index = index
        if chain is not None:
            capsule = chain.c_api()
            cmd.chain = (<ca_chain_api*>PyCapsule_GetPointer(capsule, CA_CHAIN_API_CAPSULE))[0]
            if cmd.chain.frame_size != self.frame_size:
                raise ValueError("the chain's frame size differs from the stream's")
        return self._push(&cmd)

    def set_sound(self, cnp.ndarray samples, cnp.ndarray state, bint loop=False):
        """Queue: mix ``samples`` (float32, C-contiguous) from the next frame on, reading and
        advancing ``state`` (int64 [position, stop]); ``samples`` None stops mixing. Both
        arrays must stay alive until :attr:`commands_done` passes the returned number."""
        cdef rt_command cmd
        memset(&cmd, 0, sizeof(cmd))
        cmd.kind = K_SOUND
        if samples is not None:
            if (state is None or cnp.PyArray_TYPE(state) != cnp.NPY_INT64
                    or cnp.PyArray_SIZE(state) != 2 or not cnp.PyArray_IS_C_CONTIGUOUS(state)
                    or cnp.PyArray_SIZE(samples) < 1):
                raise ValueError("need samples and a C-contiguous int64 state of 2")
            cmd.samples = _f32_ptr(samples, cnp.PyArray_SIZE(samples))
            cmd.length = cnp.PyArray_SIZE(samples)
            cmd.state = <int64_t*>cnp.PyArray_DATA(state)
            cmd.loop = loop
        return self._push(&cmd)

    def reset_echo_path(self):
        """Queue: reset every chain's echo path at the start of the next frame."""
        cdef rt_command cmd
        memset(&cmd, 0, sizeof(cmd))
        cmd.kind = K_RESET_ECHO
        return self._push(&cmd)

    cdef long long _push(self, rt_command* cmd):
        cdef rt_state* s = self.s
        cdef int64_t h = s.q_head
        if h - CA_LOAD(&s.c.commands_done) >= QUEUE:
            return -1
        s.queue[h & (QUEUE - 1)] = cmd[0]
        CA_STORE(&s.q_head, h + 1)
        return h

    def apply_commands(self):
        """Apply the queued commands now (only while no callback can run: stopped)."""
        with nogil:
            _apply_commands(self.s)

    @property
    def commands_done(self):
        """Commands the callback has applied (sequence numbers below it are done)."""
        return CA_LOAD(&self.s.c.commands_done)

    @property
    def commands_free(self):
        """Commands that can be queued now without finding the queue full."""
        return QUEUE - (self.s.q_head - CA_LOAD(&self.s.c.commands_done))

    @property
    def muted(self):
        """The capture frames are zeroed (the chain still runs)."""
        return bool(CA_LOAD_INT(&self.s.muted))

    @muted.setter
    def muted(self, bint on):
        CA_STORE_INT(&self.s.muted, on)

    def set_far_ended(self, bint ended):
        """The far end's audio ended here (silence that follows is no underrun)."""
        CA_STORE_INT(&self.s.far_ended, ended)

    def set_extra(self, cnp.ndarray frame):
        """Mix ``frame`` (float32, ``frame_size`` samples) into the next frame's output:
        the Python callback's hook for a sound that is not prepared."""
        memcpy(self.s.extra, _f32_ptr(frame, self.frame_size), self.frame_size * sizeof(f32))
        CA_STORE_INT(&self.s.extra_mix, 1)

    # -- application side: rings ------------------------------------------------------------

    def write_far(self, cnp.ndarray x):
        """Append far-end samples (float32, C-contiguous); returns how many fit."""
        cdef int64_t k = cnp.PyArray_SIZE(x), done
        cdef f32* p = _f32_ptr(x, k)
        with nogil:
            done = ca_ring_push(&self.s.far, p, k, 0)
        return done

    def flush_far(self):
        """Pad the far ring's partial frame with silence; False when there is no room."""
        cdef int64_t n = self.frame_size
        cdef int64_t rest = (n - CA_LOAD(&self.s.far.head) % n) % n
        return bool(rest == 0 or ca_ring_push_zeros(&self.s.far, rest))

    @property
    def far_queued(self):
        """Far-end samples waiting (a partial frame included)."""
        return ca_ring_count(&self.s.far)

    @property
    def capture_ready(self):
        """Whole captured frames waiting in the capture ring."""
        return ca_ring_count(&self.s.cap) // (self.frame_size * self.channels)

    @property
    def capture_capacity(self):
        """Frames the capture ring holds."""
        return self.s.cap.limit // (self.frame_size * self.channels)

    cdef object _read(self, ca_ring* r, long long frames, int channels):
        cdef int64_t m = frames * self.frame_size * channels
        out = np.empty((frames * self.frame_size, channels), dtype=np.float32)
        cdef f32* p = <f32*>cnp.PyArray_DATA(out)
        cdef int ok = 1
        if m:
            with nogil:
                ok = ca_ring_pop(r, p, m)
        return out if ok else out[:0]  # never unfilled memory (the caller serialises reads)

    def wait_capture(self, long long frames, double timeout_s):
        """Wait, the GIL released, until ``frames`` whole frames are in the capture ring or
        ``timeout_s`` passed; True when they are. The callback posts a semaphore after a
        push only while a reader waits (one reader at a time)."""
        cdef rt_state* s = self.s
        cdef int64_t need = frames * self.frame_size * self.channels
        cdef timespec until
        cdef long long ns
        cdef bint ready
        clock_gettime(CLOCK_REALTIME, &until)
        ns = until.tv_nsec + <long long>(max(timeout_s, 0.0) * 1e9)
        until.tv_sec += <long>(ns // 1000000000)
        until.tv_nsec = <long>(ns % 1000000000)
        with nogil:
            while sem_trywait(&s.cap_sem) == 0:
                pass                     # posts for earlier waits
            CA_STORE_INT(&s.cap_waiting, 1)
            CA_FENCE()                   # the flag before the ring's count (see the callback)
            while True:
                ready = ca_ring_count(&s.cap) >= need
                if ready or sem_timedwait(&s.cap_sem, &until) != 0:
                    break                # (timed out, or a signal: the caller retries)
            CA_STORE_INT(&s.cap_waiting, 0)
            if not ready:
                ready = ca_ring_count(&s.cap) >= need
        return ready

    def read_capture(self, long long max_frames=-1):
        """Up to ``max_frames`` whole frames (all when < 0): ``(k * n, channels)``."""
        cdef long long k = self.capture_ready
        if 0 <= max_frames < k:
            k = max_frames
        return self._read(&self.s.cap, k, self.channels)

    def read_monitor(self, long long max_frames=-1):
        """(played ``(k * n, 1)``, microphone ``(k * n, channels)``), frame-aligned."""
        if not self.s.monitor:
            raise ValueError("no monitor rings")
        cdef int64_t n = self.frame_size
        cdef long long k = min(ca_ring_count(&self.s.mon_play) // n,
                               ca_ring_count(&self.s.mon_mic) // (n * self.channels))
        if 0 <= max_frames < k:
            k = max_frames
        return (self._read(&self.s.mon_play, k, 1),
                self._read(&self.s.mon_mic, k, self.channels))

    def captured(self):
        """The last processed frame, ``(n, channels)``: a view of the callback's buffer
        (``deliver=True``: the Python callback hands it to the application)."""
        if self._cap_view is None:
            self._cap_view = np.asarray(<f32[:self.frame_size, :self.channels]>self.s.capf)
        return self._cap_view

    # -- counters ---------------------------------------------------------------------------

    def reset_counters(self):
        """Zero the counters and the histogram (only while no callback runs)."""
        cdef rt_state* s = self.s
        cdef int64_t done = s.c.commands_done
        memset(&s.c, 0, sizeof(rt_counters))
        s.c.commands_done = done
        memset(s.hist, 0, sizeof(s.hist))
        s.last_start = 0
        s.far_flowing = 0
        s.prio_result = 0

    def counters(self):
        """The counters as a dict of ints (each read atomically)."""
        cdef rt_counters* c = &self.s.c
        return {
            "frames": CA_LOAD(&c.frames),
            "underruns": CA_LOAD(&c.underruns),
            "overruns": CA_LOAD(&c.overruns),
            "silent_frames": CA_LOAD(&c.silent),
            "xruns": CA_LOAD(&c.xruns),
            "status_bits": CA_LOAD(&c.status_bits),
            "bad_frames": CA_LOAD(&c.bad_frames),
            "resets": CA_LOAD(&c.resets),
            "echo_resets": CA_LOAD(&c.echo_resets),
            "cost_ns_sum": CA_LOAD(&c.cost_sum),
            "cost_ns_max": CA_LOAD(&c.cost_max),
            "interval_ns_max": CA_LOAD(&c.interval_max),
            "priority": CA_LOAD_INT(&self.s.prio_result),
        }

    def frame_times(self, long long frame):
        """(start, pushed): monotonic ns at which the callback of frame ``frame`` (counted
        from :meth:`reset_counters`) started and pushed its processed frame into the
        capture ring; only the last 1024 frames are kept."""
        cdef int64_t i = frame & (TIMES - 1)
        return self.s.t_start[i], self.s.t_push[i]

    def xrun_frames(self):
        """The frame index of each of the first 8 xruns (when they happened)."""
        cdef int64_t k = min(CA_LOAD(&self.s.c.xruns), 8)
        return [self.s.c.xrun_frames[i] for i in range(k)]

    def cost_histogram(self):
        """Callbacks per microsecond of cost (index = us; the last bin is open)."""
        return np.asarray(<uint32_t[:HIST]>self.s.hist).astype(np.int64)


def native_thread_run(Core core, long long frames, double timeout_s=10.0):
    """Run the compiled callback ``frames`` times on a new native thread while the caller
    keeps the GIL (a test of GIL independence); True when it finished within
    ``timeout_s``. The inputs are silence."""
    cdef rt_state* s = core.s
    cdef native_job* job = <native_job*>calloc(1, sizeof(native_job))
    if job == NULL:
        raise MemoryError()
    job.s = s
    job.frames = frames
    job.inp = <f32*>calloc(s.n * s.channels, sizeof(f32))
    job.out = <f32*>calloc(s.n, sizeof(f32))
    cdef pthread_t tid
    if job.inp == NULL or job.out == NULL or pthread_create(&tid, NULL, _native_main, job):
        free(job.inp)
        free(job.out)
        free(job)
        raise MemoryError("could not start the native thread")
    cdef int64_t deadline = ca_now_ns() + <int64_t>(timeout_s * 1e9)
    cdef timespec pause
    pause.tv_sec = 0
    pause.tv_nsec = 1000000
    while not CA_LOAD_INT(&job.done) and ca_now_ns() < deadline:
        nanosleep(&pause, NULL)          # the GIL stays held
    finished = bool(CA_LOAD_INT(&job.done))
    if finished:                         # else the job is left to the thread (leaked)
        pthread_join(tid, NULL)
        free(job.inp)
        free(job.out)
        free(job)
    return finished
