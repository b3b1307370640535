"""``make bench``: the registration profiles side by side, in one run, on the same studies.

For each phantom study, ``process`` runs once per registration profile (``reference``: ANTs'
defaults on the 2 mm grid; ``spect``: estimated on a coarse grid), alternating which goes first
so a busy machine slows both alike. Printed as Markdown: per-stage seconds, the ratio
spect/reference (target <= 0.33 for the total), landmark error on phantoms of known pose and
head size (mean and 95th percentile, mm) and QC r for both, peak memory per profile, and the
start-up of ``process`` to the first study, measured in a fresh interpreter part by part.
A benchmark, not a test: machines differ by 2-3 x from one run to the next, so read the ratios.

    python -m processor.bench --studies 5 --landmarks 3 --out bench-out
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("read", "register", "ssp", "classify", "write", "total")
PROFILES = ("reference", "spect")
# VOI centroids used as landmarks: deep, cortical, front, back, left, right, top, bottom.
LANDMARK_VOIS = ("thalamus_L", "thalamus_R", "frontal_L", "frontal_R", "cuneus_L", "cuneus_R",
                 "lateral_temporal_L", "lateral_temporal_R", "cerebellum_L", "cerebellum_R", "precuneus_R",
                 "superior_parietal_L")


def landmarks_ijk(atlas) -> np.ndarray:
    """(N, 3) atlas voxel coordinates of the landmark VOI centroids."""
    from atlas import voi
    return np.array([np.argwhere(atlas.labels == voi.LABELS[n]).mean(axis=0) for n in LANDMARK_VOIS])


def ijk_to_lps(atlas, ijk: np.ndarray) -> np.ndarray:
    ras = atlas.world_mm(ijk)
    return ras * np.array([-1.0, -1.0, 1.0])


def known_pose_study(seed: int, scale: tuple[float, float] = (0.96, 1.04)):
    """A normal phantom whose only deformation is a known per-axis head scaling (no random warp),
    so the true position of every atlas point in the scanner is known exactly."""
    from processor.phantom import SubjectOptions, make_study
    return make_study("NC", seed, subject=SubjectOptions(deformation_rms_mm=(0.0, 0.0), scale=scale))


def true_scanner_points(study, atlas, ijk: np.ndarray) -> np.ndarray:
    """Where the atlas voxels ``ijk`` lie in the study's scanner space (LPS mm): the phantom's
    scaling about the brain centre (processor.phantom.subject._deform with no random field),
    then its pose."""
    deformation = study.truth["subject"]["deformation"]
    scale = np.array(deformation.get("scale", [1.0, 1.0, 1.0])) if deformation.get("applied") else np.ones(3)
    centre = np.argwhere(atlas.brain).mean(axis=0)
    subject_ijk = centre + scale * (ijk - centre)
    pose = np.array(study.truth["scanner"]["pose_mni_lps_to_scanner_lps"])
    return ijk_to_lps(atlas, subject_ijk) @ pose[:3, :3].T + pose[:3, 3]


def landmark_errors(study, atlas, profile: str, stages: list[str], threads: int = 2, seed: int = 1,
                    ) -> tuple[np.ndarray, float]:
    """(per-landmark error in mm, QC r) of one registration of ``study`` with ``profile``."""
    from processor.registration import register
    ijk = landmarks_ijk(atlas)
    reg = register(study.image, atlas, stages, threads, seed, map_points=ijk_to_lps(atlas, ijk), profile=profile)
    return np.linalg.norm(reg.mapped_points - true_scanner_points(study, atlas, ijk), axis=1), reg.qc


class PeakRSS:
    """Samples this process's resident memory while a block runs (ANTs allocates outside Python)."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.every_s, self.peak, self._stop = every_s, 0, threading.Event()

    @staticmethod
    def now() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def __enter__(self) -> "PeakRSS":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(self.every_s)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


_STARTUP = """
import json, time
t = [time.perf_counter()]
from processor.config import defaults
import processor.pipeline as P
t.append(time.perf_counter())
cfg = defaults()
from atlas import load_atlas
atlas = load_atlas(); t.append(time.perf_counter())
from atlas.normaldb import NormalDatabase
ndb = NormalDatabase.load(P.resolve_normal_database(cfg), volumes=False); t.append(time.perf_counter())
_ = atlas.resolution_matcher; t.append(time.perf_counter())
model = P.resolve_model(cfg)
if model is not None:
    P.load_classifier(model, device=cfg.classifier.device)
t.append(time.perf_counter())
import ants
t.append(time.perf_counter())
names = ["imports (config, pipeline)", "atlas load", "normal database load", "resolution matcher",
         "model load (torch)", "import ants (first registration)"]
print(json.dumps({n: b - a for n, a, b in zip(names, t, t[1:])}))
"""


