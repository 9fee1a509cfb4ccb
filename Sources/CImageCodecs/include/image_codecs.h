// Decoding PNG, JPEG and TIFF bytes with libpng, libjpeg-turbo and libtiff, for the image-folder
// importer. The libraries report errors by calling a handler that must not return (libpng and
// libjpeg) — their defaults print and exit() — so this shim installs handlers that longjmp back
// here (Swift cannot longjmp) and turns every failure into a status and one message.
// Sizes are checked against a pixel cap before any pixel memory is allocated.
#ifndef JOULE_IMAGE_CODECS_H
#define JOULE_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

enum {
    JL_OK = 0,
    JL_ERROR = 1,      // corrupt, truncated or unsupported: `message` says what
    JL_TOO_LARGE = 2,  // the header declares more pixels than the cap (nothing decoded)
    JL_EMPTY = 3,      // the header declares a zero width or height
};

typedef struct {
    uint32_t width, height;
    // Samples per pixel in `pixels`: 1 (grey), 3 (RGB) or 4 (CMYK, ink amounts: 0 = no ink).
    // Alpha channels are dropped, as Pillow's convert("L") and convert("RGB") drop them.
    uint32_t channels;
    // Bits per sample in `pixels`: 8 (uint8_t) or 16 (uint16_t in the machine's byte order).
    uint32_t depth;
    // Bits per sample in the file (1, 2, 4, 8, 12, 16), for the data card.
    uint32_t file_depth;
    // Rows top to bottom, `width * channels` samples each; malloc'd, freed by jl_image_free.
    void *pixels;
    char message[240];
} jl_image;

/// Decodes a PNG (any bit depth, palette, grey+alpha, interlaced).
int jl_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, jl_image *out);

/// Decodes a JPEG (baseline or progressive; greyscale, YCbCr or CMYK/YCCK). Libjpeg's warnings
/// (premature end of data, corrupt entropy data) count as errors, as Pillow treats truncation.
int jl_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, jl_image *out);

/// The number of pages (directories) of a TIFF, at most `max_pages`; -1 with `out->message` set on error.
int jl_tiff_pages(const uint8_t *data, size_t size, int max_pages, jl_image *out);

/// Decodes page `page` (from 0) of a TIFF: 8- and 16-bit greyscale and RGB directly; other kinds
/// (palette, 1–4-bit, YCbCr, CMYK, tiled, planar) through libtiff's RGBA reader at 8 bits.
int jl_tiff_decode(const uint8_t *data, size_t size, int page, uint64_t max_pixels, jl_image *out);

void jl_image_free(jl_image *image);

#endif
