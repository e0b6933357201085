"""Image inspection and perceptual hashing on real Pillow-made bytes."""

from __future__ import annotations

import io
import random
import struct
import warnings
import zlib

import pytest
from PIL import Image, ImageDraw, ImageFilter

from metarr.domain.errors import InvalidInput
from metarr.media.images import (
    MAX_IMAGE_PIXELS,
    InvalidImage,
    hamming,
    inspect_image,
    is_near_duplicate,
    perceptual_hash,
)


def picture(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A photo-like picture: gradient, random shapes, blurred a little."""
    rng = random.Random(seed)
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(40, 300), y0 + rng.randrange(40, 300)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(2))


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def logo(mode: str = "RGBA") -> Image.Image:
    image = Image.new(mode, (800, 310), (0, 0, 0, 0) if mode == "RGBA" else (0, 0, 0))
    ImageDraw.Draw(image).text(
        (20, 20), "METARR", fill=(255, 255, 255, 255) if mode == "RGBA" else (255, 255, 255)
    )
    return image


# -- inspection ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "expected_format", "ext"),
    [("JPEG", "jpeg", "jpg"), ("PNG", "png", "png"), ("WEBP", "webp", "webp")],
)
def test_inspect_reads_format_and_size(fmt: str, expected_format: str, ext: str) -> None:
    info = inspect_image(encode(picture(1, (1000, 1500)), fmt), claimed_type="poster")
    assert (info.format, info.ext, info.width, info.height) == (expected_format, ext, 1000, 1500)
    assert info.warnings == ()
    assert not info.has_alpha


def test_transparent_png_logo_is_accepted() -> None:
    info = inspect_image(encode(logo(), "PNG"), claimed_type="clearlogo")
    assert (info.format, info.width, info.height, info.has_alpha) == ("png", 800, 310, True)
    assert info.warnings == ()


def test_palette_png_with_transparency_counts_as_transparent() -> None:
    image = logo().convert("P")
    image.info["transparency"] = 0
    info = inspect_image(encode(image, "PNG", transparency=0), claimed_type="clearart")
    assert info.has_alpha


def test_opaque_png_logo_is_accepted_with_a_warning() -> None:
    info = inspect_image(encode(logo("RGB"), "PNG"), claimed_type="discart")
    assert info.warnings == ("discart has no transparency",)


@pytest.mark.parametrize("kind", ["clearlogo", "clearart", "discart", "characterart"])
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_transparent_types_must_be_png(kind: str, fmt: str) -> None:
    data = encode(logo("RGB"), fmt)
    with pytest.raises(InvalidImage, match="must be a PNG"):
        inspect_image(data, claimed_type=kind)
    assert inspect_image(data, claimed_type="fanart").width == 800  # fine elsewhere


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"<html><body>404 Not Found</body></html>",
        b"\x89PNG\r\n\x1a\n",  # a signature and nothing else
    ],
)
def test_non_images_are_rejected(data: bytes) -> None:
    with pytest.raises(InvalidImage):
        inspect_image(data, claimed_type="poster")


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_rejected(fmt: str) -> None:
    with pytest.raises(InvalidImage, match="not a JPEG, PNG or WebP"):
        inspect_image(encode(picture(2, (200, 300)), fmt), claimed_type="poster")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_rejected(fmt: str) -> None:
    data = encode(picture(3), fmt)
    with pytest.raises(InvalidImage):
        inspect_image(data[: len(data) // 2], claimed_type="fanart")


def test_png_with_a_bad_checksum_is_rejected() -> None:
    data = bytearray(encode(picture(4, (300, 200)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF  # flip bits inside the compressed pixels, CRC now wrong
    with pytest.raises(InvalidImage):
        inspect_image(bytes(data), claimed_type=None)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny real PNG whose header claims another size (a decompression bomb's trick)."""
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    ihdr = data.index(b"IHDR")
    body = struct.pack(">II", width, height) + bytes(data[ihdr + 12 : ihdr + 17])
    data[ihdr + 4 : ihdr + 17] = body
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(b"IHDR" + body))
    return bytes(data)


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (8000, 8000),  # 64 MP: over our limit, under Pillow's
        (10_000, 10_000),  # 100 MP: Pillow warns
        (20_000, 20_000),  # 400 MP: Pillow refuses
    ],
)
def test_decompression_bombs_are_rejected(width: int, height: int) -> None:
    assert width * height > MAX_IMAGE_PIXELS
    with pytest.raises(InvalidImage, match=r"too large|more than"):
        inspect_image(png_claiming(width, height), claimed_type="fanart")
    with pytest.raises(InvalidImage):
        perceptual_hash(png_claiming(width, height))


