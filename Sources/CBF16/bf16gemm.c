#include "bf16gemm.h"
#include <cpuid.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/* Function-level targets: this file builds on any x86-64 compiler setting, and only the caller's
   runtime check decides whether these instructions run. A build for a target without AVX-512
   (JOULE_TARGET_CPU=x86-64-v3) leaves them out: its binary holds no AVX-512 instruction of ours. */
#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

int joule_bf16_supported(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;        /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;                                          /* XMM, YMM, ZMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(b & (1u << 16)) || !(b & (1u << 30)) || !(b & (1u << 31))) return 0;  /* AVX512 F, BW, VL */
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1;                                                        /* AVX512_BF16 */
}

uint16_t joule_bf16_from_float(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

void joule_bf16_pack_b(const float *b, long k, long n, long rs, long cs, uint16_t *panels) {
    long pairs = (k + 1) / 2;
    /* Panels of 32 columns, then one of 16 when N is an odd multiple of 16. */
    for (long j0 = 0; j0 < n; j0 += 32) {
        long width = n - j0 >= 32 ? 32 : 16;
        for (long q = 0; q < pairs; q++) {
            uint16_t *dst = panels + (j0 * pairs) * 2 + q * width * 2;
            for (long col = 0; col < width; col++)
                for (long t = 0; t < 2; t++) {
                    long row = 2 * q + t;
                    dst[col * 2 + t] = row < k ? joule_bf16_from_float(b[row * rs + (j0 + col) * cs]) : 0;
                }
        }
    }
}

#ifdef JOULE_TARGET_AVX512

BF16 void joule_bf16_pack_a(const float *a, long m, long k, long lda, int column_major, uint16_t *out) {
    long kp = (k + 1) & ~1L;
    for (long i = 0; i < m; i++) {
        uint16_t *dst = out + i * kp;
        if (column_major) {
            for (long p = 0; p < k; p++) dst[p] = joule_bf16_from_float(a[p * lda + i]);
        } else {
            const float *src = a + i * lda;
            long p = 0;
            for (; p + 16 <= k; p += 16)
                _mm256_storeu_si256((__m256i *)(dst + p), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + p)));
            for (; p < k; p++) dst[p] = joule_bf16_from_float(src[p]);
        }
        if (k & 1) dst[k] = 0;
    }
}

BF16 static inline void put(__m512 x0, __m512 x1, float *c, int accumulate) {
    if (accumulate) {
        x0 = _mm512_add_ps(x0, _mm512_loadu_ps(c));
        x1 = _mm512_add_ps(x1, _mm512_loadu_ps(c + 16));
    }
    _mm512_storeu_ps(c, x0);
    _mm512_storeu_ps(c + 16, x1);
}

/* One pair of A's row r (two bfloat16 as one 32-bit lane), broadcast to all 16 lanes. */
#define PAIR(r) ((__m512bh)_mm512_set1_epi32(*(const int32_t *)(ar + (r) * kp + 2 * q)))
#define ROW(r) { __m512bh s = PAIR(r); c##r##0 = _mm512_dpbf16_ps(c##r##0, s, b0); c##r##1 = _mm512_dpbf16_ps(c##r##1, s, b1); }
#define OUT(r) put(_mm512_add_ps(c##r##0, s0), _mm512_add_ps(c##r##1, s1), c + (i + (r)) * ldc + j * 32, accumulate)

BF16 static inline void put16(__m512 x, float *c, int accumulate) {
    if (accumulate) x = _mm512_add_ps(x, _mm512_loadu_ps(c));
    _mm512_storeu_ps(c, x);
}

#define ROW16(r) { h##r = _mm512_dpbf16_ps(h##r, PAIR(r), b0); }
#define OUT16(r) put16(_mm512_add_ps(h##r, s0), c + (i + (r)) * ldc + j0, accumulate)

/* The last 16 columns when N is an odd multiple of 16 (16-channel layers): a 12 x 16 block in
   twelve registers, per pair of K one load of B, twelve broadcasts of A and twelve vdpbf16ps —
   enough independent sums to cover the instruction's latency. */
