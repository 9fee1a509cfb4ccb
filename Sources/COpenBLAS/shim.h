#include <cblas.h>
/* The Tensor layer's other C need: mallopt, to keep large tensor blocks in the heap (Tensor.swift). */
#include <malloc.h>
