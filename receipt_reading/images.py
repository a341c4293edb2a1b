"""Decoding an uploaded image within bounds, and making a phone photo of a receipt easier to read."""

from __future__ import annotations

import io
import threading

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from receipt_reading.model import MAX_PIXELS

# Long side an image is brought down to before OCR: a 12-megapixel phone photo holds no more legible text at
# 4,000 px than at 2,000, and costs four times the time.
OCR_LONG_SIDE = 2000
# Skew searched for, in degrees either way: a receipt photographed by hand is rarely tilted by more.
MAX_SKEW = 8.0

_heif_registered = False
_heif_lock = threading.Lock()


class ImageProblem(Exception):
    """An image that cannot or may not be read; the message is said to the person who shared it."""


def _register_heif() -> None:
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _heif_registered = True


def decode(data: bytes) -> Image.Image:
    """The image in `data` as 8-bit grey, upright as the camera meant it. Raises ImageProblem."""
    _register_heif()
    # No warnings.catch_warnings() here: it changes process-wide state, and this runs in worker threads. The size
    # check below refuses images long before Pillow's own decompression-bomb limit (89 megapixels) would warn.
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size  # from the header: nothing is decoded yet
        if width * height > MAX_PIXELS:
            raise ImageProblem(
                f"the image is too large to read ({width}×{height}, {width * height / 1e6:.0f} megapixels; "
                f"at most {MAX_PIXELS / 1e6:.0f})"
            )
        image.load()
        return ImageOps.exif_transpose(image).convert("L")
    except ImageProblem:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise ImageProblem("the image could not be read") from error
    except (OSError, ValueError, SyntaxError, EOFError, RuntimeError) as error:
        # Truncated or corrupt data surfaces from Pillow's and libheif's decoders as any of these.
        raise ImageProblem("the image could not be read") from error


def _skew_angle(grey: Image.Image) -> float:
    """The angle (degrees, counter-clockwise) that makes the text lines horizontal: the rotation whose row
    profile of ink is the most peaked, searched coarse then fine on a small copy."""
    small = grey.copy()
    small.thumbnail((500, 500))
    pixels = np.asarray(small, dtype=np.float32)
    ink = Image.fromarray(((pixels < pixels.mean() - pixels.std() * 0.5) * 255).astype(np.uint8))

    def sharpness(angle: float) -> float:
        rotated = np.asarray(ink.rotate(angle, resample=Image.Resampling.NEAREST, expand=True), dtype=np.float32)
        rows = rotated.sum(axis=1)
        return float(np.square(np.diff(rows)).sum())

    coarse = max(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 1.0), key=lambda a: sharpness(float(a)))
    fine = max(np.arange(coarse - 1.0, coarse + 1.01, 0.2), key=lambda a: sharpness(float(a)))
    return round(float(fine), 1)


def prepare(grey: Image.Image) -> Image.Image:
    """A photo made ready for OCR: bounded in size, stretched to full contrast, straightened."""
    if max(grey.size) > OCR_LONG_SIDE:
        grey = grey.copy()
        grey.thumbnail((OCR_LONG_SIDE, OCR_LONG_SIDE), Image.Resampling.LANCZOS)
    grey = ImageOps.autocontrast(grey, cutoff=1)
    angle = _skew_angle(grey)
    if abs(angle) >= 0.3:
        background = int(np.percentile(np.asarray(grey), 90))
        grey = grey.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=background)
    return grey
