"""Bombs: files that declare far more than they hold are refused before anything is inflated.

Each bomb is loaded in a child Python (torch imported, the file read) and its peak RSS measured
there, against the same child's resident size just before load_checkpoint: the load may add
little, and the message is short and says what is wrong. The peak is the kernel's VmHWM, reset
just before the load (/proc/self/clear_refs): getrusage's ru_maxrss would do, but a child
starts with its parent's peak (Linux keeps it across exec), which would hide the load's.
"""

import io
import json
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import pytest
import safetensors.torch
import torch

from gru_core import CheckpointError, load_checkpoint, read_vocab
from gru_core.core.bounds import BoundsError, Unreadable, read_record, read_zip_bounded
from gru_core.core.checkpoint import check_tensors
from gru_core.core.importer import NotFound, find_gru_model

ROOT = Path(__file__).resolve().parents[2]
MAX_EXTRA_MIB = 150  # above the child's own RSS with torch imported and the file read
VOCAB = list("abcde")

CHILD = textwrap.dedent("""
    import gc, resource, sys
    import torch
    from gru_core import load_checkpoint, read_vocab

    def status(field):  # kB, of this process's own memory
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])

    data = open(sys.argv[1], "rb").read()
    kind = sys.argv[2]
    if len(sys.argv) > 3:  # a cap on the address space, for measuring code without bounds
        cap = int(sys.argv[3])
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak restarts from the RSS now
    before = status("VmRSS")
    try:
        if kind == "vocab":
            read_vocab(data)
        else:
            load_checkpoint(data, vocab=list("abcde"))
        message = "loaded"
    except MemoryError:
        message = "MemoryError"
    except BaseException as e:
        message = type(e).__name__ + ": " + str(e)
    print(max(0, status("VmHWM") - before) // 1024)  # kB -> MiB
    print(message[:2000])
    print(len(message))
""")


