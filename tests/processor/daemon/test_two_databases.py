"""Issue 12 must-show: one watch folder, an IMP and an ECD phantom study, two configured normal
databases (the bundled IMP one with its model, a small test-built ECD one for statistics only):
each study is processed against its own database, end to end through ``spectssp watch``."""
from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from processor.daemon import DONE
from spectssp.fsutil import safe_name
from tests.helpers.results import load_result
from tests.processor.daemon.realdata import ecd_database, normal_database, site_config, write_studies
from tests.processor.daemon.test_real_pipeline import SPECTSSP, Watch, _drop_folder

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_each_study_is_processed_against_its_own_tracers_database(tmp_path: Path) -> None:
    imp_db, ecd_db = normal_database(tmp_path), ecd_database(tmp_path)
    cfg_path = site_config(tmp_path, imp_db, workers=1)
    cfg = yaml.safe_load(cfg_path.read_text())
    del cfg["normal_database"], cfg["model"]
    cfg["normal_databases"] = [{"path": str(imp_db), "model": None}, {"path": str(ecd_db), "model": None, "tracer": "ECD"}]
    cfg_path.write_text(yaml.safe_dump(cfg))
    (imp,) = write_studies(tmp_path / "src", [("NC", 60, "multiframe")])
    (ecd,) = write_studies(tmp_path / "src", [("NC", 61, "multiframe")], tracer="ECD")
    listing = subprocess.run([SPECTSSP, "normaldb", "info", "--config", str(cfg_path)], capture_output=True,
                             text=True, timeout=60, check=True).stdout.splitlines()
    assert [line.split()[1] for line in listing] == ["IMP", "ECD"] and "N=3" in listing[1], listing
    w = Watch(tmp_path, cfg_path)
    try:
        w.start()
        w.wait(lambda: _ledger_ready(w), 60, "the ledger's tables")
        t0 = time.monotonic()
        _drop_folder(imp["dir"], w.incoming)
        _drop_folder(ecd["dir"], w.incoming)
        w.wait(w.settled(2), 240, "both studies")
        elapsed = time.monotonic() - t0
        assert [j.state for j in w.jobs()] == [DONE, DONE], [(j.error_code, j.error_message) for j in w.jobs()]
        st = w.status()
        assert [(d["tracer"], d["path"]) for d in st["normal_databases"]] == [("IMP", str(imp_db)), ("ECD", str(ecd_db))]
        assert w.stop() == 0
    finally:
        w.kill()
    for study, db, tracer, nuclide in ((imp, imp_db, "IMP", "I-123"), (ecd, ecd_db, "ECD", "Tc-99m")):
        r = load_result(w.output / safe_name(study["series_uid"]) / "result.json")
        assert r["status"] == "ok"
        assert (r["normal_database"]["path"], r["normal_database"]["tracer"]) == (str(db), tracer)
        assert (r["tracer"]["name"], r["tracer"]["radionuclide"]) == (tracer, nuclide)
        assert not [x for x in r["warnings"] if "tracer" in x], r["warnings"]
    print(f"\nIMP and ECD study, each against its own database, in {elapsed:.0f} s")


def _ledger_ready(w: Watch) -> bool:
    """The ledger file appears a moment before its tables."""
    try:
        w.jobs()
    except sqlite3.OperationalError:
        return False
    return True
