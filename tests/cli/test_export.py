"""``panic-trio export RUN PATH``: a zip from the command line; bad input is one line."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from tests.cli.test_commands import add_user, env, run

__all__ = ["env"]  # the fixture


def make_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    add_user(monkeypatch, capsys, "cli@example.org")
    code, out, _ = run(
        ["network", "add", "demo", "--owner", "cli@example.org", "--models", "dummy-t2i,dummy-i2t"],
        capsys,
    )
    assert code == 0
    code, out, _ = run(
        ["run", out.strip().splitlines()[-1], "a <b>balloon</b>", "--count", "3"], capsys
    )
    assert code == 0
    found = re.search(r"run (\d+) started", out)
    assert found
    return found.group(1)


def test_export_writes_a_zip_to_a_path_or_into_a_folder(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_number = make_run(monkeypatch, capsys)
    target = env / "night.zip"
    code, out, err = run(["export", run_number, str(target)], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == f"{target} ({target.stat().st_size:,} bytes)"
    archive = zipfile.ZipFile(target)
    assert archive.namelist()[-2:] == ["run.json", "index.html"]
    assert json.loads(archive.read("run.json"))["run"]["prompt"] == "a <b>balloon</b>"

    code, out, err = run(["export", run_number, str(env)], capsys)
    assert code == 0, err
    assert (env / f"panic-run-{run_number}.zip").exists()


def test_bad_exports_are_one_line_and_write_nothing(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_number = make_run(monkeypatch, capsys)
    (env / "taken.zip").write_bytes(b"mine")
    cases = [
        (["export", "999", str(env / "a.zip")], "no run 999"),
        (["export", run_number, str(env / "taken.zip")], "exists already"),
        (["export", run_number, str(env / "missing" / "a.zip")], "does not exist"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert code == 2, argv
        lines = [line for line in err.splitlines() if "alembic" not in line]
        assert len(lines) == 1, err
        assert message in lines[0]
    with pytest.raises(SystemExit) as exited:  # argparse's own one-line usage error
        run(["export", "zero", str(env / "a.zip")], capsys)
    assert exited.value.code == 2
    assert "'zero' is not a run number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # a digit to str.isdigit(), not to int()
        run(["export", "\u00b2", str(env / "a.zip")], capsys)
    assert exited.value.code == 2
    assert "is not a run number" in capsys.readouterr().err
    assert (env / "taken.zip").read_bytes() == b"mine"
    assert sorted(p.name for p in env.glob("*.zip")) == ["taken.zip"]
