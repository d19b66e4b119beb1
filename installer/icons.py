"""The application icon in the container formats the platforms want, made at build time
from the one SVG (``resources/icons/app/hvconsole.svg``) with Qt's SVG renderer, so the
build needs nothing beyond the application's own dependencies and no binary is committed.

- Windows ``.ico`` (the executables, the installer, the Start menu shortcut): sizes 16 to
  256. The sizes below 256 are stored as classic 32-bit DIBs and 256 as PNG, the layout
  every consumer reads (Explorer, PyInstaller's resource writer, Inno Setup's compiler);
  some older tools reject PNG entries at small sizes.
- macOS ``.icns`` (the ``.app`` bundle): PNG elements from 16 to 1024 pixels.
"""

from __future__ import annotations

import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)
# Sizes from this one up are stored as PNG inside the .ico (the ICO format allows both).
ICO_PNG_FROM = 256
# (element type, pixel size) of the icns elements that hold PNG data (macOS 10.7 and later).
ICNS_ELEMENTS = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256),
    (b"ic14", 512),
)


# The QGuiApplication this module made, if any: kept referenced while the build renders.
_app = None


@dataclass(frozen=True)
class IconFiles:
    ico: Path
    icns: Path


def ensure_gui_application() -> None:
    """Qt renders SVG only once a QGuiApplication exists. A build machine without a
    display (CI, an SSH session on Linux) uses the offscreen platform."""
    global _app
    from PySide6.QtGui import QGuiApplication
    if QGuiApplication.instance() is not None:
        return
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication(["hvconsole-build"])


def render(svg: Path, size: int):
    """The SVG drawn on a transparent ``size``×``size`` QImage (ARGB32, not premultiplied)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not an SVG image Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def png_bytes(image) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def dib_bytes(image) -> bytes:
    """One ICO entry as a device-independent bitmap: BITMAPINFOHEADER (height doubled, as
    ICO wants), BGRA pixel rows bottom-up, then an all-zero AND mask (alpha decides)."""
    width, height = image.width(), image.height()
    row = width * 4
    # Format_ARGB32 stores each pixel as a native 32-bit 0xAARRGGBB: B, G, R, A in memory
    # on little-endian machines, which is the DIB order. Say so rather than assume it.
    if sys.byteorder != "little":
        raise RuntimeError("the ICO writer assumes a little-endian machine")
    pixels = bytes(image.constBits())[: row * height]
    if image.bytesPerLine() != row:  # ARGB32 rows are never padded, but check
        raise RuntimeError("unexpected QImage row padding")
    bottom_up = b"".join(pixels[y * row:(y + 1) * row] for y in reversed(range(height)))
    mask_row = ((width + 31) // 32) * 4
    and_mask = bytes(mask_row * height)
    header = struct.pack("<IiiHHIIiiII", 40, width, height * 2, 1, 32, 0,
                         len(bottom_up) + len(and_mask), 0, 0, 0, 0)
    return header + bottom_up + and_mask


def ico_bytes(entries: list[tuple[int, bytes]]) -> bytes:
    """An ICO file from (pixel size, DIB or PNG data) pairs."""
    count = len(entries)
    offset = 6 + 16 * count
    directory, blobs = [], []
    for size, data in entries:
        if not 1 <= size <= 256:
            raise ValueError(f"an ICO entry cannot be {size} pixels")
        byte_size = 0 if size == 256 else size  # 0 means 256 in the one-byte field
        directory.append(struct.pack("<BBBBHHII", byte_size, byte_size, 0, 0, 1, 32, len(data), offset))
        blobs.append(data)
        offset += len(data)
    return struct.pack("<HHH", 0, 1, count) + b"".join(directory) + b"".join(blobs)


def icns_bytes(elements: list[tuple[bytes, bytes]]) -> bytes:
    """An icns file from (4-byte element type, PNG data) pairs; lengths are big-endian."""
    body = b"".join(kind + struct.pack(">I", 8 + len(data)) + data for kind, data in elements)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_icons(svg: Path, out_dir: Path, name: str = "hvconsole") -> IconFiles:
    """Render ``svg`` and write ``<name>.ico`` and ``<name>.icns`` into ``out_dir``."""
    ensure_gui_application()
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = sorted(set(ICO_SIZES) | {size for _, size in ICNS_ELEMENTS})
    images = {size: render(svg, size) for size in sizes}
    pngs = {size: png_bytes(image) for size, image in images.items()}
    ico = ico_bytes([(size, pngs[size] if size >= ICO_PNG_FROM else dib_bytes(images[size]))
                     for size in ICO_SIZES])
    icns = icns_bytes([(kind, pngs[size]) for kind, size in ICNS_ELEMENTS])
    files = IconFiles(ico=out_dir / f"{name}.ico", icns=out_dir / f"{name}.icns")
    files.ico.write_bytes(ico)
    files.icns.write_bytes(icns)
    return files
