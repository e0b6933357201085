"""Image checks with Pillow: is it a real, whole image of an allowed format; how alike are two.

Decisions:

- Only JPEG, PNG and WebP are accepted; everything else is `InvalidImage`.
- Every image is decoded in full, so truncated or corrupt files are rejected
  (PNG chunk CRCs are checked too).
- Images above `MAX_IMAGE_PIXELS` (50 MP, more than any real artwork: an 8K
  backdrop is 33 MP) are rejected from the header, before decoding. The limit
  sits below Pillow's own (89 MP warning, 179 MP error), and Pillow's warning
  and error are also treated as rejection; Pillow's global settings are left
  alone because other code in the process shares them.
- Transparent types (clearlogo, clearart, discart, characterart) must be PNG:
  they are published as `.png` and a JPEG would paint a box around the logo.
  A PNG without an alpha channel is accepted with a warning in
  `ImageInfo.warnings` (some disc scans are opaque squares).
- Near-duplicates are found with a 64-bit difference hash (dHash): grayscale,
  shrink to 9x8, one bit per horizontally adjacent pair. It survives resizing
  and recompression; 10 differing bits or fewer count as the same picture.
  Transparent images are put on mid-grey first, so a white or a black logo
  both hash by their shape.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from metarr.domain.errors import InvalidInput
from metarr.domain.media import ArtworkType

MAX_IMAGE_PIXELS = 50_000_000
NEAR_DUPLICATE_DISTANCE = 10
HASH_BITS = 64

TRANSPARENT_TYPES: frozenset[str] = frozenset(
    {
        ArtworkType.CLEARLOGO.value,
        ArtworkType.CLEARART.value,
        ArtworkType.DISCART.value,
        ArtworkType.CHARACTERART.value,
    }
)

# Pillow format name -> (our format name, file extension).
_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpeg", "jpg"),
    "PNG": ("png", "png"),
    "WEBP": ("webp", "webp"),
}

# What Pillow raises on hostile or broken input.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class InvalidImage(InvalidInput):
    """The bytes are not a usable image (not an image, broken, too big, wrong format)."""

    code = "invalid_image"


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What inspection learned about a valid image."""

    format: str  # "jpeg" | "png" | "webp"
    width: int
    height: int
    ext: str  # "jpg" | "png" | "webp"
    has_alpha: bool = False
    warnings: tuple[str, ...] = ()


def _open(data: bytes) -> Image.Image:
    """Open (header only) an allowed format, refusing oversized images."""
    if not data:
        raise InvalidImage("empty file", field="image")
    try:
        image = Image.open(io.BytesIO(data), formats=list(_FORMATS))
    except UnidentifiedImageError as exc:
        raise InvalidImage("not a JPEG, PNG or WebP image", field="image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage("image is too large (decompression bomb?)", field="image") from exc
    except _DECODE_ERRORS as exc:
        raise InvalidImage(f"unreadable image: {exc}", field="image") from exc
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > MAX_IMAGE_PIXELS:
        image.close()
        if width <= 0 or height <= 0:
            raise InvalidImage("image has no pixels", field="image")
        raise InvalidImage(
            f"image is {width}x{height}, more than {MAX_IMAGE_PIXELS} pixels", field="image"
        )
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def inspect_image(data: bytes, *, claimed_type: str | None = None) -> ImageInfo:
    """Check that `data` is a whole JPEG/PNG/WebP image fit for `claimed_type`.

    Raises InvalidImage otherwise. `claimed_type` is an ArtworkType value; other
    values (or None) only get the format checks.
    """
    image = _open(data)
    fmt, ext = _FORMATS[str(image.format)]
    width, height = image.size
    has_alpha = _has_alpha(image)
    try:
        image.verify()  # structure and checksums (PNG CRCs)
        with Image.open(io.BytesIO(data), formats=list(_FORMATS)) as full:
            full.load()  # full decode: catches truncation
    except _DECODE_ERRORS as exc:
        raise InvalidImage(f"broken or truncated image: {exc}", field="image") from exc
    finally:
        image.close()

    warnings: list[str] = []
    if claimed_type in TRANSPARENT_TYPES:
        if fmt != "png":
            raise InvalidImage(f"{claimed_type} must be a PNG, got {fmt.upper()}", field="image")
        if not has_alpha:
            warnings.append(f"{claimed_type} has no transparency")
    return ImageInfo(fmt, width, height, ext, has_alpha, tuple(warnings))


def perceptual_hash(data: bytes) -> int:
    """64-bit difference hash of the picture (alike images give close hashes)."""
    with _open(data) as image:
        try:
            image.draft("RGB", (64, 64))  # JPEG: decode at reduced scale, much faster
            picture = ImageOps.exif_transpose(image)
            if _has_alpha(picture):
                rgba = picture.convert("RGBA")
                # Mid-grey, so white and black logos both stand out from the transparency.
                background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
                picture = Image.alpha_composite(background, rgba)
            small = picture.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
        except _DECODE_ERRORS as exc:
            raise InvalidImage(f"broken or truncated image: {exc}", field="image") from exc
    pixels = small.tobytes()  # mode "L": one byte per pixel, row by row
    value = 0
    for row in range(8):
        for col in range(8):
            left = pixels[row * 9 + col]
            right = pixels[row * 9 + col + 1]
            value = (value << 1) | (1 if left > right else 0)
    return value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return (a ^ b).bit_count()


def is_near_duplicate(a: int, b: int, threshold: int = NEAR_DUPLICATE_DISTANCE) -> bool:
    """True when two perceptual hashes are at most `threshold` bits apart."""
    return hamming(a, b) <= threshold
