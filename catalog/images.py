"""
Product images with Pillow: downloading a source image, drawing a placeholder when the source
cannot be had, and writing WebP thumbnails at settings.THUMBNAIL_WIDTHS.

Nothing here touches the database; callers save the ProductImage rows.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import logging
import textwrap
import urllib.error
import urllib.request
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from .models import ProductImage

logger = logging.getLogger(__name__)

PLACEHOLDER_SIZE = 800  # pixels, square
# A catalog image bigger than this is not a product photo; refuse it rather than fill memory.
MAX_IMAGE_BYTES = 15 * 1024 * 1024
# Formats a browser shows everywhere; anything else Pillow can read is refused as a source.
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}


def fetch_image(url: str, timeout: float, *, unreachable_hosts: set[str] | None = None) -> bytes | None:
    """Downloads the image at `url` (http or https only), waiting at most `timeout` seconds
    for each network operation.

    Returns the bytes if they are an image Pillow can read in a web format (JPEG, PNG, WebP,
    GIF) and no larger than MAX_IMAGE_BYTES; None on any failure (DNS, refused connection,
    timeout, HTTP error, not an image). Never raises: a missing picture must not fail an import.

    `unreachable_hosts`, shared across calls, remembers hosts that could not be reached at
    all (DNS, connection, timeout) and skips them afterwards: an import of a thousand images
    from a CDN that is down would otherwise wait `timeout` seconds a thousand times.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    # Why: urllib also opens file:// and ftp:// URLs; a CSV must not read our disk.
    if parts.scheme not in ("http", "https") or not host:
        return None
    # Why: RFC 6761 guarantees .invalid never resolves, so skip the DNS round trip.
    if host.endswith(".invalid") or (unreachable_hosts is not None and host in unreachable_hosts):
        return None
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "shop-catalog-import/1.0"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_IMAGE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        # The host answered: only this file is missing, its other images may be fine.
        logger.debug("Could not fetch image %s: %s", url, exc)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no image", by contract
        logger.debug("Could not fetch image %s: %s", url, exc)
        if unreachable_hosts is not None and isinstance(exc, OSError):
            # URLError and socket timeouts are OSErrors: the host itself is out of reach.
            unreachable_hosts.add(host)
        return None
    if len(data) > MAX_IMAGE_BYTES:
        return None
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in _EXTENSIONS:
                return None
            probe.verify()
    except Exception:  # noqa: BLE001 - Pillow raises many types for bad data
        logger.debug("Not an image: %s", url)
        return None
    return data


def image_extension(data: bytes) -> str:
    """The file extension (".jpg", ".png", ...) for image bytes accepted by fetch_image."""
    with Image.open(io.BytesIO(data)) as probe:
        return _EXTENSIONS.get(probe.format or "", ".jpg")


