#include "joule_build_target.h"

/* Package.swift defines these from JOULE_TARGET_CPU; a build outside SwiftPM is a native one. */
#ifndef JOULE_TARGET_CPU
#define JOULE_TARGET_CPU "native"
#define JOULE_TARGET_VECTORS "native"
#define JOULE_TARGET_AVX512
#endif

const char *joule_build_target_cpu(void) { return JOULE_TARGET_CPU; }

const char *joule_build_target_vectors(void) { return JOULE_TARGET_VECTORS; }

int joule_build_target_avx512(void) {
#ifdef JOULE_TARGET_AVX512
    return 1;
#else
    return 0;
#endif
}
