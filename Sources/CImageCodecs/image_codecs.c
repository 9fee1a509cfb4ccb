#include "image_codecs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

static int fail(jl_image *out, int status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(out->message, sizeof out->message, format, args);
    va_end(args);
    free(out->pixels);
    out->pixels = NULL;
    return status;
}

// Width and height against the cap, before anything the size of the image is allocated.
static int check_size(jl_image *out, uint64_t w, uint64_t h, uint64_t max_pixels) {
    if (w == 0 || h == 0)
        return fail(out, JL_EMPTY, "the image has no pixels (%llu×%llu, height × width)", (unsigned long long)h, (unsigned long long)w);
    if (w > UINT32_MAX / (h ? h : 1) || w * h > max_pixels)
        return fail(out, JL_TOO_LARGE, "declares %llu×%llu pixels (height × width), over the cap of %llu (refused before decoding)",
                    (unsigned long long)h, (unsigned long long)w, (unsigned long long)max_pixels);
    return JL_OK;
}

void jl_image_free(jl_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}

// ---- PNG -------------------------------------------------------------------------------------

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    jl_image *out;
    char warning[120];  // the latest warning: libpng often explains an error in a warning just before it
} png_source;

static void png_read_bytes(png_structp png, png_bytep dst, size_t n) {
    png_source *s = png_get_io_ptr(png);
    if (n > s->size - s->pos) png_error(png, "the file is truncated");
    memcpy(dst, s->data + s->pos, n);
    s->pos += n;
}

static void png_fail(png_structp png, png_const_charp message) {
    png_source *s = png_get_error_ptr(png);
    if (s->warning[0])
        snprintf(s->out->message, sizeof s->out->message, "%s (%s)", message, s->warning);
    else
        snprintf(s->out->message, sizeof s->out->message, "%s", message);
    png_longjmp(png, 1);
}

// Ancillary chunks libpng drops (a bad CRC in a text chunk) do not matter here; the latest warning
// is kept to explain an error that follows it.
static void png_warn(png_structp png, png_const_charp message) {
    png_source *s = png_get_error_ptr(png);
    snprintf(s->warning, sizeof s->warning, "%s", message);
}