def _palette(seed: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two related colours, derived only from `seed`: the same product always gets the same
    placeholder, and neighbours in a grid usually get different ones."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    hue = digest[0] / 255
    # Muted, mid-light tones: white text stays readable on both ends of the gradient.
    start = colorsys.hls_to_rgb(hue, 0.52 + digest[1] / 255 * 0.08, 0.42 + digest[2] / 255 * 0.2)
    end = colorsys.hls_to_rgb((hue + 0.08 + digest[3] / 255 * 0.06) % 1, 0.36, 0.5)
    return (
        tuple(round(c * 255) for c in start),  # type: ignore[return-value]
        tuple(round(c * 255) for c in end),
    )


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow ships a scalable default font when built with FreeType; DejaVu looks better
    # where the system has it.
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def placeholder_image(*, title: str, seed: str) -> bytes:
    """A PLACEHOLDER_SIZE × PLACEHOLDER_SIZE JPEG standing in for a missing product photo:
    a diagonal two-colour gradient chosen from `seed` (use the product handle) with `title`
    written across the middle.

    Deterministic: the same title and seed give the same bytes (for one Pillow version).
    """
    size = PLACEHOLDER_SIZE
    start, end = _palette(seed)
    # A diagonal gradient: a 2×2 image (start, mid / mid, end) stretched between its pixel
    # centres with bilinear sampling. Cheap, smooth, and identical on every run.
    mid = tuple((a + b) // 2 for a, b in zip(start, end, strict=True))
    corners = Image.new("RGB", (2, 2))
    corners.putdata([start, mid, mid, end])
    canvas = corners.transform(
        (size, size), Image.Transform.EXTENT, (0.5, 0.5, 1.5, 1.5), Image.Resampling.BILINEAR
    ).convert("RGBA")

    text = " ".join(title.split()) or "Product"
    lines = textwrap.wrap(text, width=14, max_lines=4, placeholder="…")
    block = "\n".join(lines)
    margin = size // 16
    max_text = size - 2 * margin - size // 10  # inside the frame, with some air
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    # Largest size that fits the frame: a long word must not run over the edge.
    font_size = size // 10 if len(lines) <= 2 else size // 13
    while True:
        font = _font(font_size)
        spacing = font_size // 3
        left, top, right, bottom = draw.multiline_textbbox((0, 0), block, font=font, spacing=spacing, align="center")
        if (right - left <= max_text and bottom - top <= max_text) or font_size <= 12:
            break
        font_size -= 4
    x = (size - (right - left)) / 2 - left
    y = (size - (bottom - top)) / 2 - top
    # A soft drop shadow keeps white text readable on the lighter end of the gradient.
    draw.multiline_text((x + 4, y + 5), block, font=font, fill=(0, 0, 0, 110), spacing=spacing, align="center")
    # Blur only around the text: blurring the whole canvas costs more than the rest together.
    pad = 24
    box = (
        max(0, int(x + left) - pad),
        max(0, int(y + top) - pad),
        min(size, int(x + right) + pad + 8),
        min(size, int(y + bottom) + pad + 8),
    )
    overlay.paste(overlay.crop(box).filter(ImageFilter.GaussianBlur(6)), box)
    canvas = Image.alpha_composite(canvas, overlay)

    # "RGBA" mode blends the translucent frame instead of punching a hole in the canvas.
    draw = ImageDraw.Draw(canvas, "RGBA")
    # A thin inset frame so the placeholder reads as a card, not a paint swatch.
    draw.rounded_rectangle(
        (margin, margin, size - margin, size - margin),
        radius=size // 24,
        outline=(255, 255, 255, 170),
        width=max(2, size // 266),
    )
    draw.multiline_text((x, y), block, font=font, fill=(255, 255, 255, 255), spacing=spacing, align="center")

    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="JPEG", quality=90, optimize=True)
    return out.getvalue()


def make_thumbnails(image: ProductImage) -> dict[str, str]:
    """Writes one WebP per width in settings.THUMBNAIL_WIDTHS (pixels; height follows the
    aspect ratio, never enlarged beyond the original) next to `image.image` in default_storage.

    Returns {"200": "products/<handle>/<name>-200.webp", ...}; the caller stores it in
    `image.thumbnails`. Re-running overwrites the same paths. Raises ValueError if the image
    has no file, and Pillow's errors if the file is not an image.
    """
    if not image.image:
        raise ValueError("the ProductImage has no image file")
    source_name = image.image.name
    with default_storage.open(source_name, "rb") as fh, Image.open(fh) as source:
        upright = ImageOps.exif_transpose(source)
        mode = "RGBA" if upright.mode in ("RGBA", "LA", "P") else "RGB"
        original = upright.convert(mode)
    path = PurePosixPath(source_name)
    thumbnails: dict[str, str] = {}
    for width in settings.THUMBNAIL_WIDTHS:
        thumb = original.copy()
        if thumb.width > width:
            height = max(1, round(thumb.height * width / thumb.width))
            thumb = thumb.resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        # method=2: about three times faster than the default (4) for files ~3% larger;
        # an import makes three of these per image.
        thumb.save(out, format="WEBP", quality=82, method=2)
        name = str(path.with_name(f"{path.stem}-{width}.webp"))
        # Why delete first: storage.save() would pick a new name instead of overwriting.
        if default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, io.BytesIO(out.getvalue()))
        thumbnails[str(width)] = saved
    return thumbnails
