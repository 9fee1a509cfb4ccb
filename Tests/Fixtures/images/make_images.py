#!/usr/bin/env python3
"""Writes the image files the importer's tests decode (Tests/Fixtures/images), with Pillow.

For every image file NAME it also writes NAME.expected.npy: for each page, the grey (H, W) and
RGB (H, W, 3) samples (int32) the decoder must give. They come from Pillow's own decoding
(convert("L") and convert("RGB")) where Pillow reads the file, and from the source array where
Pillow cannot write or read the kind (2- and 4-bit grey, 16-bit RGB, interlaced PNGs: written
here by hand, byte by byte). 16-bit samples stay 16-bit (Pillow would clip them to 8 bits).
Hostile files (truncated, corrupt, 60000×60000 headers, 0×0) have no expected file.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install pillow numpy
    /tmp/v/bin/python Tests/Fixtures/images/make_images.py
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(26)


def pattern(h, w, levels=256):
    """A gradient with noise and a dark stroke: distinct values, so any misread shows."""
    y, x = np.mgrid[0:h, 0:w]
    v = (x * 7 + y * 13) % levels + rng.randint(0, max(1, levels // 16), (h, w))
    v[h // 3, :] = 0
    return np.clip(v, 0, levels - 1)


def luma(rgb):
    """Pillow's RGB → L: (19595 R + 38470 G + 7471 B + 0x8000) >> 16, at any depth."""
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.int32)


def write_npy(path, arrays):
    with open(path, "wb") as f:
        for a in arrays:
            np.save(f, np.ascontiguousarray(a, dtype=np.int32))


def expected_from_pillow(name):
    """Grey and RGB of every page as Pillow decodes the file."""
    arrays = []
    with Image.open(os.path.join(OUT, name)) as im:
        for page in range(getattr(im, "n_frames", 1)):
            im.seek(page)
            arrays += [np.asarray(im.convert("L")), np.asarray(im.convert("RGB"))]
    write_npy(os.path.join(OUT, name + ".expected.npy"), arrays)


def expected_from_arrays(name, pages):
    """pages: (H, W) grey or (H, W, 3) RGB source arrays, at their own depth."""
    arrays = []
    for a in pages:
        if a.ndim == 2:
            arrays += [a, np.stack([a] * 3, axis=-1)]
        else:
            arrays += [luma(a), a]
    write_npy(os.path.join(OUT, name + ".expected.npy"), arrays)


def save(im, name, **options):
    im.save(os.path.join(OUT, name), **options)


# ---- hand-written PNGs (kinds Pillow cannot write) -------------------------------------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_rows(a, depth):
    """Packed rows of a (H, W[, C]) array at `depth` bits, each with filter byte 0."""
    h = a.shape[0]
    flat = a.reshape(h, -1)
    rows = []
    for row in flat:
        if depth == 16:
            data = row.astype(">u2").tobytes()
        elif depth == 8:
            data = row.astype(np.uint8).tobytes()
        else:
            per = 8 // depth
            padded = np.concatenate([row, np.zeros((-len(row)) % per, dtype=row.dtype)])
            data = bytes(
                sum(int(v) << (8 - depth * (k + 1)) for k, v in enumerate(padded[i:i + per]))
                for i in range(0, len(padded), per))
        rows.append(b"\0" + data)
    return b"".join(rows)


def write_png(name, a, depth, color_type, interlace=False):
    h, w = a.shape[:2]
    if interlace:
        # Adam7: seven passes over sub-grids, each a small image of its own rows.
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b"".join(png_rows(a[y0::dy, x0::dx], depth) for x0, y0, dx, dy in passes if a[y0::dy, x0::dx].size)
    else:
        raw = png_rows(a, depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# ---- hand-written TIFF (16-bit RGB, which Pillow cannot write) ------------------------------

def write_tiff_rgb16(name, a):
    h, w, _ = a.shape
    pixels = a.astype("<u2").tobytes()
    entries = [  # tag, type (3 short, 4 long), count, value
        (256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, None), (259, 3, 1, 1), (262, 3, 1, 2),
        (273, 4, 1, None), (277, 3, 1, 3), (278, 4, 1, h), (279, 4, 1, len(pixels)), (284, 3, 1, 1),
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    bits_offset = ifd_offset + ifd_size
    pixel_offset = bits_offset + 6
    out = b"II" + struct.pack("<HI", 42, ifd_offset) + struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 258:
            out += struct.pack("<HHII", tag, kind, count, bits_offset)
        elif tag == 273:
            out += struct.pack("<HHII", tag, kind, count, pixel_offset)
        elif kind == 3:
            out += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, kind, count, value)
    out += struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16) + pixels
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(out)


