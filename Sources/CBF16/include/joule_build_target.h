#ifndef JOULE_BUILD_TARGET_H
#define JOULE_BUILD_TARGET_H

/* What this build was compiled for, as Package.swift decided from JOULE_TARGET_CPU (the one place that
   knows): Swift reads it through `BuildTarget`. */

/* "native" (the building CPU) or the requested CPU or level, e.g. "x86-64-v3". */
const char *joule_build_target_cpu(void);

/* The widest vectors the target allows: "native" (whatever the running CPU has), "AVX-512", "AVX2",
   "SSE4.2" or "no AVX-512" (a CPU name Package.swift does not list). */
const char *joule_build_target_vectors(void);

/* 1 when code of this build may use AVX-512 where the running CPU has it (native and AVX-512 targets). */
int joule_build_target_avx512(void);

#endif
