#ifndef JOULE_BF16GEMM_H
#define JOULE_BF16GEMM_H
#include <stdint.h>

/* bfloat16 GEMM tiles for SGLD's passes: AVX512-BF16 `vdpbf16ps` (two bfloat16 products summed into
   each FP32 lane per instruction: twice the multiply-adds of an FP32 FMA), FP32 accumulation.
   The kernels are compiled for that instruction set whatever the building CPU, except in a build for
   a target without AVX-512 (joule_build_target_avx512() == 0), where they abort; call them only where
   the build allows AVX-512 and joule_bf16_supported() says the running CPU and OS have it. */

/* 1 when the CPU has AVX512-BF16 (with F, BW, VL) and the OS saves the ZMM registers, whatever the build. */
int joule_bf16_supported(void);

/* Round to nearest even, as PyTorch's and the hardware's conversions do; NaN stays NaN. */
uint16_t joule_bf16_from_float(float f);

/* B (K x N, N a multiple of 16) into panels of 32 columns (the last of 16 when N is an odd multiple
   of 16) with K in pairs: element (row, col) of the panel of width w starting at column j0 lands at
   panels[j0 * 2 * ceil(K/2) + (row / 2) * 2w + (col - j0) * 2 + row % 2], the pair after an odd K's
   last row zero. B's element (row, col) is read at b[row * rs + col * cs].
   Needs 2 * ceil(K/2) * N values. */
void joule_bf16_pack_b(const float *b, long k, long n, long rs, long cs, uint16_t *panels);

/* A (M x K) into M rows of 2 * ceil(K/2) bfloat16 (zero after an odd K). Element (i, p) is read at
   a[i * lda + p] (row-major) or a[p * lda + i] (column_major != 0). */
void joule_bf16_pack_a(const float *a, long m, long k, long lda, int column_major, uint16_t *out);

/* C (M x N, row stride ldc) = A (packed by pack_a) . B (packed by pack_b), plus bias (N) on every
   row when bias is not NULL (after the sum, as PyTorch adds it), added to C when accumulate != 0. */
void joule_bf16_gemm(long m, long n, long k, const uint16_t *a, const uint16_t *panels, const float *bias,
                     float *c, long ldc, int accumulate);

#endif
