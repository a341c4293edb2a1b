"""Text out of a prepared image, through RapidOCR: PP-OCRv4 models run by ONNX Runtime, shipped inside the
rapidocr-onnxruntime wheel, so nothing is downloaded at run time."""

from __future__ import annotations

import math
import statistics
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class OcrLine:
    text: str
    score: float  # the engine's own confidence, [0, 1]
    size: float = 0.0  # how large it is printed: pixels a character, the widest of its boxes


class OcrEngine(Protocol):
    def read_lines(self, image: Image.Image) -> list[OcrLine]:
        """The text lines of `image`, top to bottom; the columns of one line joined by two spaces."""
        ...


@dataclass(frozen=True)
class _Box:
    text: str
    score: float
    left: float
    center_y: float
    height: float
    size: float


def group_lines(boxes: list[_Box]) -> list[OcrLine]:
    """Boxes on one printed line (a label at the left, its amount at the right) become one line."""
    if not boxes:
        return []
    typical = statistics.median(box.height for box in boxes)
    lines: list[list[_Box]] = []
    for box in sorted(boxes, key=lambda b: b.center_y):
        if lines:
            current = lines[-1]
            mean_y = sum(b.center_y for b in current) / len(current)
            if abs(box.center_y - mean_y) < 0.5 * min(typical, box.height, current[0].height) + 0.1 * typical:
                current.append(box)
                continue
        lines.append([box])
    out = []
    for line in lines:
        ordered = sorted(line, key=lambda b: b.left)
        out.append(
            OcrLine("  ".join(b.text for b in ordered), min(b.score for b in ordered), max(b.size for b in ordered))
        )
    return out


class RapidOcrEngine:
    """Loaded on first use, once per process, under a lock; inference runs one image at a time per engine.

    One ONNX Runtime thread by default: on a shared 2-core machine under load, one thread read an image in half
    the time that two or "all cores" took (their threads spin waiting for each other), and it leaves a core to the
    bot's event loop."""

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._engine: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._load_lock:
            if self._engine is None:
                from rapidocr_onnxruntime import RapidOCR

                self._engine = RapidOCR(intra_op_num_threads=self._threads, inter_op_num_threads=1)
            return self._engine

    def read_lines(self, image: Image.Image) -> list[OcrLine]:
        engine = self._loaded()
        pixels = np.asarray(image.convert("RGB"))
        with self._run_lock:
            # No angle classifier: the image is upright (EXIF applied) and straightened; it would cost a third.
            result, _elapsed = engine(pixels, use_cls=False)
        boxes = []
        for points, text, score in result or []:
            (x0, y0), (_x1, y1), (x2, y2), (x3, y3) = ((float(x), float(y)) for x, y in points)
            # The box's own height (its left and right edges), not its upright bounding box's: a long line
            # tilted by a degree or two is no taller than a short one.
            height = (math.dist((x0, y0), (x3, y3)) + math.dist((_x1, y1), (x2, y2))) / 2
            # A box's height says little of its type size (capitals, descenders and the detector's margin blur
            # it); the width a character does: the merchant printed larger has wider characters.
            size = math.dist((x0, y0), (_x1, y1)) / max(1, len(str(text).replace(" ", "")))
            boxes.append(_Box(str(text), float(score), min(x0, x3), (y0 + y1 + y2 + y3) / 4, height, size))
        return group_lines(boxes)


_default_engine: RapidOcrEngine | None = None
_default_lock = threading.Lock()


def default_engine() -> RapidOcrEngine:
    global _default_engine
    with _default_lock:
        if _default_engine is None:
            _default_engine = RapidOcrEngine()
        return _default_engine
