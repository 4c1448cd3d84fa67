"""Manifests and folder layouts: what items a batch finds (no processing)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from callaudio.batch import detect_layout, items, load_items
from callaudio.errors import ConfigError

from .conftest import real_layout, synthetic_layout


def _writer_later(fifo: Path) -> threading.Timer:
    """On a regression (the FIFO opened for reading), a writer comes after 5 s and ends the
    wait: the test fails instead of hanging."""
    timer = threading.Timer(5.0, lambda: open(fifo, "wb").close())
    timer.daemon = True
    timer.start()
    return timer


def test_csv_paths_are_relative_to_the_manifest(tmp_path: Path) -> None:
    sub = tmp_path / "lists"
    sub.mkdir()
    m = sub / "m.csv"
    m.write_text(
        "id,mic,far,echo_canceller.tail_ms\nb,../a/b_mic.wav,,\na10,x.wav,y.wav,\na2,x2.wav,,\n"
    )
    items = load_items(m)
    assert [it.id for it in items] == ["a2", "a10", "b"]  # natural order
    b = items[2]
    assert b.mic == str((tmp_path / "a" / "b_mic.wav").resolve())
    assert b.far is None and b.near is None and b.echo is None
    assert items[1].far == str((sub / "y.wav").resolve())


def test_csv_written_by_a_spreadsheet_with_a_byte_order_mark(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_bytes("id,mic\r\na,a.wav\r\n".encode("utf-8-sig"))
    assert [it.id for it in load_items(m)] == ["a"]


def test_unknown_column_is_refused(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_text("id,mic,fra\na,a.wav,b.wav\n")
    with pytest.raises(ConfigError, match="unknown column 'fra'"):
        load_items(m)


def test_stage_settings_columns(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    rows = [
        {"id": "a", "mic": "a.wav", "echo_canceller.tail_ms": 256},
        {"id": "b", "mic": "b.wav", "noise_suppressor.enabled": False},
    ]
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    a, b = load_items(m)
    assert a.settings == (("echo_canceller.tail_ms", 256),)
    assert b.settings == (("noise_suppressor.enabled", False),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,mic\na,a.wav\na,b.wav\n", "more than once"),
        ("id,far\na,a.wav\n", "'mic' column is required"),
        ("id,mic\n", "no items"),
        ("id,mic\n../up,a.wav\n", "cannot name an output file"),
        ("id,mic\n/abs,a.wav\n", "cannot name an output file"),
        ("id,mic\na//b,a.wav\n", "cannot name an output file"),
        # a newline or NUL made an output file named with it (and a multi-line report)
        ('id,mic\n"a\nb",a.wav\n', "no control characters"),
        ("id,mic\na\x00b,a.wav\n", "no control characters"),
        ("id,mic\na\tb,a.wav\n", "no control characters"),
        # every item's audio failed alone with 'File name too long' (error rows)
        ("id,mic\n" + "x" * 252 + ",a.wav\n", "longer than a file name holds"),
        ("id,mic\nd/" + "\u00e9" * 126 + ",a.wav\n", "longer than a file name holds"),
    ],
)
def test_bad_manifests(tmp_path: Path, text: str, message: str) -> None:
    m = tmp_path / "m.csv"
    m.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_items(m)


@pytest.mark.parametrize("ident", ["a\ud800b", "a\u2028b", "a\x85b"])
def test_an_id_no_file_name_or_report_line_holds_is_refused(tmp_path: Path, ident: str) -> None:
    # a lone surrogate (valid JSON) escaped the run as UnicodeEncodeError; U+2028 and NEL
    # break a line like a newline
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"id": ident, "mic": "a.wav"}) + "\n")
    with pytest.raises(ConfigError, match="no control characters"):
        load_items(m)


def test_bad_json_line_names_the_line(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text('{"id": "a", "mic": "a.wav"}\n{"id": \n')
    with pytest.raises(ConfigError, match=r"m\.jsonl:2"):
        load_items(m)


def test_input_that_is_neither(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ConfigError, match="no items found"):
        detect_layout(tmp_path)
    with pytest.raises(ConfigError, match=r"\.csv or \.jsonl"):
        detect_layout(tmp_path / "x.txt")
    with pytest.raises(ConfigError, match="no such file"):
        detect_layout(tmp_path / "missing.csv")


def test_aec_synthetic_layout(tmp_path: Path) -> None:
    synthetic_layout(tmp_path, 3)
    (tmp_path / "echo_signal" / "echo_fileid_2.wav").unlink()
    assert detect_layout(tmp_path) == "aec-synthetic"
    items = load_items(tmp_path)
    assert [it.id for it in items] == ["fileid_0", "fileid_1", "fileid_2"]
    it = items[0]
    assert it.mic.endswith("nearend_mic_signal/nearend_mic_fileid_0.wav")
    assert it.far is not None and it.far.endswith("farend_speech/farend_speech_fileid_0.wav")
    assert it.near is not None and it.near.endswith("nearend_speech_fileid_0.wav")
    assert it.echo is not None and it.echo.endswith("echo_signal/echo_fileid_0.wav")
    assert items[2].echo is None


def test_aec_real_layout(tmp_path: Path) -> None:
    real_layout(tmp_path, 2)
    (tmp_path / "sub" / "rec1_doubletalk_lpb.wav").unlink()
    assert detect_layout(tmp_path) == "aec-real"
    a, b = load_items(tmp_path)
    assert a.id == "sub/rec0_doubletalk"
    assert a.far is not None and a.far.endswith("rec0_doubletalk_lpb.wav")
    assert b.far is None and b.near is None and b.echo is None


def test_a_manifest_that_is_no_regular_file_is_refused_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "m.csv"
    os.mkfifo(fifo)  # opening it would wait for a writer; /dev/zero: see tests/cli
    timer = _writer_later(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_items(fifo)
    timer.cancel()


def test_a_manifest_past_the_size_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = tmp_path / "m.csv"
    m.write_text("id,mic\n" + "".join(f"a{i},a.wav\n" for i in range(20)))
    monkeypatch.setattr(items, "MANIFEST_MAX_BYTES", 100)
    with pytest.raises(ConfigError, match="larger than 100 bytes"):
        load_items(m)


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_manifest_past_the_item_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    # the byte cap alone let 256 MB of few-byte rows through: ~20 GB as rows and items
    m = tmp_path / f"m.{suffix}"
    if suffix == "csv":
        m.write_text("id,mic\n" + "".join(f"a{i},a.wav\n" for i in range(20)))
    else:
        m.write_text("".join(f'{{"id": "a{i}", "mic": "a.wav"}}\n' for i in range(20)))
    monkeypatch.setattr(items, "MANIFEST_MAX_ITEMS", 19)
    with pytest.raises(ConfigError, match="more than 19 items"):
        load_items(m)
    monkeypatch.setattr(items, "MANIFEST_MAX_ITEMS", 20)
    assert len(load_items(m)) == 20


@pytest.mark.parametrize(
    ("value", "mention"),
    [("[" * 100000 + "]" * 100000, "nested too deeply"), ("9" * 5000, "digits")],
)
def test_jsonl_values_the_parser_chokes_on_are_one_config_error(
    tmp_path: Path, value: str, mention: str
) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text('{"id": "a", "mic": "a.wav"}\n{"id": "b", "mic": "b.wav", "x": ' + value + "}\n")
    with pytest.raises(ConfigError, match=f"m.jsonl:2: not valid JSON .*{mention}"):
        load_items(m)


def test_ids_as_long_as_a_file_name_holds_are_taken(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_text("id,mic\n" + "x" * 251 + ",a.wav\n" + ("d" * 255 + "/") * 3 + "y,a.wav\n")
    assert sorted(len(it.id) for it in load_items(m)) == [251, 3 * 256 + 1]