def main():
    h, w = 19, 23
    grey8 = pattern(h, w).astype(np.uint8)
    rgb8 = np.stack([pattern(h, w), pattern(h, w)[::-1], pattern(h, w)[:, ::-1]], axis=-1).astype(np.uint8)
    grey16 = (pattern(h, w, 4096) * 16 + rng.randint(0, 16, (h, w))).astype(np.uint16)
    rgb16 = np.stack([grey16, grey16[::-1], grey16[:, ::-1]], axis=-1).astype(np.uint16)

    # PNG
    save(Image.fromarray(grey8 > 128), "png_grey1.png"); expected_from_pillow("png_grey1.png")
    for depth in (2, 4):
        a = pattern(h, w, 1 << depth)
        write_png(f"png_grey{depth}.png", a, depth, 0)
        expected_from_arrays(f"png_grey{depth}.png", [(a * (255 // ((1 << depth) - 1))).astype(np.int32)])
    save(Image.fromarray(grey8), "png_grey8.png"); expected_from_pillow("png_grey8.png")
    save(Image.fromarray(grey16), "png_grey16.png"); expected_from_arrays("png_grey16.png", [grey16])
    la = Image.merge("LA", [Image.fromarray(grey8), Image.fromarray(255 - grey8)])
    save(la, "png_grey_alpha8.png"); expected_from_pillow("png_grey_alpha8.png")
    write_png("png_grey_alpha16.png", np.stack([grey16, 65535 - grey16], axis=-1), 16, 4)
    expected_from_arrays("png_grey_alpha16.png", [grey16])
    save(Image.fromarray(rgb8), "png_rgb8.png"); expected_from_pillow("png_rgb8.png")
    save(Image.fromarray(np.dstack([rgb8, grey8])), "png_rgba8.png"); expected_from_pillow("png_rgba8.png")
    write_png("png_rgb16.png", rgb16, 16, 2); expected_from_arrays("png_rgb16.png", [rgb16])
    save(Image.fromarray(rgb8).quantize(200), "png_palette8.png"); expected_from_pillow("png_palette8.png")
    save(Image.fromarray(rgb8).quantize(16), "png_palette4.png", bits=4); expected_from_pillow("png_palette4.png")
    save(Image.fromarray(rgb8).quantize(2), "png_palette1.png", bits=1); expected_from_pillow("png_palette1.png")
    p = Image.fromarray(rgb8).quantize(32)
    save(p, "png_palette_transparent.png", transparency=3); expected_from_pillow("png_palette_transparent.png")
    write_png("png_interlaced_grey8.png", grey8, 8, 0, interlace=True); expected_from_pillow("png_interlaced_grey8.png")
    write_png("png_interlaced_rgb8.png", rgb8, 8, 2, interlace=True); expected_from_pillow("png_interlaced_rgb8.png")
    write_png("png_interlaced_grey16.png", grey16, 16, 0, interlace=True)
    expected_from_arrays("png_interlaced_grey16.png", [grey16])

    # JPEG (lossy: the truth is what Pillow's libjpeg-turbo decodes)
    save(Image.fromarray(grey8), "jpeg_grey.jpg", quality=90); expected_from_pillow("jpeg_grey.jpg")
    save(Image.fromarray(rgb8), "jpeg_rgb.jpg", quality=90); expected_from_pillow("jpeg_rgb.jpg")
    save(Image.fromarray(rgb8), "jpeg_rgb444.jpg", quality=95, subsampling=0); expected_from_pillow("jpeg_rgb444.jpg")
    save(Image.fromarray(rgb8), "jpeg_progressive.jpg", quality=90, progressive=True)
    expected_from_pillow("jpeg_progressive.jpg")
    save(Image.fromarray(grey8), "jpeg_progressive_grey.jpg", quality=90, progressive=True)
    expected_from_pillow("jpeg_progressive_grey.jpg")
    save(Image.fromarray(rgb8).convert("CMYK"), "jpeg_cmyk.jpg", quality=90); expected_from_pillow("jpeg_cmyk.jpg")

    # TIFF
    save(Image.fromarray(grey8), "tiff_grey8.tif"); expected_from_pillow("tiff_grey8.tif")
    save(Image.fromarray(grey16), "tiff_grey16.tif"); expected_from_arrays("tiff_grey16.tif", [grey16])
    save(Image.fromarray(rgb8), "tiff_rgb8.tif"); expected_from_pillow("tiff_rgb8.tif")
    save(Image.fromarray(rgb8), "tiff_rgb8_lzw.tif", compression="tiff_lzw"); expected_from_pillow("tiff_rgb8_lzw.tif")
    save(Image.fromarray(grey8), "tiff_grey8_deflate.tif", compression="tiff_adobe_deflate")
    expected_from_pillow("tiff_grey8_deflate.tif")
    write_tiff_rgb16("tiff_rgb16.tif", rgb16); expected_from_arrays("tiff_rgb16.tif", [rgb16])
    save(Image.fromarray(grey8 > 100), "tiff_bilevel.tif", compression="group4"); expected_from_pillow("tiff_bilevel.tif")
    save(Image.fromarray(rgb8).quantize(64), "tiff_palette.tif"); expected_from_pillow("tiff_palette.tif")
    save(Image.fromarray(np.dstack([rgb8, grey8])), "tiff_rgba8.tif"); expected_from_pillow("tiff_rgba8.tif")
    save(la, "tiff_grey_alpha8.tif"); expected_from_pillow("tiff_grey_alpha8.tif")
    save(Image.fromarray(rgb8).convert("CMYK"), "tiff_cmyk.tif"); expected_from_pillow("tiff_cmyk.tif")
    save(Image.fromarray(rgb8), "tiff_jpeg.tif", compression="jpeg", quality=90); expected_from_pillow("tiff_jpeg.tif")
    save(Image.fromarray(rgb8).convert("YCbCr"), "tiff_ycbcr_jpeg.tif", compression="jpeg", quality=90)
    expected_from_pillow("tiff_ycbcr_jpeg.tif")
    save(Image.fromarray(grey16.astype(">u2")), "tiff_grey16_bigendian.tif")
    expected_from_arrays("tiff_grey16_bigendian.tif", [grey16])
    pages = [Image.fromarray(grey8), Image.fromarray(rgb8[:11, :17]), Image.fromarray(grey8[3:, 5:].copy())]
    save(pages[0], "tiff_multipage.tif", save_all=True, append_images=pages[1:]); expected_from_pillow("tiff_multipage.tif")

    # Hostile files
    with open(os.path.join(OUT, "png_rgb8.png"), "rb") as f:
        png = f.read()
    with open(os.path.join(OUT, "jpeg_rgb.jpg"), "rb") as f:
        jpg = f.read()
    with open(os.path.join(OUT, "tiff_rgb8_lzw.tif"), "rb") as f:
        tif = f.read()
    hostile = {
        "bad_truncated.png": png[: len(png) // 2],
        "bad_truncated.jpg": jpg[: len(jpg) // 2],
        "bad_truncated.tif": tif[: len(tif) // 2],
        # A flipped byte inside the image data: the chunk's CRC no longer matches.
        "bad_corrupt.png": png[:60] + bytes([png[60] ^ 0xFF]) + png[61:],
        # Garbage instead of entropy-coded data after the first scan header.
        "bad_corrupt.jpg": jpg[: jpg.index(b"\xff\xda") + 14] + bytes(rng.randint(0, 255, 400).astype(np.uint8)).replace(b"\xff", b"\x00") + b"\xff\xd9",
        "bad_bomb.png": b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + png_chunk(b"IEND", b""),
        "bad_bomb.tif": tiff_header(60000, 60000),
        # The frame header (SOF0: length, precision, height, width) of a real JPEG, sizes replaced.
        "bad_bomb.jpg": jpg[: jpg.index(b"\xff\xc0") + 5] + struct.pack(">HH", 60000, 60000) + jpg[jpg.index(b"\xff\xc0") + 9:],
        # Wider than libpng's own limit of a million pixels a side, and over the cap.
        "bad_wide.png": b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 2000000, 100, 8, 0, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + png_chunk(b"IEND", b""),
        "bad_zero.png": b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 0, 8, 0, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""),
        "bad_zero.tif": tiff_header(0, 0),
        "bad_text.png": b"this is not a picture\n",
        "bad_empty.jpg": b"",
    }
    for name, data in hostile.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


def tiff_header(w, h):
    """A greyscale 8-bit TIFF directory declaring w×h pixels over 16 bytes of data."""
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 9 + 4), (277, 3, 1, 1), (278, 4, 1, max(h, 1)), (279, 4, 1, 16)]
    out = b"II" + struct.pack("<HI", 42, 8) + struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHIHH", tag, kind, count, value, 0) if kind == 3 else struct.pack("<HHII", tag, kind, count, value)
    return out + struct.pack("<I", 0) + bytes(16)


if __name__ == "__main__":
    main()