def peak_rss(path: Path, kind: str = "checkpoint", cap: int | None = None,
             pythonpath: Path = ROOT) -> tuple[int, str, int]:
    """-> (MiB the load added to the child's peak RSS, its message, the message's length)."""
    args = [sys.executable, "-c", CHILD, str(path), kind] + ([str(cap)] if cap else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=pythonpath,
                         env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"})
    lines = out.stdout.splitlines()
    if out.returncode or len(lines) < 3:
        return -1, f"child died (rc {out.returncode}): {out.stderr[-300:]}", 0
    return int(lines[0]), "\n".join(lines[1:-1]), int(lines[-1])


# -- builders -------------------------------------------------------------------------------


def _zip(records: list[tuple[str, int, int, int, bytes]]) -> bytes:
    """A zip written by hand: (name, method, crc, declared size, stored payload) per record,
    so that a record can declare what it does not hold."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, method, crc, size, payload in records:
        at = out.tell()
        head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(payload),
                           size, len(name), 0)
        out.write(head + name.encode() + payload)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0,
                                  crc, len(payload), size, len(name), 0, 0, 0, 0, 0, at)
                      + name.encode())
    cd = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(records), len(records), len(cd),
                      out.tell(), 0)
    return out.getvalue() + cd + end


def _torch_records(obj) -> list[tuple[str, int, int, int, bytes]]:
    buf = io.BytesIO()
    torch.save(obj, buf)
    zf = zipfile.ZipFile(buf)
    return [(i.filename, 0, i.CRC, i.file_size, zf.read(i)) for i in zf.infolist()]


def numel_bomb() -> bytes:
    """torch.save's own records, its pickle declaring 2**31 - 1 floats (8 GiB) for a record of
    16 bytes (torch compares the two before it allocates)."""
    records = []
    for name, method, crc, size, payload in _torch_records({"weight_ih_l0": torch.zeros(4)}):
        if name.endswith("data.pkl"):
            at = payload.index(b"K\x04", payload.index(b"cpu"))  # BININT1 4: the numel
            payload = payload[:at] + b"J" + struct.pack("<i", 2**31 - 1) + payload[at + 2:]
            crc, size = zlib.crc32(payload), len(payload)
        records.append((name, method, crc, size, payload))
    return _zip(records)


def deflate_bomb(n_mib: int = 1024) -> bytes:
    """torch.save's own records, its one tensor's record replaced by n_mib MiB of zeros
    deflated to ~1 MB (a full flush makes every MiB compress to the same bytes)."""
    chunk = bytes(2**20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    payload = first + again * (n_mib - 1) + c.flush()
    crc = 0
    for _ in range(n_mib):
        crc = zlib.crc32(chunk, crc)
    records = [(n, 8, crc, n_mib * 2**20, payload) if n.endswith("/data/0") else r
               for r in _torch_records({"weight_ih_l0": torch.zeros(4)}) for n in [r[0]]]
    return _zip(records)


def declared_bomb() -> bytes:
    """Stored records whose declared sizes (4 GiB each) dwarf what they hold."""
    return _zip([(n, 0, crc, 2**32 - 1, payload) if n.endswith("/data/0") else (n, 0, crc, s,
                                                                                 payload)
                 for n, _, crc, s, payload in _torch_records({"weight_ih_l0": torch.zeros(4)})])


def safetensors_of(header: dict, payload: bytes = b"") -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    return len(raw).to_bytes(8, "little") + raw + payload


def empty_entries(n: int) -> bytes:
    return safetensors_of({f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
                           for i in range(n)})


def torchscript() -> bytes:
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.GRU(5, 8)), buf)
    return buf.getvalue()


KERAS_CHAIN = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "Embedding", "config": {"name": "embedding", "input_dim": 100_000,
                                           "output_dim": 4096}},
    {"class_name": "GRU", "config": {"name": "gru", "units": 8, "return_sequences": True}},
    {"class_name": "Dense", "config": {"name": "dense", "units": 5}}]}}


def _h5(build) -> bytes:
    import h5py
    buf = io.BytesIO()
    with h5py.File(buf, "w", libver="latest") as h5:  # latest: attributes past 64 KiB
        build(h5)
    return buf.getvalue()


def _embedding(group, name: str) -> None:
    """An Embedding of 100,000 x 4,096 floats (1.6 GB) declared and never written: HDF5
    allocates it lazily, the file stays a few KB and reads it back as zeros."""
    group.create_dataset(name, shape=(100_000, 4096), dtype="float32")


def legacy_h5_bomb(config: str = json.dumps(KERAS_CHAIN), weights: bool = True) -> bytes:
    def build(h5):
        h5.attrs["model_config"] = config
        g = h5.create_group("model_weights/embedding")
        g.attrs["weight_names"] = [b"embedding/embeddings:0"]
        if weights:
            _embedding(g, "embedding/embeddings:0")
    return _h5(build)


def keras_bomb(config: bytes = json.dumps(KERAS_CHAIN).encode(), weights: bool = True) -> bytes:
    """A .keras file (ZIP_STORED, as Keras can write it): config.json and model.weights.h5."""
    h5 = _h5(lambda h5: _embedding(h5, "layers/embedding/vars/0") if weights else None)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("config.json", config)
        z.writestr("model.weights.h5", h5)
    return buf.getvalue()


DEEP = b"[" * 1_000_000 + b"]" * 1_000_000  # json.loads: RecursionError


BOMBS = {
    "deflate zip, 1 MB -> 1 GiB": (deflate_bomb, "compressed"),
    "zip declaring 4 GiB": (declared_bomb, "declares"),
    "pickle declaring 8 GiB for 16 bytes": (numel_bomb, "does not match expected size"),
    "safetensors, 900,000 empty entries": (lambda: empty_entries(900_000), "header is"),
    "safetensors header claiming 2**31 bytes": (
        lambda: (2**31).to_bytes(8, "little") + b'{"a":' + bytes(100), "claims"),
    "vocabulary nested 100,000 deep": (lambda: b"[" * 100_000 + b"]" * 100_000, "nests"),
    "legacy .h5, 11 KB declaring a 100,000 x 4,096 Embedding": (legacy_h5_bomb, "declare"),
    ".keras (stored), declaring a 100,000 x 4,096 Embedding": (keras_bomb, "declare"),
    ".keras, config.json nested 1,000,000 deep": (
        lambda: keras_bomb(DEEP, weights=False), "nests"),
    "legacy .h5, model_config nested 1,000,000 deep": (
        lambda: legacy_h5_bomb(DEEP.decode(), weights=False), "nests"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bombs")
    out = {}
    for name, (make, _) in BOMBS.items():
        out[name] = root / f"{len(out)}.bin"
        out[name].write_bytes(make())
    return out


@pytest.mark.parametrize("name", list(BOMBS))
def test_bomb_is_refused_before_it_is_inflated(files, name):
    kind = "vocab" if "vocabulary" in name else "checkpoint"
    mib, message, length = peak_rss(files[name], kind)
    assert 0 <= mib < MAX_EXTRA_MIB, (name, mib, message)
    error = "ValueError" if kind == "vocab" else "CheckpointError"
    assert message.startswith(error + ": ") and BOMBS[name][1] in message, message
    assert length < 300, message
    assert "Traceback" not in message


def test_the_deflate_bomb_really_is_one(files):
    """The bomb is what it claims: a ~1 MB file that zipfile inflates to 1 GiB of zeros."""
    data = files["deflate zip, 1 MB -> 1 GiB"].read_bytes()
    assert len(data) < 1.1 * 2**20
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = next(i for i in zf.infolist() if i.filename.endswith("/data/0"))
    assert info.file_size == 2**30 and info.compress_type == zipfile.ZIP_DEFLATED
    with zf.open(info) as f:
        assert f.read(2**20) == bytes(2**20)


def test_many_tensors_give_a_short_message():
    """200,000 tensors: a safetensors file is refused by its header's size (2,000 by their
    count); in a .pt they may all view one storage (one record), and reach the importer and
    the key check, whose messages list a few."""
    for n, message in ((200_000, "header is 11,688,891 bytes"), (2_000, "2,000 tensors; the")):
        with pytest.raises(CheckpointError, match=message) as err:
            load_checkpoint(empty_entries(n), vocab=VOCAB)
        assert len(str(err.value)) < 200
    one = torch.zeros(1)
    extra = {f"x{i}": one for i in range(200_000)}
    sd = {**torch.nn.GRU(5, 8).state_dict(), **extra}
    with pytest.raises(NotFound, match=r"also holds x0, x1, x10, x100, x1000 … and 199,995 more"
                       ) as err:
        find_gru_model(sd, len(VOCAB))
    assert len(str(err.value)) < 300, str(err.value)
    with pytest.raises(CheckpointError, match=r"unexpected x0, x1, .* and 199,995 more") as err:
        check_tensors(extra, {"gru.weight_ih_l0": torch.Size([24, 5])})
    assert len(str(err.value)) < 300, str(err.value)


def _advice_works(message: str, saved: bytes, name: str, tmp_path, monkeypatch) -> None:
    """The line a refusal gives, run as its owner would on the file, writes a state_dict that
    loads."""
    line = re.search(r"(torch\.save\(torch\..*?\)\)?, \"[\w.]+\"\))", message).group(1)
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(saved)
    exec(line, {"torch": torch})
    out = re.findall(r'"([\w.]+)"', line)[-1]
    assert load_checkpoint(tmp_path / out, vocab=VOCAB).config.hidden_size == 8


def test_torchscript_is_named_never_loaded_and_its_line_saves_a_state_dict(tmp_path,
                                                                         monkeypatch):
    data = torchscript()
    with pytest.raises(CheckpointError, match="TorchScript") as err:
        load_checkpoint(data, vocab=VOCAB)
    assert 'torch.save(torch.jit.load("model.pt").state_dict(), "state_dict.pt")' in str(
        err.value)
    assert "weights_only=False" not in str(err.value)
    _advice_works(str(err.value), data, "model.pt", tmp_path, monkeypatch)


def test_a_legacy_format_state_dict_is_refused_with_the_line_that_resaves_it(tmp_path,
                                                                            monkeypatch):
    buf = io.BytesIO()
    torch.save(torch.nn.GRU(5, 8).state_dict(), buf, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"legacy format.*torch\.save\(torch\.load") as err:
        load_checkpoint(buf.getvalue(), vocab=VOCAB)
    _advice_works(str(err.value), buf.getvalue(), "old.pt", tmp_path, monkeypatch)


@pytest.mark.parametrize("data, message", [
    (_zip([("archive/data.pkl", 0, 0, 2**32 - 1, b"x")]), "declares"),
    (_zip([("a", 0, 0, 1, b"x")] * 2), "twice"),
    (_zip([("archive/data.pkl", 12, 0, 1, b"x")]), "compressed"),
    (safetensors_of({"a": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}}),
     "past the end"),
    (safetensors_of({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)),
     "does not match"),
    (safetensors_of({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
     "unknown dtype"),
    (safetensors_of({"a": [1]}), "not dtype"),
    (b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.", "legacy format"),
])
def test_lying_files_are_refused_with_a_reason(data, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(data, vocab=VOCAB)


def test_a_deflated_zip_is_read_within_its_limits(files):
    """What a .keras loader uses: deflate allowed, every record read with a limit, whatever it
    declares."""
    data = files["deflate zip, 1 MB -> 1 GiB"].read_bytes()
    with pytest.raises(BoundsError, match="declares 1,073,742,048 bytes"):
        read_zip_bounded(data, 64 * 2**20, 16, allow_compressed=True)
    zf = read_zip_bounded(data, 2**31, 16, allow_compressed=True)
    with pytest.raises(BoundsError, match="declares more than 1,048,576 bytes"):
        read_record(zf, "archive/data/0", 2**20)
    stream = zlib.compress(bytes(2**24))[2:-4]  # 16 MiB of zeros, raw deflate
    liar = _zip([("model.weights.h5", 8, zlib.crc32(bytes(100)), 100, stream)])
    zf = read_zip_bounded(liar, 2**20, 16, allow_compressed=True)
    assert read_record(zf, "model.weights.h5", 2**20) == bytes(100)  # declares 100: reads 100
    zf = read_zip_bounded(_zip([("a", 8, 0, 100, stream)]), 2**20, 16, allow_compressed=True)
    with pytest.raises(Unreadable, match="corrupt"):  # its CRC is wrong
        read_record(zf, "a", 2**20)
    with pytest.raises(BoundsError, match="compressed"):
        read_zip_bounded(liar, 2**20, 16)
    with pytest.raises(BoundsError, match="declares 20 records"):
        read_zip_bounded(_zip([(f"r{i}", 0, 0, 0, b"") for i in range(20)]), 2**20, 16)


@pytest.mark.parametrize("data, message", [
    (b"[" * 10_000 + b"]" * 10_000, "nests"),
    (b'["a", ["b"]]', "list of strings"),
    (b'["a", "b"', "not valid JSON"),
    (b"[" + b'"a",' * 10 + b"]", "not valid JSON"),
    (b"x" * (17 * 2**20), "larger than"),
])
def test_vocabulary_files_give_a_clear_message(data, message):
    with pytest.raises(ValueError, match=message) as err:
        read_vocab(data)
    assert len(str(err.value)) < 300


def test_vocabularies_that_are_fine_still_read():
    assert read_vocab(b'["a", "b", "\\n"]') == ["a", "b", "\n"]
    assert read_vocab(b'["[", "]", "{", "\\"", "\\\\"]') == ["[", "]", "{", '"', "\\"]
    assert read_vocab(b"a\nb\n \n\\n\n") == ["a", "b", " ", "\n"]


def test_good_files_still_load_after_the_bounds():
    sd = torch.nn.GRU(5, 8).state_dict()
    assert load_checkpoint(safetensors.torch.save(sd), vocab=VOCAB).config.hidden_size == 8
    for path in sorted((ROOT / "checkpoints").glob("*.pt")):
        assert load_checkpoint(path).module is not None
