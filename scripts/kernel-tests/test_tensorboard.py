"""TensorBoard's own reader (EventAccumulator) on the event files Joule writes: a short
train_jem.lua run's scalars equal its log.jsonl, its pictures are PNGs of the sizes logged, its
energy histograms hold one count per image; joule.tb's images, histograms and text read back as
written; and a file cut in the middle of a record reads up to the cut."""
import json
import math
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator as ea

from conftest import JOULE

KEEP_ALL = {ea.SCALARS: 0, ea.IMAGES: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0, ea.COMPRESSED_HISTOGRAMS: 0}


def accumulate(folder):
    acc = ea.EventAccumulator(str(folder), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def event_files(folder):
    files = sorted(Path(folder).glob("events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    return files


def decode_png(data):
    """(width, height, channels) of a PNG after checking every chunk's CRC and inflating its pixels
    to exactly the rows the header promises."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, header = 8, b"", None
    while at < len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + n]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[at + 8 + n:at + 12 + n])[0], kind
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    width, height, depth, color = header[:4]
    assert depth == 8
    channels = {0: 1, 2: 3, 6: 4}[color]
    assert len(zlib.decompress(idat)) == height * (1 + width * channels)
    return width, height, channels


def run_lua(tmp_path, source, *args):
    script = tmp_path / "tb.lua"
    script.write_text(source)
    r = subprocess.run([JOULE, "run", str(script), "-p", f"run={tmp_path / 'run'}", *args],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return r.stdout


def train(run, data_dir, tb_every):
    """train_jem.lua for 3 short epochs."""
    r = subprocess.run([JOULE, "run", str(Path(__file__).resolve().parents[1] / "train_jem.lua"),
                        "-p", f"data={data_dir}", "-p", f"run={run}", "-p", "epochs=3", "-p", "max_batches=2",
                        "-p", "hidden=4", "-p", "steps=5", "-p", "batch_size=16", "-p", "eval_samples=4",
                        "-p", "buffer_per_class=4", "-p", "progress=false", "-p", f"tb_every={tb_every}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return run


@pytest.fixture(scope="module")
def training_run(tmp_path_factory, data_dir):
    """With TensorBoard pictures every 2 epochs (so at 2 and 3)."""
    return train(tmp_path_factory.mktemp("tb-train") / "run", data_dir, 2)


def test_pictures_change_nothing_in_training(training_run, data_dir, tmp_path):
    """Their sampler has a generator of its own: without them, the same log and weights, bit for bit."""
    plain = train(tmp_path / "plain", data_dir, 0)
    for f in ("log.jsonl", "last/model.safetensors", "last/state.safetensors"):
        assert (plain / f).read_bytes() == (training_run / f).read_bytes(), f
    assert not accumulate(plain).Tags()["images"] and not accumulate(plain).Tags()["histograms"]


def test_scalars_equal_the_run_log(training_run):
    acc = accumulate(training_run)
    lines = [json.loads(l) for l in (training_run / "log.jsonl").read_text().splitlines()]
    lines = [l for l in lines if "event" not in l]  # the divergence guard's rollbacks, if any (not curves)
    assert len(lines) == 3
    tags = set(acc.Tags()["scalars"])
    for key in lines[0]:
        if key == "step" or not isinstance(lines[0][key], (int, float)):
            continue
        assert key in tags, (key, tags)
        events = acc.Scalars(key)
        assert [e.step for e in events] == [l["step"] for l in lines], key
        for e, l in zip(events, lines):
            if l[key] is None:  # a NaN in log.jsonl is null
                assert math.isnan(e.value)
            else:
                assert e.value == np.float32(l[key]), (key, e.value, l[key])
    assert "step" not in tags  # the x axis, not a curve


def test_samples_chain_and_histograms(training_run, data_dir):
    acc = accumulate(training_run)
    steps = [l["step"] for l in map(json.loads, (training_run / "log.jsonl").read_text().splitlines()) if "event" not in l]
    want = [steps[1], steps[2]]  # epochs 2 (every 2nd) and 3 (the last)
    for tag in ("samples/generated", "samples/chain"):
        images = acc.Images(tag)
        assert [i.step for i in images] == want, tag
        for i in images:
            w, h, _ = decode_png(i.encoded_image_string)
            assert (w, h) == (i.width, i.height), tag
    # 16 samples of 56×56, 8 per row, at twice their size.
    g = acc.Images("samples/generated")[0]
    assert 8 * 112 <= g.width < 9 * 112 and 2 * 112 <= g.height < 3 * 112, (g.width, g.height)
    n_val = int(np.load(data_dir / "val.npy", allow_pickle=False).shape[0])
    n_ood = int(np.load(data_dir / "ood_ta.npy", allow_pickle=False).shape[0])
    counts = {"energy/real": min(256, n_val), "energy/sampled": 16, "energy/noise": 64, "energy/ood_ta": min(256, n_ood)}
    for tag, n in counts.items():
        hs = acc.Histograms(tag)
        assert [h.step for h in hs] == want, tag
        for h in hs:
            v = h.histogram_value
            assert v.num == n and sum(v.bucket) == n and len(v.bucket) == len(v.bucket_limit) == 30, tag
            assert v.min <= v.max and v.bucket_limit[-1] == v.max
    text = acc.Tensors("samples/classes")
    assert [t.step for t in text] == want
    assert text[0].tensor_proto.string_val[0].decode().startswith("row by row: classes 0, 2, 5,")


def test_joule_tb_functions(tmp_path):
    out = run_lua(tmp_path, """
        joule.log{ step = 10, loss = 0.5 }
        local w, h = joule.tb.image("one", joule.tensor.zeros(1, 1, 20, 24))             -- step 10: the log's
        print(w, h)
        local fig = joule.plot.histogram({ a = { 1, 2, 2, 3 } }, { bins = 3 })
        local fw, fh = fig:size()
        print(fw, fh, joule.tb.image("figure", fig, { step = 11 }))
        local t, o = joule.tensor.rand(5, 1, 7, 9), { nrow = 5, padding = 1, scale = 3 }
        local gw, gh = joule.plot.grid(t, o):size()
        o.step = 12
        print(gw, gh, joule.tb.image("grid", t, o))
        print(joule.tb.histogram("h", { 0, 1, 2, 3, 4, 0 / 0 }, { step = 13, bins = 4 }))
        joule.tb.histogram("ht", joule.tensor.rand(1000), { step = 13 })
        joule.tb.text("notes", "**bold** and ünïcode", { step = 14 })
        joule.tb.scalar("extra", 2.5, { step = 15 })
        joule.log{ loss = 0.25 }                                                       -- step 2: the second line
        print(joule.tb.path())
    """)
    lines = [l for l in out.splitlines() if "=" not in l]  # joule.log prints its lines too
    assert lines[0] == "24\t20"
    fw, fh, w2, h2 = map(int, lines[1].split("\t"))
    assert (fw, fh) == (w2, h2)
    gw, gh, w3, h3 = map(int, lines[2].split("\t"))
    assert (gw, gh) == (w3, h3) and gw >= 5 * 27 and gh >= 21
    assert lines[3] == "5"
    assert Path(lines[4]).parent == tmp_path / "run" and Path(lines[4]).name.startswith("events.out.tfevents.")

    acc = accumulate(tmp_path / "run")
    sizes = {tag: [(i.step, i.width, i.height, decode_png(i.encoded_image_string)) for i in acc.Images(tag)]
             for tag in ("one", "figure", "grid")}
    assert sizes["one"] == [(10, 24, 20, (24, 20, 1))]
    assert sizes["figure"][0][:3] == (11, fw, fh) and sizes["figure"][0][3][:2] == (fw, fh)
    assert sizes["grid"][0] == (12, gw, gh, (gw, gh, 1))
    h = acc.Histograms("h")[0]
    assert h.step == 13
    v = h.histogram_value
    assert (v.num, v.min, v.max, v.sum, v.sum_squares) == (5, 0, 4, 10, 30)
    assert list(v.bucket_limit) == [1, 2, 3, 4] and list(v.bucket) == [2, 1, 1, 1]
    assert acc.Histograms("ht")[0].histogram_value.num == 1000
    t = acc.Tensors("notes")[0]
    assert t.step == 14 and t.tensor_proto.string_val == [("**bold** and ünïcode").encode()]
    assert [(s.step, s.value) for s in acc.Scalars("extra")] == [(15, 2.5)]
    assert [(s.step, s.value) for s in acc.Scalars("loss")] == [(10, 0.5), (2, 0.25)]
    # TensorBoard's text plugin finds the text by its plugin name.
    assert "notes" in acc.PluginTagToContent("text")
    # Every record is an Event as TensorFlow's own protocol buffers (shipped with TensorBoard) parse it,
    # and it is their canonical encoding: no field, number or wire type differs.
    from tensorboard.compat.proto.event_pb2 import Event
    [file] = event_files(tmp_path / "run")
    data = file.read_bytes()
    records, at = [], 0
    while at < len(data):
        n = struct.unpack("<Q", data[at:at + 8])[0]
        records.append(data[at + 12:at + 12 + n])
        at += 16 + n
    events = [Event.FromString(r) for r in records]
    assert [e.SerializeToString() for e in events] == records
    assert events[0].file_version == "brain.Event:2" and len(events) == 10
    assert events[8].summary.value[0].tag == "extra" and events[8].summary.value[0].simple_value == 2.5


def test_file_cut_mid_record_reads_up_to_the_cut(tmp_path):
    run_lua(tmp_path, "for i = 1, 5 do joule.log{ step = i, x = i * 1.5 } end")
    [full] = event_files(tmp_path / "run")
    data = full.read_bytes()
    # Records: 8 bytes of length, 4 of its checksum, the data, 4 of the data's checksum.
    ends, at = [], 0
    while at < len(data):
        at += 16 + struct.unpack("<Q", data[at:at + 8])[0]
        ends.append(at)
    assert ends[-1] == len(data) and len(ends) == 6  # the version record and five events
    for cut in (ends[-2] + 3, ends[-2] + 13, ends[-1] - 1, ends[-3] + 20):
        folder = tmp_path / f"cut{cut}"
        folder.mkdir()
        (folder / full.name).write_bytes(data[:cut])
        whole = sum(e <= cut for e in ends) - 1  # events before the cut, without the version record
        assert [s.step for s in accumulate(folder).Scalars("x")] == list(range(1, whole + 1)), cut
    # A corrupted record ends the reading there too (TensorBoard checks the checksums).
    bad = bytearray(data)
    bad[ends[2] + 14] ^= 0xFF
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / full.name).write_bytes(bytes(bad))
    assert [s.step for s in accumulate(folder).Scalars("x")] == [1, 2]