int jl_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, jl_image *out) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) return fail(out, JL_ERROR, "not a PNG file");
    // The size in IHDR (bytes 16–23) against the cap, and a zero side as an empty image, before libpng
    // calls either an invalid header (its own limit is a million pixels a side).
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        uint32_t w = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
        uint32_t h = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
        int checked = check_size(out, w, h, max_pixels);
        if (checked != JL_OK) return checked;
    }
    png_source source = {data, size, 0, out, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_fail, png_warn);
    if (!png) return fail(out, JL_ERROR, "libpng: out of memory");
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    volatile int status = JL_ERROR;
    if (!info || setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(out->pixels);
        out->pixels = NULL;
        if (status == JL_OK) status = JL_ERROR;
        return status;
    }
    png_set_read_fn(png, &source, png_read_bytes);
    // One limit for every format: the pixel cap, checked above (libpng's own is a million a side).
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    // Ancillary chunks (text, ICC profiles) hold no pixels: a few MB is plenty.
    png_set_chunk_malloc_max(png, 8 << 20);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    out->file_depth = (uint32_t)depth;
    int checked = check_size(out, w, h, max_pixels);
    if (checked != JL_OK) {
        status = checked;
        png_longjmp(png, 1);
    }
    // Palette → RGB, grey of 1, 2 or 4 bits → 8 (scaled, as Pillow loads them), alpha dropped
    // (a tRNS chunk is simply not expanded), 16-bit samples in the machine's byte order.
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    // (png_set_palette_to_rgb also turns a tRNS chunk into alpha: stripped here too.)
    if ((type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (depth == 16) {
        const uint16_t probe = 1;
        if (*(const uint8_t *)&probe == 1) png_set_swap(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info), bits = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (!((channels == 1 || channels == 3) && (bits == 8 || bits == 16)) ||
        rowbytes != (size_t)w * (size_t)channels * (size_t)(bits / 8)) {
        png_error(png, "unexpected pixel layout after conversion");
    }
    out->width = w;
    out->height = h;
    out->channels = (uint32_t)channels;
    out->depth = (uint32_t)bits;
    out->pixels = malloc(rowbytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!out->pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = (png_bytep)out->pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return JL_OK;
}

// ---- JPEG ------------------------------------------------------------------------------------

typedef struct {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    jl_image *out;
} jpeg_guard;

static void jpeg_fail(j_common_ptr c) {
    jpeg_guard *g = (jpeg_guard *)c->err;
    char text[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, text);
    snprintf(g->out->message, sizeof g->out->message, "%s", text);
    longjmp(g->jump, 1);
}

// Warnings (level -1) are corrupt or missing data that libjpeg would paper over with grey: errors here.
static void jpeg_message(j_common_ptr c, int level) {
    if (level < 0) jpeg_fail(c);
}

// A progressive file may hold thousands of tiny scans, each a pass over the whole image: a few
// kilobytes that take minutes. No real encoder writes more than a few dozen.
static void jpeg_progress(j_common_ptr c) {
    if (c->is_decompressor && ((j_decompress_ptr)c)->input_scan_number > 200) {
        jpeg_guard *g = (jpeg_guard *)c->err;
        snprintf(g->out->message, sizeof g->out->message, "more than 200 progressive scans");
        longjmp(g->jump, 1);
    }
}

int jl_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, jl_image *out) {
    memset(out, 0, sizeof *out);
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) return fail(out, JL_ERROR, "not a JPEG file");
    struct jpeg_decompress_struct cinfo;
    jpeg_guard guard;
    memset(&guard, 0, sizeof guard);
    guard.out = out;
    cinfo.err = jpeg_std_error(&guard.pub);
    guard.pub.error_exit = jpeg_fail;
    guard.pub.emit_message = jpeg_message;
    volatile int status = JL_ERROR;
    if (setjmp(guard.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(out->pixels);
        out->pixels = NULL;
        return status == JL_OK ? JL_ERROR : status;
    }
    jpeg_create_decompress(&cinfo);
    guard.progress.progress_monitor = jpeg_progress;
    cinfo.progress = &guard.progress;
    // Working memory beyond the image itself (coefficient buffers of progressive files).
    cinfo.mem->max_memory_to_use = 512L << 20;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    out->file_depth = (uint32_t)cinfo.data_precision;
    int checked = check_size(out, cinfo.image_width, cinfo.image_height, max_pixels);
    if (checked != JL_OK) {
        status = checked;
        longjmp(guard.jump, 1);
    }
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
    default: cinfo.out_color_space = JCS_RGB; break;
    }
    jpeg_start_decompress(&cinfo);
    uint32_t w = cinfo.output_width, h = cinfo.output_height, c = (uint32_t)cinfo.output_components;
    if (w != cinfo.image_width || h != cinfo.image_height || !(c == 1 || c == 3 || c == 4)) {
        snprintf(out->message, sizeof out->message, "unexpected output layout");
        longjmp(guard.jump, 1);
    }
    out->width = w;
    out->height = h;
    out->channels = c;
    out->depth = 8;
    size_t stride = (size_t)w * c;
    out->pixels = malloc(stride * h);
    if (!out->pixels) {
        snprintf(out->message, sizeof out->message, "out of memory");
        longjmp(guard.jump, 1);
    }
    while (cinfo.output_scanline < h) {
        JSAMPROW row = (JSAMPROW)out->pixels + (size_t)cinfo.output_scanline * stride;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            snprintf(out->message, sizeof out->message, "the file is truncated");
            longjmp(guard.jump, 1);
        }
    }
    // Adobe's CMYK JPEGs (Photoshop, Pillow) store inverted samples (255 = no ink) and say so by
    // the Adobe marker; Pillow reads them so ("CMYK;I"), and other CMYK files as stored.
    if (cmyk && cinfo.saw_Adobe_marker) {
        uint8_t *p = out->pixels;
        for (size_t i = 0; i < stride * h; i++) p[i] = (uint8_t)(255 - p[i]);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return JL_OK;
}

// ---- TIFF ------------------------------------------------------------------------------------

typedef struct {
    const uint8_t *data;
    uint64_t size, pos;
} tiff_source;

static tmsize_t tiff_read(thandle_t h, void *dst, tmsize_t n) {
    tiff_source *s = h;
    if (n <= 0 || s->pos >= s->size) return 0;
    uint64_t left = s->size - s->pos, k = (uint64_t)n < left ? (uint64_t)n : left;
    memcpy(dst, s->data + s->pos, (size_t)k);
    s->pos += k;
    return (tmsize_t)k;
}

static tmsize_t tiff_write(thandle_t h, void *src, tmsize_t n) {
    (void)h; (void)src; (void)n;
    return -1;
}

static toff_t tiff_seek(thandle_t h, toff_t offset, int whence) {
    tiff_source *s = h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : 0;
    if (offset > UINT64_MAX - base) return (toff_t)-1;
    s->pos = base + offset;  // past the end is allowed; reads there return nothing
    return s->pos;
}

static int tiff_close(thandle_t h) { (void)h; return 0; }
static toff_t tiff_size(thandle_t h) { return ((tiff_source *)h)->size; }
static int tiff_map(thandle_t h, void **base, toff_t *size) { (void)h; (void)base; (void)size; return 0; }
static void tiff_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

// The first error of a file is the one reported (later ones are usually its consequences).
static int tiff_error(TIFF *tif, void *user, const char *module, const char *format, va_list args) {
    (void)tif; (void)module;
    jl_image *out = user;
    if (out->message[0] == 0) {
        vsnprintf(out->message, sizeof out->message, format, args);
        // libtiff starts many messages with the file's name, which is only ours ("image: ").
        const char *prefix = "image: ";
        size_t n = strlen(prefix);
        if (strncmp(out->message, prefix, n) == 0) memmove(out->message, out->message + n, strlen(out->message) - n + 1);
    }
    return 1;
}

static int tiff_warning(TIFF *tif, void *user, const char *module, const char *format, va_list args) {
    (void)tif; (void)user; (void)module; (void)format; (void)args;
    return 1;  // unknown tags and the like: nothing the pixels depend on
}

static TIFF *tiff_open(tiff_source *source, jl_image *out) {
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (!options) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(options, tiff_error, out);
    TIFFOpenOptionsSetWarningHandlerExtR(options, tiff_warning, out);
    // No single allocation larger than the largest image the cap allows (16-bit RGB + slack).
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)1 << 30);
    TIFF *tif = TIFFClientOpenExt("image", "rm", source, tiff_read, tiff_write, tiff_seek, tiff_close,
                                  tiff_size, tiff_map, tiff_unmap, options);
    TIFFOpenOptionsFree(options);
    return tif;
}

