"""Still images: loading style images robustly, saving stills, colour transfer.

All arrays are uint8 ``(H, W, 3)`` RGB unless a name says otherwise.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from vidstyle.errors import InputError, OutputError
from vidstyle.media.destination import check_destination, discard, make_temp_file, publish
from vidstyle.sizing import MIN_STYLE_SIDE

_FLOAT_SLACK = 1e-3  # rounding past 0 or 1 in a float image in [0, 1], clipped


def load_image(path) -> np.ndarray:
    """Read any image OpenCV reads (grayscale, RGBA, 16-bit, CMYK JPEG...) as
    uint8 ``(H, W, 3)`` RGB. Transparent pixels are composited over white.

    Raises InputError for a missing, empty or undecodable file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"image not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"expected an image file, got a directory: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"image is empty (0 bytes): {path}")
    # JPEG has no alpha and no 16 bits: decode it in colour, which turns
    # CMYK into RGB and applies the EXIF orientation (UNCHANGED does neither).
    is_jpeg = data[:3].tobytes() == b"\xff\xd8\xff"
    image = cv2.imdecode(data, cv2.IMREAD_COLOR if is_jpeg else cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise InputError(f"cannot decode image (corrupt or unsupported format): {path}")
    return _to_rgb_u8(image)


def image_array(image, *, what: str = "an image array") -> np.ndarray:
    """``image`` if it is a non-empty uint8 ``(H, W, 3)`` RGB array; a PIL
    image as one (``pil_rgb``: its mode says how its values scale).

    Raises InputError naming ``what``, the dtype and shape received (and NaN
    in a float array); floats and 16 bits get the conversion to use. A
    uint16 or float array is refused, not scaled: unlike a PIL image's
    mode, an array does not say its range (floats in [0, 1] or [0, 255])."""
    if is_pil_image(image):
        image = pil_rgb(image, what=what.removesuffix(" array"))
    shape = tuple(image.shape)
    if image.dtype != np.uint8 or image.ndim != 3 or shape[2] != 3:
        floating = image.dtype.kind in "fc"
        nan = " holding NaN" if floating and image.size and bool(np.isnan(image).any()) else ""
        hint = "; floats in [0, 1]: (x * 255).round().astype(numpy.uint8)" if floating and not nan else ""
        if image.dtype == np.uint16:
            hint = "; 16 bits: (x / 257).round().astype(numpy.uint8)"
        raise InputError(f"{what} must be uint8 (height, width, 3) RGB, got {image.dtype} {shape}{nan}{hint}")
    if 0 in shape:
        raise InputError(f"{what} is empty {shape}: it needs at least one pixel")
    return image


def pil_rgb(image, *, what: str = "an image") -> np.ndarray:
    """A PIL image as uint8 ``(H, W, 3)`` RGB, scaled as ``load_image`` scales
    a file: 16-bit modes (``I;16``, and ``I``, the 32-bit integers Pillow
    reads 16-bit files into) divided by 257, float ``F`` in [0, 1] times
    255; transparent pixels composited over white. ``convert("RGBA")`` would
    clip those to 0..255, leaving two grey levels.

    Raises InputError naming the mode for ``I`` outside 0..65535, ``F``
    outside [0, 1] or holding NaN (what the values mean is unknown), and a
    mode Pillow cannot convert to RGB."""
    mode = image.mode
    if mode == "I" or mode.startswith("I;16") or mode == "F":
        values = np.asarray(image).reshape(image.height, image.width)
        low, high = (values.min(), values.max()) if values.size else (0, 0)
        if mode == "F" and not (-_FLOAT_SLACK <= low and high <= 1.0 + _FLOAT_SLACK):  # NaN fails both
            nan = "NaN" if np.isnan(values).any() else f"values from {low:g} to {high:g}"
            raise InputError(
                f"{what} is a PIL image of mode F (floats) holding {nan}; mode F is read as [0, 1]: "
                "scale it there (image.point(lambda v: v / 255) for 0..255), or give an 8-bit image"
            )
        if mode != "F" and not (0 <= low and high <= 65535):
            raise InputError(
                f"{what} is a PIL image of mode {mode} holding values from {low} to {high}; 32-bit integers "
                "are read as 16 bits (0..65535): scale them there, or give an 8-bit image ('L' or 'RGB')"
            )
        scaled = np.clip(values, 0.0, 1.0) * 255.0 if mode == "F" else values.astype(np.float32) / 257.0
        return np.repeat(np.rint(scaled).astype(np.uint8)[..., None], 3, axis=2)
    try:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32).reshape(image.height, image.width, 4)
    except ValueError as err:  # a mode Pillow converts to some modes only ("La")
        raise InputError(f"{what} is a PIL image of mode {mode}, which Pillow cannot convert to RGB") from err
    alpha = rgba[..., 3:] / 255.0
    return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def is_pil_image(value) -> bool:
    """True for a PIL (Pillow) image; PIL is imported only to check one that looks like it."""
    if not type(value).__module__.startswith("PIL."):
        return False
    from PIL import Image

    return isinstance(value, Image.Image)


