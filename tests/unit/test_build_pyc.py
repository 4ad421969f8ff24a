"""The built package ships bytecode for every third-party module, single-file modules included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))

from build_lambda import compile_pyc  # noqa: E402


def _python312() -> str | None:
    """The Lambda runtime's Python: pyenv's 3.12 (a pyenv shim on PATH may not run), else PATH's."""
    found = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"), reverse=True)
    candidate = str(found[0]) if found else shutil.which("python3.12")
    if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False).returncode == 0:
        return candidate
    return None


PYTHON312 = _python312()


@pytest.mark.skipif(PYTHON312 is None, reason="python3.12 (the Lambda runtime's) is not installed")
def test_top_level_modules_are_compiled_and_imported_without_their_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PYTHON312 is not None
    monkeypatch.setenv("PATH", f"{Path(PYTHON312).parent}:/usr/bin:/bin")
    # Given a package folder as pip installs it: a package and a single-file module (typing_extensions.py)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("VALUE = 'package'\n")
    (tmp_path / "solo.py").write_text("VALUE = 'single file'\n")
    (tmp_path / "own_app").mkdir()
    (tmp_path / "own_app" / "__init__.py").write_text("")
    # When it is compiled as the authorizer is (third-party code sourceless)
    compile_pyc(tmp_path, sourceless=True)
    # Then both ship as bytecode only, and the runtime's Python imports them from it
    assert (tmp_path / "solo.pyc").is_file() and not (tmp_path / "solo.py").exists()
    assert (tmp_path / "pkg" / "__init__.pyc").is_file() and not (tmp_path / "pkg" / "__init__.py").exists()
    out = subprocess.run(
        [PYTHON312, "-S", "-c", "import solo, pkg; print(solo.__file__, pkg.VALUE)"],
        env={"PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path.parent,
    )
    assert out.stdout.split() == [str(tmp_path / "solo.pyc"), "package"]
    # And the project's own code keeps its source next to its bytecode
    assert (tmp_path / "own_app" / "__init__.py").is_file()
    assert list((tmp_path / "own_app" / "__pycache__").glob("__init__.cpython-312.pyc"))
