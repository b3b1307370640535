"""Issue 12: a fresh ``spectssp process`` rejects a foreign-tracer study without importing what
only later stages need. Not timed (machines differ 2-3x; ``make bench-reject`` measures): the
modules loaded by the time the interpreter exits are what makes the cold start slow, and they
are what is checked, background preload thread included."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import dicom as gen

REPO = Path(__file__).resolve().parents[3]

# Registration, classifier, plotting, DICOM writing, batch and web: seconds of imports, and
# none of them needed to read a header and decide its tracer.
HEAVY = ["torch", "torchvision", "pytorch_grad_cam", "ants", "highdicom", "matplotlib", "pandas", "statsmodels",
         "sklearn", "nilearn", "nibabel", "dask", "distributed", "fastapi", "uvicorn", "jinja2", "pynetdicom",
         "scipy.ndimage", "scipy.stats", "scipy.optimize", "scipy.signal"]


def test_cold_process_rejects_a_mediso_like_tc99m_series_without_heavy_imports(tmp_path) -> None:
    gen.save(gen.mediso_like(), tmp_path / "in" / "mediso.dcm")
    # The report runs at exit, after the thread pools are joined: a load started in the
    # background (an eager preload) has then finished its imports and is seen.
    code = (
        "import atexit, json, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})  # this checkout, wherever the editable install points\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: print('MODULES ' + json.dumps(sorted(\n"
        "    m for m in heavy if m in sys.modules)), file=sys.stderr))\n"
        "from processor.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", code, "process", str(tmp_path / "in"),
                           "--out", str(tmp_path / "out"), "--json", "-q", "--log-dir", str(tmp_path / "logs")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    (r,) = json.loads(proc.stdout)
    assert r["status"] == "rejected" and r["error"]["code"] == "tracer_not_covered"
    assert "Tc-99m" in r["error"]["message"] and "IMP (I-123)" in r["error"]["message"]
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES ")]
    assert json.loads(line.removeprefix("MODULES ")) == []
