"""``spectssp inspect``: one line per series, exit status by verdict, limits from --config."""
from __future__ import annotations

from processor.cli.main import build_parser, command


def run_inspect(argv, capsys):
    args = build_parser().parse_args(["inspect", *argv])
    code = command(args)(args)
    return code, capsys.readouterr().out.splitlines()


def test_inspect_all_ok_exits_zero(gen, tmp_path, capsys):
    vol = gen.test_volume()
    gen.save(gen.nm_multiframe(vol, gen.Geometry()), tmp_path / "mf.dcm")
    gen.save_all(gen.nm_slices(vol, gen.Geometry(), seed="two"), tmp_path / "slices")
    code, lines = run_inspect([str(tmp_path), "--tracer", "IMP"], capsys)
    assert code == 0
    rows = lines[1:-1]
    assert len(rows) == 2
    for row in rows:
        assert row.startswith("PID001") and "2024-01-31" in row and " NM " in row
        assert "22x24x20" in row and "3.00x3.50x4.00 mm" in row and " IMP " in row and row.endswith("OK")
    assert lines[-1] == "2 series from 21 file(s): 2 accepted, 0 rejected."


def test_inspect_rejection_exits_one_with_code_and_reason(gen, tmp_path, capsys):
    gen.save(gen.nm_multiframe(gen.test_volume(), gen.Geometry(), tracer="99mTc-HMPAO"), tmp_path / "a.dcm")
    (tmp_path / "b.txt").write_text("not an image")
    config = tmp_path / "site.yaml"
    config.write_text("intake:\n  tracer_policy: reject\n")
    code, lines = run_inspect([str(tmp_path / "a.dcm"), str(tmp_path / "b.txt"), "--tracer", "IMP",
                               "--config", str(config)], capsys)
    assert code == 1
    assert any("REJECTED [tracer_not_covered]" in line and "HMPAO" in line for line in lines)
    assert any(line.startswith("b.txt") and "REJECTED [not_dicom]" in line for line in lines)


def test_inspect_takes_min_slices_from_config(gen, tmp_path, capsys):
    data = tmp_path / "data"
    gen.save(gen.nm_multiframe(gen.test_volume(), gen.Geometry()), data / "mf.dcm")
    config = tmp_path / "site.yaml"
    config.write_text("intake:\n  min_slices: 64\n")
    code, lines = run_inspect([str(data), "--config", str(config)], capsys)
    assert code == 1 and "[implausible_size]" in lines[1] and "64" in lines[1]
    code, _ = run_inspect([str(data)], capsys)
    assert code == 0
