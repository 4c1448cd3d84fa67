/* The real-time callback's C contract: PortAudio's callback signature (declared here, so
 * building needs no PortAudio header or library), the atomics the callback and the
 * application share, a monotonic clock, and the chain's C interface (ca_chain_api). */
#ifndef CA_RT_H
#define CA_RT_H

#include <stdint.h>
#include <string.h>
#include <time.h>

/* PortAudio (portaudio.h, v19): the types of PaStreamCallback, ABI-identical. */
typedef unsigned long ca_pa_flags;
typedef struct ca_pa_time_info {
    double inputBufferAdcTime;
    double currentTime;
    double outputBufferDacTime;
} ca_pa_time_info;
typedef int ca_pa_callback(const void* input, void* output, unsigned long frame_count,
                           const ca_pa_time_info* time_info, ca_pa_flags status_flags,
                           void* user_data);
#define CA_PA_CONTINUE 0
#define CA_PA_XRUN_MASK 0xFUL /* input under/overflow, output under/overflow */

/* C11 memory-model atomics (the GCC/Clang builtins, usable under -std=c99). */
#define CA_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define CA_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define CA_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define CA_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define CA_OR(p, v) __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
/* A full fence: a store before it is visible before a load after it (Dekker's pattern). */
#define CA_FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)
/* Compare-and-swap: *p from *expected to desired; on failure *expected is the current value. */
#define CA_CAS(p, expected, desired)                                                       \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, __ATOMIC_ACQ_REL,           \
                                __ATOMIC_ACQUIRE)

static inline int64_t ca_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void ca_max64(int64_t* p, int64_t v) {
    if (v > CA_LOAD_RELAXED(p)) __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* The chain's per-frame entry points as plain C (pipeline.Chain.c_api()'s capsule). */
typedef struct ca_chain_api {
    void* self;
    void (*render)(void* self, const float* far);
    int (*capture)(void* self, float* x);
    void (*reset)(void* self);
    void (*reset_echo_path)(void* self);
    int frame_size;
    /* A linked multi-channel capture (Chain.link): all *linked_channels channels of one
     * interleaved frame in place, once, on the first channel's chain; the return code
     * as capture's, the failing channels already reset. *linked_channels 0: not linked.
     * It points at the chain's live count, read at each frame: the group may change
     * until the chain is claimed, never while it is. */
    int (*capture_multi)(void* self, float* x);
    const int* linked_channels;
} ca_chain_api;
#define CA_CHAIN_API_CAPSULE "callaudio._dsp.pipeline.ca_chain_api"

/* A single-producer/single-consumer float ring: a power-of-two buffer allocated once,
 * counters in samples that only grow (head: written by the producer, tail: by the
 * consumer), each on its own cache line. `limit` (<= the buffer) is the capacity. */
typedef struct ca_ring {
    int64_t head;
    char pad0[56];
    int64_t tail;
    char pad1[56];
    float* buf;
    int64_t mask;
    int64_t limit;
} ca_ring;

static inline int64_t ca_ring_count(ca_ring* r) {
    return CA_LOAD(&r->head) - CA_LOAD(&r->tail);
}

static inline void ca_ring_copy_in(ca_ring* r, int64_t at, const float* x, int64_t k) {
    int64_t i = at & r->mask, first = r->mask + 1 - i;
    if (first >= k) {
        memcpy(r->buf + i, x, (size_t)k * sizeof(float));
    } else {
        memcpy(r->buf + i, x, (size_t)first * sizeof(float));
        memcpy(r->buf, x + first, (size_t)(k - first) * sizeof(float));
    }
}

static inline void ca_ring_copy_out(ca_ring* r, int64_t at, float* y, int64_t k) {
    int64_t i = at & r->mask, first = r->mask + 1 - i;
    if (first >= k) {
        memcpy(y, r->buf + i, (size_t)k * sizeof(float));
    } else {
        memcpy(y, r->buf + i, (size_t)first * sizeof(float));
        memcpy(y + first, r->buf, (size_t)(k - first) * sizeof(float));
    }
}

/* Producer: append up to k samples (all of them when `whole`); returns how many. */
static inline int64_t ca_ring_push(ca_ring* r, const float* x, int64_t k, int whole) {
    int64_t h = CA_LOAD_RELAXED(&r->head);
    int64_t room = r->limit - (h - CA_LOAD(&r->tail));
    if (k > room) {
        if (whole) return 0;
        k = room;
    }
    if (k <= 0) return 0;
    ca_ring_copy_in(r, h, x, k);
    CA_STORE(&r->head, h + k); /* publish after the copy */
    return k;
}

/* Producer: append k zeros when there is room; returns 1 if done. */
static inline int ca_ring_push_zeros(ca_ring* r, int64_t k) {
    int64_t h = CA_LOAD_RELAXED(&r->head), i;
    if (k > r->limit - (h - CA_LOAD(&r->tail))) return 0;
    for (i = 0; i < k; i++) r->buf[(h + i) & r->mask] = 0.0f;
    CA_STORE(&r->head, h + k);
    return 1;
}

/* Consumer: take exactly k samples into y; 0 (y untouched) when fewer are ready. */
static inline int ca_ring_pop(ca_ring* r, float* y, int64_t k) {
    int64_t t = CA_LOAD_RELAXED(&r->tail);
    if (CA_LOAD(&r->head) - t < k) return 0;
    ca_ring_copy_out(r, t, y, k);
    CA_STORE(&r->tail, t + k); /* release after the copy */
    return 1;
}

#endif