static int is_tiff(const uint8_t *data, size_t size) {
    return size >= 4 && ((data[0] == 'I' && data[1] == 'I' && (data[2] == 42 || data[2] == 43) && data[3] == 0) ||
                         (data[0] == 'M' && data[1] == 'M' && data[2] == 0 && (data[3] == 42 || data[3] == 43)));
}

int jl_tiff_pages(const uint8_t *data, size_t size, int max_pages, jl_image *out) {
    memset(out, 0, sizeof *out);
    if (!is_tiff(data, size)) { fail(out, JL_ERROR, "not a TIFF file"); return -1; }
    tiff_source source = {data, size, 0};
    TIFF *tif = tiff_open(&source, out);
    if (!tif) {
        if (!out->message[0]) snprintf(out->message, sizeof out->message, "cannot open the TIFF");
        return -1;
    }
    int n = 1;
    // libtiff detects loops in the chain of directories; the cap bounds a long honest chain.
    while (n < max_pages && TIFFReadDirectory(tif)) n++;
    TIFFClose(tif);
    out->message[0] = 0;  // an error reading a later directory just ends the count
    return n;
}

int jl_tiff_decode(const uint8_t *data, size_t size, int page, uint64_t max_pixels, jl_image *out) {
    memset(out, 0, sizeof *out);
    if (!is_tiff(data, size)) return fail(out, JL_ERROR, "not a TIFF file");
    tiff_source source = {data, size, 0};
    TIFF *tif = tiff_open(&source, out);
    if (!tif) return fail(out, JL_ERROR, "%s", out->message[0] ? out->message : "cannot open the TIFF");
    int status = JL_OK;
    uint8_t *line = NULL;
    if (page > 0 && !TIFFSetDirectory(tif, (tdir_t)page)) { status = JL_ERROR; goto done; }
    uint32_t w = 0, h = 0;
    uint16_t spp = 1, bps = 1, photometric = 0, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) photometric = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    out->file_depth = bps;
    status = check_size(out, w, h, max_pixels);
    if (status != JL_OK) goto done;
    int grey = photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
    int direct = !TIFFIsTiled(tif) && planar == PLANARCONFIG_CONTIG && format == SAMPLEFORMAT_UINT &&
                 (bps == 8 || bps == 16) &&
                 ((grey && spp >= 1 && spp <= 2) || (photometric == PHOTOMETRIC_RGB && spp >= 3 && spp <= 4));
    if (direct) {
        uint32_t c = grey ? 1 : 3, bytes = bps / 8;
        tmsize_t lineSize = TIFFScanlineSize(tif);
        if (lineSize != (tmsize_t)w * spp * bytes) {
            fail(out, JL_ERROR, "unexpected scanline size");
            status = JL_ERROR;
            goto done;
        }
        out->pixels = malloc((size_t)w * h * c * bytes);
        line = malloc((size_t)lineSize);
        if (!out->pixels || !line) { fail(out, JL_ERROR, "out of memory"); status = JL_ERROR; goto done; }
        for (uint32_t y = 0; y < h; y++) {
            if (TIFFReadScanline(tif, line, y, 0) < 0) { status = JL_ERROR; goto done; }
            // Keep the first 1 or 3 samples of each pixel (extra samples are alpha).
            if (bytes == 1) {
                uint8_t *dst = (uint8_t *)out->pixels + (size_t)y * w * c;
                for (uint32_t x = 0; x < w; x++)
                    for (uint32_t k = 0; k < c; k++) {
                        uint8_t v = line[(size_t)x * spp + k];
                        dst[(size_t)x * c + k] = photometric == PHOTOMETRIC_MINISWHITE ? (uint8_t)(255 - v) : v;
                    }
            } else {
                uint16_t *dst = (uint16_t *)out->pixels + (size_t)y * w * c;
                const uint16_t *src = (const uint16_t *)line;
                for (uint32_t x = 0; x < w; x++)
                    for (uint32_t k = 0; k < c; k++) {
                        uint16_t v = src[(size_t)x * spp + k];
                        dst[(size_t)x * c + k] = photometric == PHOTOMETRIC_MINISWHITE ? (uint16_t)(65535 - v) : v;
                    }
            }
        }
        out->width = w;
        out->height = h;
        out->channels = c;
        out->depth = bps;
    } else {
        // Everything else libtiff can read, as 8-bit RGBA (alpha dropped below).
        char why[1024] = "";
        if (!TIFFRGBAImageOK(tif, why)) {
            fail(out, JL_ERROR, "unsupported TIFF: %s", why);
            status = JL_ERROR;
            goto done;
        }
        uint32_t *raster = malloc((size_t)w * h * 4);
        if (!raster) { fail(out, JL_ERROR, "out of memory"); status = JL_ERROR; goto done; }
        if (!TIFFReadRGBAImageOriented(tif, w, h, raster, ORIENTATION_TOPLEFT, 0)) {
            free(raster);
            status = JL_ERROR;
            goto done;
        }
        uint8_t *rgb = malloc((size_t)w * h * 3);
        if (!rgb) { free(raster); fail(out, JL_ERROR, "out of memory"); status = JL_ERROR; goto done; }
        for (size_t i = 0; i < (size_t)w * h; i++) {
            uint32_t p = raster[i];
            rgb[3 * i] = (uint8_t)TIFFGetR(p);
            rgb[3 * i + 1] = (uint8_t)TIFFGetG(p);
            rgb[3 * i + 2] = (uint8_t)TIFFGetB(p);
        }
        free(raster);
        out->pixels = rgb;
        out->width = w;
        out->height = h;
        out->channels = 3;
        out->depth = 8;
    }
done:
    free(line);
    TIFFClose(tif);
    if (status != JL_OK) {
        free(out->pixels);
        out->pixels = NULL;
        if (!out->message[0]) snprintf(out->message, sizeof out->message, "cannot read the TIFF");
    }
    return status;
}
