"""Untrusted bytes read with limits, before anything is inflated or materialised.

The libraries that finally read a file trust what it declares: torch.load(weights_only=True)
inflates every zip record before any check, safetensors materialises every entry of its header,
json.loads recurses once per nesting level and builds every value, and zipfile itself builds
one object per central-directory entry. So each reader here looks at the declared sizes first,
with cheap byte-level reads, and refuses a file whose declarations exceed the limits; only then
is the file handed to the real reader. Every refusal is a BoundsError (a ValueError; an
Unreadable one when the file contradicts itself) whose message names at most a few items
(few()).
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zipfile
import zlib
from pathlib import Path

MIB = 2**20
ZIP_CD_BYTES_PER_RECORD = 46 + 256  # a central-directory entry with a name of up to 256 bytes
SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                      "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8,
                      "F8_E4M3": 1, "F8_E5M2": 1}
JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
JSON_BRACKETS = re.compile(rb"[^\[\]{}]+")


class BoundsError(ValueError):
    """An untrusted file refused before it was unpacked, with the reason in plain words."""


class Unreadable(BoundsError):
    """Refused because the file contradicts itself (corrupt, truncated or forged), not because
    it is too large."""


def few(items, n: int = 5) -> str:
    """'a, b, c, d, e … and 195 more': a list as an error message may show it."""
    items = list(items)
    shown = ", ".join(str(x)[:80] for x in items[:n])
    return shown + (f" … and {len(items) - n:,} more" if len(items) > n else "")


def read_bounded(source: str | Path | bytes, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a path or of bytes already read, refused above max_bytes (a path is refused
    by its size on disk, before it is read)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source)
        if path.is_file() and path.stat().st_size > max_bytes:
            raise BoundsError(f"the {what} is larger than the {max_bytes / MIB:g} MiB limit")
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise BoundsError(f"the {what} is larger than the {max_bytes / MIB:g} MiB limit")
    return data


# -- zip (torch.save, .keras) ---------------------------------------------------------------


def read_zip_bounded(source: str | Path | bytes, max_total_bytes: int, max_records: int,
                     allow_compressed: bool = False) -> zipfile.ZipFile:
    """Open an untrusted zip only after its declarations are checked; -> an open ZipFile.

    source: a path or the file's bytes (a path is refused by its size before it is read).
    max_total_bytes: the most the records may declare uncompressed, all together.
    max_records: the most records (checked in the end record, and by the central directory's
        size, before zipfile builds one object per entry).
    allow_compressed: False (torch.save never compresses): every record must be ZIP_STORED,
        its stored size equal to its declared size. True (.keras): ZIP_DEFLATED is allowed too;
        read such records with read_record(zf, name, max_bytes), which stops at a limit
        whatever the record declares.

    Also refused: records that lie outside the file, a local header that disagrees with the
    central directory on the method, repeated names. Raises BoundsError."""
    overhead = max_records * 2 * (30 + 64 + ZIP_CD_BYTES_PER_RECORD) + 22 + 65535 + 98
    data = read_bounded(source, max_total_bytes + overhead, "zip file")  # headers, padding,
    # the central directory and the end records beside the records' bytes
    entries, cd_size = _zip_end_record(data)
    if entries > max_records or cd_size > max_records * ZIP_CD_BYTES_PER_RECORD:
        raise BoundsError(f"the zip archive declares {entries:,} records; the limit is "
                          f"{max_records:,}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as e:
        raise Unreadable(f"not a readable zip archive: {e}") from None
    infos = zf.infolist()
    if len(infos) > max_records:
        raise BoundsError(f"the zip archive holds {len(infos):,} records; the limit is "
                          f"{max_records:,}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise Unreadable("the zip archive names a record twice")
    require_methods(zf, (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) if allow_compressed
                    else (zipfile.ZIP_STORED,))
    total = sum(i.file_size for i in infos)
    if total > max_total_bytes:
        raise BoundsError(f"the zip archive declares {total:,} bytes uncompressed; the limit is "
                          f"{max_total_bytes / MIB:g} MiB")
    for info in infos:
        _check_local_header(data, info)
    return zf


def require_methods(zf: zipfile.ZipFile, methods: tuple[int, ...]) -> None:
    """Every record stored with one of `methods` (ZIP_STORED alone: torch.save never
    compresses; an archive opened with allow_compressed=True can be held to it afterwards)."""
    packed = [i.filename for i in zf.infolist() if i.compress_type not in methods]
    if packed:
        kind = "compressed (torch.save never compresses)" if methods == (zipfile.ZIP_STORED,) \
            else "compressed with a method other than deflate"
        raise BoundsError(f"the zip archive holds records {kind}: {few(packed)}")


def read_record(zf: zipfile.ZipFile, name: str, max_bytes: int) -> bytes:
    """One record's bytes, never more than max_bytes inflated whatever the record declares."""
    if zf.getinfo(name).file_size > max_bytes:
        raise BoundsError(f"the record {name[:80]!r} declares more than {max_bytes:,} bytes")
    try:
        with zf.open(name) as f:
            out = f.read(max_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:  # a bad CRC, a bad stream
        raise Unreadable(f"the record {name[:80]!r} is corrupt: {str(e)[:80]}") from None
    if len(out) > max_bytes:
        raise BoundsError(f"the record {name[:80]!r} inflates past {max_bytes:,} bytes")
    return out


def _zip_end_record(data: bytes) -> tuple[int, int]:
    """(records, central-directory bytes) from the end record (zip64's where there is one, as
    torch.save always writes)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if end < 0 or end + 22 > len(data):
        raise Unreadable("not a readable zip archive (no end-of-archive record)")
    entries, cd_size = struct.unpack_from("<HI", data, end + 10)
    locator = end - 20
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        (at,) = struct.unpack_from("<Q", data, locator + 8)
        if at + 56 > len(data) or data[at:at + 4] != b"PK\x06\x06":
            raise Unreadable("not a readable zip archive (a broken zip64 end record)")
        entries, cd_size = struct.unpack_from("<QQ", data, at + 32)
    return entries, cd_size


def _check_local_header(data: bytes, info: zipfile.ZipInfo) -> None:
    at = info.header_offset
    if at + 30 > len(data) or data[at:at + 4] != b"PK\x03\x04":
        raise Unreadable(f"not a readable zip archive (record {info.filename[:80]!r} has no "
                          "header where the directory says)")
    (method,) = struct.unpack_from("<H", data, at + 8)
    name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
    end = at + 30 + name_len + extra_len + info.compress_size
    if method != info.compress_type or end > len(data):
        raise Unreadable(f"not a readable zip archive (record {info.filename[:80]!r} disagrees "
                          "with the directory or lies outside the file)")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise Unreadable(f"the record {info.filename[:80]!r} declares {info.file_size:,} bytes "
                          f"but stores {info.compress_size:,}")


# -- safetensors ----------------------------------------------------------------------------


def check_safetensors(data: bytes, max_header_bytes: int, max_entries: int,
                      max_total_bytes: int) -> dict:
    """Read a safetensors file's header (8-byte little-endian length, then JSON) and check it
    before safetensors materialises anything: header size, number of entries, dtypes, shapes
    against offsets, offsets inside the file, total bytes. -> the parsed header."""
    n = int.from_bytes(data[:8], "little")
    body = len(data) - 8
    if n > body:
        raise Unreadable(f"its header claims {n:,} bytes but the file holds {body:,}")
    if n > max_header_bytes:
        raise BoundsError(f"its header is {n:,} bytes; the limit is {max_header_bytes:,} "
                          f"(at most {max_entries:,} tensors)")
    raw = data[8:8 + n]
    if raw.count(b",") > 16 * max_entries:
        raise BoundsError(f"its header holds too many values (at most {max_entries:,} tensors)")
    header = loads_json_bounded(raw, max_depth=4, what="safetensors header")
    if not isinstance(header, dict):
        raise Unreadable("its header is not a JSON object")
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    if len(entries) > max_entries:
        raise BoundsError(f"it holds {len(entries):,} tensors; the limit is {max_entries:,}")
    total = 0
    for name, entry in entries.items():
        total += _check_entry(name, entry, body - n)
    if total > max_total_bytes:
        raise BoundsError(f"its tensors declare {total:,} bytes; the limit is "
                          f"{max_total_bytes / MIB:g} MiB")
    return header


def _check_entry(name: str, entry: object, payload: int) -> int:
    label = repr(name[:80])
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise Unreadable(f"the entry {label} is not dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in SAFETENSORS_DTYPES or not _naturals(shape, 8) or not _naturals(
            offsets, 2) or len(offsets) != 2:
        raise Unreadable(f"the entry {label} has an unknown dtype, shape or offsets")
    begin, end = offsets
    if not begin <= end <= payload:
        raise Unreadable(f"the tensor {label} ends at byte {end:,}, past the end of the file")
    if math.prod(shape) * SAFETENSORS_DTYPES[dtype] != end - begin:
        raise Unreadable(f"the tensor {label}'s shape does not match its offsets")
    return end - begin


def _naturals(xs: object, most: int) -> bool:
    """A list of at most `most` non-negative ints (JSON's true and false are not ints here)."""
    return isinstance(xs, list) and len(xs) <= most and all(
        type(x) is int and x >= 0 for x in xs)


# -- JSON (vocabularies, configs) -----------------------------------------------------------


def json_depth(raw: bytes, stop_above: int = 2**31) -> int:
    """The deepest nesting of [ and { outside strings, without parsing (no recursion); the
    count stops once it passes stop_above."""
    brackets = JSON_BRACKETS.sub(b"", JSON_STRING.sub(b"", raw))
    depth = deepest = 0
    for b in brackets:  # one add per bracket, at most the file's size
        depth += 1 if b in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > stop_above:
                break
    return deepest


def loads_json_bounded(raw: bytes | str, max_depth: int, what: str = "JSON file") -> object:
    """json.loads after checking the nesting depth (json.loads recurses once per level and
    raises RecursionError on deep input); every parser error becomes a BoundsError."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if json_depth(raw, stop_above=max_depth) > max_depth:
        raise BoundsError(f"the {what} nests lists or objects more than {max_depth} levels "
                          "deep")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError
        raise Unreadable(f"the {what} is not valid JSON: {str(e)[:120]}") from None


# -- HDF5 (Keras files) ---------------------------------------------------------------------


def check_h5(h5, max_bytes: int, max_datasets: int = 4096) -> int:
    """Walk every dataset of an open h5py.File and sum what its declared shape and dtype would
    hold, before any is read: HDF5 allocates a dataset lazily, so a file of a few KB can declare
    gigabytes that read back as its fill value. -> the declared bytes; BoundsError above
    max_bytes (the size and the limit in the message) or past max_datasets objects."""
    import h5py

    total, seen, biggest = 0, [0], []

    def visit(name: str, obj: object) -> bool | None:
        seen[0] += 1
        if seen[0] > max_datasets:
            return True  # stops the walk
        if isinstance(obj, h5py.Dataset):
            size = math.prod(obj.shape or ()) * obj.dtype.itemsize
            nonlocal total
            total += size
            biggest.append((size, name))
        return None

    h5.visititems(visit)
    if seen[0] > max_datasets:
        raise BoundsError(f"the HDF5 file holds more than {max_datasets:,} objects")
    if total > max_bytes:
        name = max(biggest)[1]
        raise BoundsError(f"its weights declare {total / MIB:,.1f} MiB ({name[:80]!r} alone "
                          f"{max(biggest)[0] / MIB:,.1f} MiB); the limit is "
                          f"{max_bytes / MIB:g} MiB")
    return total