def _to_rgb_u8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2RGB)
    if channels == 4:
        bgr = image[..., :3].astype(np.float32)
        alpha = image[..., 3:4].astype(np.float32) / 255.0
        image = np.rint(bgr * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB))


def resize_longer_side(image_u8: np.ndarray, longer_side: int) -> np.ndarray:
    """Resize keeping the aspect ratio so the longer side is ``longer_side`` px,
    never leaving the shorter side below MIN_STYLE_SIDE (area filter to shrink,
    bicubic to enlarge)."""
    h, w = image_u8.shape[:2]
    scale = longer_side / max(h, w)
    scale = max(scale, MIN_STYLE_SIDE / min(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return image_u8
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image_u8, size, interpolation=interpolation)


def resize(image_u8: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` = (width, height): area filter to shrink, bicubic to enlarge."""
    w, h = size
    if image_u8.shape[1] == w and image_u8.shape[0] == h:
        return image_u8
    shrinking = w * h < image_u8.shape[0] * image_u8.shape[1]
    return cv2.resize(image_u8, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def check_image_destination(path, *, overwrite: bool, input_paths=()) -> None:
    """OutputError (exit code 2) before any work when ``path`` cannot take a
    still image: an extension OpenCV does not write, a missing folder, one of
    ``input_paths`` (even with ``overwrite``), a directory, or an existing
    file without ``overwrite``."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in IMAGE_EXTENSIONS:
        raise OutputError(
            f"unknown image extension {ext or '(none)'!r} for {path}; use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    check_destination(path, overwrite=overwrite, input_paths=input_paths)


def save_image(path, image_u8: np.ndarray) -> None:
    """Write a uint8 ``(H, W, 3)`` RGB image; the format follows the extension
    (none: PNG). Written to a temporary name beside ``path`` and renamed, so a
    crash never leaves half a file; the file gets the permissions a plain
    write would give it (``destination.publish``).

    Raises OutputError: exit code 2 when the image cannot be encoded in that
    format, 1 when writing fails (folder missing or not writable, disk full)."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower() or ".png"
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(image_u8, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"cannot encode an image as {ext}: {path}")
    tmp = make_temp_file(path, suffix=f".partial{ext}", exit_code=1)  # the work is done: a failure, not a usage error
    try:
        encoded.tofile(tmp)
    except OSError as err:
        discard(tmp)
        raise OutputError(f"cannot write {path}: {err.strerror or err}", exit_code=1) from err
    publish(tmp, path)


def preserve_colors(stylized_u8: np.ndarray, content_u8: np.ndarray) -> np.ndarray:
    """Luminance-only transfer (Gatys et al. 2016, "Preserving colour in neural
    artistic style transfer"): the stylized image's luminance with the content's
    chrominance, in YCrCb. Both ``(H, W, 3)`` of the same size."""
    stylized = cv2.cvtColor(stylized_u8, cv2.COLOR_RGB2YCrCb)
    content = cv2.cvtColor(content_u8, cv2.COLOR_RGB2YCrCb)
    content[..., 0] = stylized[..., 0]
    return cv2.cvtColor(content, cv2.COLOR_YCrCb2RGB)