BF16 static void half_panel(long m, long n, long pairs, const uint16_t *a, const uint16_t *panels, const float *bias,
                            float *c, long ldc, int accumulate) {
    long kp = 2 * pairs, j0 = n / 32 * 32;
    __m512 s0 = bias ? _mm512_loadu_ps(bias + j0) : _mm512_setzero_ps();
    const uint16_t *panel = panels + j0 * pairs * 2;
    long i = 0;
    for (; i + 12 <= m; i += 12) {
        __m512 h0 = _mm512_setzero_ps(), h1 = h0, h2 = h0, h3 = h0, h4 = h0, h5 = h0, h6 = h0, h7 = h0, h8 = h0, h9 = h0,
               h10 = h0, h11 = h0;
        const uint16_t *ar = a + i * kp;
        for (long q = 0; q < pairs; q++) {
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + q * 32);
            ROW16(0) ROW16(1) ROW16(2) ROW16(3) ROW16(4) ROW16(5) ROW16(6) ROW16(7) ROW16(8) ROW16(9) ROW16(10) ROW16(11)
        }
        OUT16(0); OUT16(1); OUT16(2); OUT16(3); OUT16(4); OUT16(5); OUT16(6); OUT16(7); OUT16(8); OUT16(9); OUT16(10); OUT16(11);
    }
    for (; i < m; i++) {
        __m512 h0 = _mm512_setzero_ps();
        const uint16_t *ar = a + i * kp;
        for (long q = 0; q < pairs; q++) {
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + q * 32);
            ROW16(0)
        }
        OUT16(0);
    }
}

/* An 8 x 32 block of C stays in sixteen registers over the whole K loop (as PanelGEMM's FP32
   block does): per pair of K, two loads of B, eight broadcasts of A and sixteen vdpbf16ps.
   Spelled out, so that no compiler keeps the accumulators in memory (an array of them did, at
   two thirds of the speed). */
BF16 void joule_bf16_gemm(long m, long n, long k, const uint16_t *a, const uint16_t *panels, const float *bias,
                          float *c, long ldc, int accumulate) {
    long pairs = (k + 1) / 2, kp = 2 * pairs;
    for (long j = 0; j < n / 32; j++) {
        __m512 s0 = bias ? _mm512_loadu_ps(bias + j * 32) : _mm512_setzero_ps();
        __m512 s1 = bias ? _mm512_loadu_ps(bias + j * 32 + 16) : _mm512_setzero_ps();
        const uint16_t *panel = panels + j * pairs * 64;
        long i = 0;
        for (; i + 8 <= m; i += 8) {
            __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
            const uint16_t *ar = a + i * kp;
            for (long q = 0; q < pairs; q++) {
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + q * 64);
                __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + q * 64 + 32);
                ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
            }
            OUT(0); OUT(1); OUT(2); OUT(3); OUT(4); OUT(5); OUT(6); OUT(7);
        }
        for (; i < m; i++) {
            __m512 c00 = _mm512_setzero_ps(), c01 = c00;
            const uint16_t *ar = a + i * kp;
            for (long q = 0; q < pairs; q++) {
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + q * 64);
                __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + q * 64 + 32);
                ROW(0)
            }
            put(_mm512_add_ps(c00, s0), _mm512_add_ps(c01, s1), c + i * ldc + j * 32, accumulate);
        }
    }
    if (n % 32) half_panel(m, n, pairs, a, panels, bias, c, ldc, accumulate);
}

#else

/* Never called: `BF16GEMM` refuses bf16 in a build without AVX-512 (joule_build_target_avx512). */
void joule_bf16_pack_a(const float *a, long m, long k, long lda, int column_major, uint16_t *out) {
    (void)a; (void)m; (void)k; (void)lda; (void)column_major; (void)out;
    abort();
}

void joule_bf16_gemm(long m, long n, long k, const uint16_t *a, const uint16_t *panels, const float *bias,
                     float *c, long ldc, int accumulate) {
    (void)m; (void)n; (void)k; (void)a; (void)panels; (void)bias; (void)c; (void)ldc; (void)accumulate;
    abort();
}

#endif