def test_bombs_are_rejected_when_pillow_only_warns() -> None:
    # In production DecompressionBombWarning is a plain warning; our own limit
    # must still refuse the image.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(InvalidImage, match="more than"):
            inspect_image(png_claiming(10_000, 10_000), claimed_type="fanart")


def test_invalid_image_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        inspect_image(b"junk", claimed_type="poster")
    assert caught.value.code == "invalid_image"
    assert caught.value.field == "image"


# -- perceptual hashing ----------------------------------------------------------


def test_resized_and_recompressed_copy_is_a_near_duplicate() -> None:
    original = picture(10, (1920, 1080))
    master = encode(original, "PNG")
    copy = encode(original.resize((640, 360), Image.Resampling.BILINEAR), "JPEG", quality=55)
    webp = encode(original.resize((1280, 720)), "WEBP", quality=40)
    h = perceptual_hash(master)
    assert h.bit_length() <= 64
    assert hamming(h, perceptual_hash(copy)) <= 6
    assert is_near_duplicate(h, perceptual_hash(copy))
    assert is_near_duplicate(h, perceptual_hash(webp))


@pytest.mark.parametrize("other_seed", [11, 12, 13, 14])
def test_different_pictures_are_not_near_duplicates(other_seed: int) -> None:
    a = perceptual_hash(encode(picture(10, (1920, 1080)), "JPEG"))
    b = perceptual_hash(encode(picture(other_seed, (1920, 1080)), "JPEG"))
    assert not is_near_duplicate(a, b)
    assert hamming(a, b) > 12


def shapes_logo(seed: int, colour: tuple[int, int, int, int]) -> Image.Image:
    """A transparent logo: a few solid shapes on nothing."""
    rng = random.Random(seed)
    image = Image.new("RGBA", (800, 310), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(700), rng.randrange(250)
        draw.rectangle((x0, y0, x0 + rng.randrange(50, 300), y0 + 60), fill=colour)
    return image


@pytest.mark.parametrize("colour", [(255, 255, 255, 255), (0, 0, 0, 255)])
def test_hash_sees_logos_on_transparency(colour: tuple[int, int, int, int]) -> None:
    original = shapes_logo(20, colour)
    h = perceptual_hash(encode(original, "PNG"))
    assert h != 0  # the shapes show against the transparency, white or black
    assert h == perceptual_hash(encode(original, "PNG"))
    smaller = encode(original.resize((400, 155), Image.Resampling.LANCZOS), "PNG")
    assert is_near_duplicate(h, perceptual_hash(smaller))
    assert not is_near_duplicate(h, perceptual_hash(encode(shapes_logo(21, colour), "PNG")))
    blank = Image.new("RGBA", (800, 310), (0, 0, 0, 0))
    assert perceptual_hash(encode(blank, "PNG")) == 0


def test_hamming_and_threshold() -> None:
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(2**64 - 1, 0) == 64
    assert is_near_duplicate(0, (1 << 10) - 1)
    assert not is_near_duplicate(0, (1 << 11) - 1)
    assert is_near_duplicate(0, (1 << 11) - 1, threshold=11)


def test_hash_rejects_non_images() -> None:
    with pytest.raises(InvalidImage):
        perceptual_hash(b"GIF89a nope")
