"""``callaudio batch`` without its extra's packages: one line, before anything is written
or announced, with an install command that works (callaudio is not on PyPI)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from callaudio.batch import run
from callaudio.cli import main
from callaudio.errors import ConfigError, install_hint

pytest.importorskip("pyarrow")


def _manifest(tmp_path: Path) -> Path:
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,mic\nlost,nowhere.wav\n")
    return manifest


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("callaudio: error: batch:"), lines[0]
    return lines[0]


def test_without_pyarrow_nothing_runs_and_nothing_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--workers 0`` without pyarrow announced the run, ran the first item and then
    failed, leaving the lock, configs.json and the item's audio in ``--out``."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # an import of it raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "o"
    argv = ["batch", str(_manifest(tmp_path)), "--out", str(out), "--workers", "0"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    line = _one_line(err)
    assert "pyarrow" in line and install_hint("batch") in line
    assert not out.exists()


def test_without_dask_the_refusal_comes_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without dask.distributed (a local cluster asked for) the "items to run" line came
    before the refusal: two lines."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    out = tmp_path / "o"
    assert main(["batch", str(_manifest(tmp_path)), "--out", str(out)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "dask.distributed" in line and "--workers 0" in line
    assert install_hint("batch") in line
    assert not out.exists()


def test_install_hints_name_a_checkout_or_a_wheel_not_pypi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pip install 'callaudio[peers]'`` would go to PyPI, where callaudio is not."""
    from callaudio.batch import processors as procs_module

    monkeypatch.setattr(procs_module, "_installed", lambda module: False)  # no peer here
    with pytest.raises(ConfigError) as info:
        run(_manifest(tmp_path), tmp_path / "o", processors=("callaudio", "webrtc"), workers=0)
    text = str(info.value)
    assert 'pip install ".[peers]" in a checkout' in text
    assert 'pip install "callaudio-<version>-<tags>.whl[peers]" for a wheel' in text
    assert "callaudio[" not in text
    assert not (tmp_path / "o").exists()


def test_no_install_hint_in_the_sources_points_at_pypi() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "callaudio"
    bad = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if "callaudio[" in p.read_text(encoding="utf-8")
    ]
    assert bad == []


@pytest.mark.parametrize("absent", ["speechmos", "librosa", "onnxruntime"])
def test_mos_names_the_extra_and_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, absent: str
) -> None:
    """``--mos`` with speechmos but not librosa (which speechmos imports and does not
    declare) passed the check and failed every item, each row telling the user to install
    speechmos, which was installed: the check names the ``mos`` extra and what is missing."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == absent else real(name, *a)
    )
    out = tmp_path / "o"
    argv = ["batch", str(_manifest(tmp_path)), "--out", str(out), "--workers", "0", "--mos"]
    assert main(argv) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("callaudio: error: mos: ")
    assert install_hint("mos") in line and f"missing: {absent}" in line
    assert not out.exists()


def test_a_dashboard_without_bokeh_is_refused_before_the_cluster_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--dashboard`` without bokeh ran with no dashboard and no word (Dask served a page
    saying it needs bokeh)."""
    import importlib.util

    pytest.importorskip("distributed")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "bokeh" else real(name, *a)
    )
    out = tmp_path / "o"
    assert main(["batch", str(_manifest(tmp_path)), "--out", str(out), "--dashboard"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("callaudio: error: dashboard: ") and "bokeh" in line
    assert not out.exists()
