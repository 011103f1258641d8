"""Limits on untrusted input, checked before any work is done with it.

Bundles, chip files and sweep files come from anywhere, so before the simulator builds anything
from them it checks how deep a JSON document nests, how many bytes an array stored in an ``.npz``
claims (against the bytes the archive really holds and a sane maximum) and how large a layer's
shapes are. Error messages show an untrusted value through :func:`short_repr`, which never renders
more than a few levels or characters of it (a YAML alias "billion laughs" expands to a structure
whose full ``repr`` would never finish).
"""

from __future__ import annotations

import math
import reprlib
import zipfile
from typing import Any

from numpy.lib import format as npy_format

# How deep a manifest may nest (a real one nests 4 levels; json itself gives up near 1000).
MAX_JSON_DEPTH = 64
# Text files read whole (manifests, chip and sweep YAML files).
MAX_TEXT_BYTES = 64 * 2 ** 20
# One array of a bundle: the bytes it may claim (a VGG-16 layer holds well under 1 GiB).
MAX_ARRAY_BYTES = 2 ** 34
# One dimension of a layer or graph shape (channels, height, width, features), and the elements
# of one tensor (a layer's weights, input or output).
MAX_DIM = 2 ** 20
MAX_ELEMENTS = 2 ** 31
# Characters of a layer name (names appear in tables, figures and messages).
MAX_NAME_CHARS = 200
# Characters of an untrusted value an error message shows.
MESSAGE_VALUE_CHARS = 80
# The largest decompressed/compressed ratio deflate can reach.
_DEFLATE_MAX_RATIO = 1032


class _ShortRepr(reprlib.Repr):
    """reprlib with few levels and items, and integers too long for ``repr`` described instead."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = self.maxdict = self.maxset = self.maxfrozenset = 6
        self.maxstring = self.maxother = MESSAGE_VALUE_CHARS
        self.maxlong = 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 14_000:   # beyond ~4200 digits repr() itself refuses
            return f"<integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_SHORT = _ShortRepr()


def short_repr(value: Any, limit: int = MESSAGE_VALUE_CHARS) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, fast for any value (nested,
    self-referencing through YAML aliases, or an integer of thousands of digits)."""
    try:
        text = _SHORT.repr(value)
    except Exception:   # a repr that fails (an odd object) must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def json_depth(obj: Any, stop_at: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), counted without recursion; counting
    stops once ``stop_at`` is passed."""
    deepest = 0
    stack = [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > stop_at:
            return deepest
        stack.extend((c, depth + 1) for c in children)
    return deepest


def check_shape(shape: Any, what: str) -> str | None:
    """None when every entry of ``shape`` is an integer within ``MAX_DIM`` in size and their
    product is within ``MAX_ELEMENTS``; otherwise the broken limit (``what`` names the shape)."""
    dims = [int(v) for v in shape]
    if any(abs(v) > MAX_DIM for v in dims):
        return f"{what}: a dimension exceeds the limit of {MAX_DIM}"
    n = math.prod(abs(v) for v in dims)
    if n > MAX_ELEMENTS:
        return f"{what}: {n} elements exceed the limit of {MAX_ELEMENTS}"
    return None


def npz_member_problem(npz: Any, key: str, archive_bytes: int) -> str | None:
    """Why array ``key`` of the open ``.npz`` (``np.load``'s NpzFile) must not be loaded, read
    from its ``.npy`` header only: an unreadable header, Python objects (pickle), or a shape whose
    bytes exceed what the member holds, what the archive of ``archive_bytes`` can hold, or
    ``MAX_ARRAY_BYTES``. None when loading it is safe."""
    zf = npz.zip
    names = set(zf.namelist())
    name = key + ".npy" if key + ".npy" in names else key
    try:
        info = zf.getinfo(name)
        if info.compress_size > archive_bytes:
            return f"its member claims {info.compress_size} bytes in a {archive_bytes}-byte archive"
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            return "its member's sizes disagree"
        if info.file_size > max(info.compress_size, 1) * _DEFLATE_MAX_RATIO:
            return f"its member claims {info.file_size} bytes from {info.compress_size} compressed"
        with zf.open(info) as fp:
            version = npy_format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = npy_format.read_array_header_2_0(fp)
            else:
                return f"unsupported .npy format version {version[0]}.{version[1]}"
            header_bytes = fp.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError, SyntaxError) as exc:
        return f"bad .npy header ({type(exc).__name__}: {short_repr(str(exc))})"
    if dtype.hasobject:
        return "holds Python objects (pickled data is refused)"
    need = math.prod(shape) * dtype.itemsize
    have = info.file_size - header_bytes
    if need > have:
        return (f"its header claims shape {short_repr(tuple(shape))} of {dtype} ({need} bytes) "
                f"but the member holds {have} bytes")
    if need > MAX_ARRAY_BYTES:
        return f"its header claims {need} bytes, more than the limit of {MAX_ARRAY_BYTES}"
    return None


__all__ = ["MAX_ARRAY_BYTES", "MAX_DIM", "MAX_ELEMENTS", "MAX_JSON_DEPTH", "MAX_NAME_CHARS",
           "MAX_TEXT_BYTES", "MESSAGE_VALUE_CHARS", "check_shape", "json_depth",
           "npz_member_problem", "short_repr"]