def startup_parts() -> tuple[float, dict[str, float]]:
    """(wall s of a fresh interpreter to a ready pipeline, seconds per part) as ``process`` pays them."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _STARTUP], capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return wall, json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=5)
    ap.add_argument("--landmarks", type=int, default=3, help="phantoms of known pose for the landmark error")
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=7000)
    args = ap.parse_args(argv)

    from atlas.load import load_atlas
    from processor.config import load_config
    from processor.phantom import make_study, write_study
    from processor.pipeline import Pipeline
    from spectssp.core.ssp import extract_ssp, reference_means

    cfg = load_config(args.config)
    stages = list(cfg.registration.stages)
    startup_wall, startup = startup_parts()

    # Landmarks first: they also pay `import ants`, which would otherwise land on one profile.
    atlas = load_atlas()
    errors: dict[str, list[float]] = {p: [] for p in PROFILES}
    qcs: dict[str, list[float]] = {p: [] for p in PROFILES}
    for i in range(args.landmarks):
        study = known_pose_study(args.seed + 100 + i)
        for profile in PROFILES if i % 2 == 0 else PROFILES[::-1]:
            err, qc = landmark_errors(study, atlas, profile, stages, cfg.registration.threads, cfg.registration.seed)
            errors[profile] += err.tolist()
            qcs[profile].append(qc)

    labels = ["NC", "AD", "DLB"]
    folders = []
    for i in range(args.studies):
        study = make_study(labels[i % 3], args.seed, i)
        folder = args.out / "phantoms" / study.name
        write_study(study, folder, "multiframe" if i % 2 == 0 else "slices")
        folders.append(folder)
    pipeline = Pipeline(cfg)
    # One untimed study first: the first inference and first writes pay one-off warm-up costs
    # (torch, fonts) that would otherwise land on whichever profile runs first.
    pipeline.process_paths([folders[0]], args.out / "results" / "warm-up")
    rows: dict[str, list[dict[str, float]]] = {p: [] for p in PROFILES}
    study_qc: dict[str, list[float]] = {p: [] for p in PROFILES}
    peak = {p: 0 for p in PROFILES}
    for i, folder in enumerate(folders):
        for profile in PROFILES if i % 2 == 0 else PROFILES[::-1]:
            pipeline.cfg.registration["profile"] = profile
            t = time.perf_counter()
            with PeakRSS() as rss:
                (result,) = pipeline.process_paths([folder], args.out / "results" / profile)
            wall = time.perf_counter() - t
            peak[profile] = max(peak[profile], rss.peak)
            if result["status"] != "ok":
                print(f"{folder.name} ({profile}): {result['status']} {result['error']}", file=sys.stderr)
                continue
            rows[profile].append({**result["timings_s"], "wall": wall})
            study_qc[profile].append(result["registration"]["qc"])
    if not all(rows.values()):
        print("no study processed with one of the profiles", file=sys.stderr)
        return 1

    an = pipeline.analyser
    vol = atlas.template * 1000
    reps = 20
    t = time.perf_counter()
    for _ in range(reps):
        harmonised, _ = an.harmonise(vol)
    harmonise_s = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    for _ in range(reps * 2):
        an.from_raw(extract_ssp(harmonised, an.samples), reference_means(harmonised, an.ref_indices))
    core_s = (time.perf_counter() - t) / (reps * 2)

    def mean(profile: str, key: str) -> float:
        return statistics.mean(r[key] for r in rows[profile])

    n = min(len(r) for r in rows.values())
    print(f"\n### spectssp bench: {n} phantom studies per profile, stages {' -> '.join(stages)}, "
          f"{_machine()}\n")
    print("| stage (mean s per study) | reference | spect | spect / reference |")
    print("|---|---|---|---|")
    for k in STAGES + ("wall",):
        old, new = mean("reference", k), mean("spect", k)
        print(f"| {k} | {old:.3f} | {new:.3f} | {new / old if old else float('nan'):.3f} |")
    total_ratio = mean("spect", "total") / mean("reference", "total")
    print(f"\n**Total per study, spect / reference: {total_ratio:.3f}** (target <= 0.33)\n")
    print(f"| accuracy ({args.landmarks} phantoms of known pose and head size, {len(LANDMARK_VOIS)} "
          "landmarks each) | reference | spect |")
    print("|---|---|---|")
    for name, fn in (("landmark error mean (mm)", np.mean), ("landmark error 95th percentile (mm)",
                                                            lambda e: np.percentile(e, 95)),
                     ("landmark error max (mm)", np.max)):
        print(f"| {name} | {fn(errors['reference']):.2f} | {fn(errors['spect']):.2f} |")
    print(f"| QC r, landmark phantoms (min) | {min(qcs['reference']):.4f} | {min(qcs['spect']):.4f} |")
    print(f"| QC r, bench studies (mean / min) | {statistics.mean(study_qc['reference']):.4f} / "
          f"{min(study_qc['reference']):.4f} | {statistics.mean(study_qc['spect']):.4f} / {min(study_qc['spect']):.4f} |")
    print(f"| peak RSS while processing (GB) | {peak['reference'] / 1e9:.2f} | {peak['spect'] / 1e9:.2f} |")
    print(f"\n| start-up of `process`, fresh interpreter (s) | value |\n|---|---|")
    for part, s in startup.items():
        print(f"| {part} | {s:.2f} |")
    before = sum(s for p, s in startup.items() if not p.startswith("import ants"))
    print(f"| **to the first study (all but `import ants`)** | **{before:.2f}** (target <= 3 s) |")
    print(f"| interpreter wall, all of the above | {startup_wall:.2f} |")
    spect_total = mean("spect", "total")
    print("\n| figure | value | target |\n|---|---|---|")
    print(f"| total / registration (spect) | {spect_total / mean('spect', 'register'):.3f} | < 1.3 |")
    print(f"| SSP + Z, 4 references (core) | {core_s * 1000:.1f} ms | < 200 ms |")
    print(f"| resolution harmonisation (estimate + smooth) | {harmonise_s * 1000:.1f} ms | - |")
    print(f"| peak RSS of the whole run | {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2:.2f} GB "
          "| < 2.5 GB |")
    return 0


def _machine() -> str:
    import os
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} CPUs ({model}), load average {load:.1f} at the end"


if __name__ == "__main__":
    sys.exit(main())
