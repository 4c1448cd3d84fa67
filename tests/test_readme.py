"""The README's examples run as doctests, so the README stays true."""

from __future__ import annotations

import doctest
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples():
    result = doctest.testfile(
        str(README),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 5
    assert result.failed == 0


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def _python_block_with(text: str, marker: str) -> str:
    """The README's fenced ``python`` block (not a doctest) that contains ``marker``."""
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    found = [b for b in blocks if marker in b and ">>>" not in b]
    assert len(found) == 1, f"{len(found)} python blocks hold {marker!r}"
    return found[0]


def test_readme_corpus_recipe_writes_a_synthetic_layout(tmp_path, monkeypatch):
    """The script that makes a corpus for `callaudio batch` runs as shown (two short items
    instead of 8 of 10 s) and writes a folder the batch loader reads as the AEC Challenge
    synthetic layout, every signal present."""
    from callaudio.batch import detect_layout, load_items

    code = _python_block_with(README.read_text(), 'Path("datasets/synthetic")')
    sized = code.replace("n_items, seconds = 8, 10.0", "n_items, seconds = 2, 1.0")
    assert sized != code
    monkeypatch.chdir(tmp_path)
    exec(compile(sized, "README.md", "exec"), {})
    root = tmp_path / "datasets" / "synthetic"
    assert detect_layout(root) == "aec-synthetic"
    items = load_items(root)
    assert [i.id for i in items] == ["fileid_0", "fileid_1"]
    for item in items:
        for path in (item.mic, item.far, item.near, item.echo):
            assert path is not None and (root / path).is_file()


def test_readme_resume_commands_repeat_the_runs_configurations():
    """`--resume` runs the configurations it is given (`default` when none): the README's
    "continue an interrupted run" line, without the `--config` options of the run it
    continued, ran a new `default` configuration instead of only the missing rows."""
    import re
    import shlex

    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README.read_text(), re.S):
        lines = block.replace("\\\n", " ").splitlines()
        commands += [shlex.split(ln) for ln in lines if ln.startswith("callaudio batch")]
    runs: dict[str, list[str]] = {}
    resumed = 0
    for argv in commands:
        out = argv[argv.index("--out") + 1]
        configs = [argv[i + 1] for i, a in enumerate(argv) if a == "--config"]
        if "--resume" in argv:
            assert out in runs, f"{shlex.join(argv)} resumes a run the README does not show"
            assert configs == runs[out], shlex.join(argv)
            resumed += 1
        else:
            runs[out] = configs
    assert resumed >= 1
