"""``make bench``: the registration profiles side by side, in one run, on the same studies.

For each phantom study, ``process`` runs once per registration profile (``reference``: ANTs'
defaults on the 2 mm grid; ``spect``: estimated on a coarse grid), alternating which goes first
so a busy machine slows both alike. Printed as Markdown: per-stage seconds, the ratio
spect/reference (target <= 0.33 for the total), landmark error on phantoms of known pose and
head size (mean and 95th percentile, mm) and QC r for both, peak memory per profile, the
outputs part by part, and the start-up of ``spectssp process`` to the first study: the real
command in fresh interpreters, with the loads in the background (now) and all loaded before the
first study (before), part by part, with what the first study then waits for.
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


# Runs the real command line (``spectssp process STUDY --out DIR``) in a fresh interpreter and
# notes, in wall-clock time, when the Pipeline is constructed and when it starts the first study.
_STARTUP = """
import json, sys, time
T = {"script": time.time()}
mode, study, out, report, *config = sys.argv[1:]
import processor.pipeline as P
init, process_paths = P.Pipeline.__init__, P.Pipeline.process_paths
def timed_init(self, cfg, background=True):
    T["init"] = time.time()
    init(self, cfg, background=mode == "background")
    T["ready"] = time.time()
def timed_process(self, *a, **k):
    T["first study"] = time.time()
    r = process_paths(self, *a, **k)
    T.update(done=time.time(), startup_s=self.startup_s, waited_s=self.preload.waited_s,
             load_s=self.preload.load_s, timings_s=[x["timings_s"] for x in r], status=[x["status"] for x in r])
    return r
P.Pipeline.__init__, P.Pipeline.process_paths = timed_init, timed_process
from processor.cli.main import main
rc = main(["process", study, "--out", out, "-q", "--log-dir", out + "-logs", *config])
T["returned"] = time.time()
with open(report, "w") as f:
    json.dump(T, f)
"""
STARTUP_MODES = {"background": "now: loads in the background", "now": "before: all loaded first"}


def startup_run(mode: str, study: Path, out: Path, config: Path | None) -> dict[str, Any]:
    """One ``spectssp process`` of one study in a fresh interpreter: seconds from the command's
    start to the first study (its parts), what the first study waited for, and the command's wall.
    "Starts the study" means: the pipeline begins reading the first series (intake)."""
    report = out.with_suffix(".json")
    extra = ["--config", str(config)] if config else []
    t = time.time()
    done = subprocess.run([sys.executable, "-c", _STARTUP, mode, str(study), str(out), str(report), *extra],
                          capture_output=True, text=True, timeout=900)
    end = time.time()
    if not report.is_file():
        raise RuntimeError(done.stderr[-2000:])
    T = json.loads(report.read_text())
    parts = {"interpreter start": T["script"] - t, "imports and command line": T["init"] - T["script"]}
    parts.update({f"pipeline: {k}": v for k, v in T["startup_s"].items()})
    parts["pipeline: other (background thread start)"] = (T["ready"] - T["init"]) - sum(T["startup_s"].values())
    parts["to process_paths"] = T["first study"] - T["ready"]
    return {"parts": parts, "to first study": T["first study"] - t, "waited_s": T["waited_s"], "load_s": T["load_s"],
            "first study": T["timings_s"][0] if T["timings_s"] else {}, "status": T["status"],
            "exit": end - T["returned"], "wall": end - t}


def startup_table(runs: dict[str, list[dict[str, Any]]], matcher: dict[str, float]) -> None:
    """Markdown: both modes side by side (mean of the runs)."""
    def m(mode: str, get) -> str:
        vals = [get(r) for r in runs[mode]]
        vals = [v for v in vals if v is not None]
        return f"{statistics.mean(vals):.2f}" if vals else "-"
    modes = list(runs)
    print(f"\n| start-up of `spectssp process` on one study ({len(runs[modes[0]])} fresh runs each, s) | "
          + " | ".join(STARTUP_MODES[k] for k in modes) + " |")
    print("|---|" + "---|" * len(modes))
    names = list(dict.fromkeys(p for k in modes for r in runs[k] for p in r["parts"]))
    for name in names:
        print(f"| {name} | " + " | ".join(m(k, lambda r: r["parts"].get(name)) for k in modes) + " |")
    print("| **to the first study (command start -> intake of the first series)** | "
          + " | ".join(f"**{m(k, lambda r: r['to first study'])}**" for k in modes) + " | target <= 3 s")
    for load in ("ants", "resolution matcher", "model"):
        print(f"| first study waited for {load} (background load took) | " + " | ".join(
            m(k, lambda r: r["waited_s"].get(load)) + f" ({m(k, lambda r: r['load_s'].get(load))})" for k in modes) + " |")
    for stage in ("register", "ssp", "classify", "write", "total"):
        print(f"| first study: {stage} | " + " | ".join(m(k, lambda r: r["first study"].get(stage)) for k in modes) + " |")
    print("| interpreter exit after the results | " + " | ".join(m(k, lambda r: r["exit"]) for k in modes) + " |")
    print("| **command wall, start to exit** | " + " | ".join(f"**{m(k, lambda r: r['wall'])}**" for k in modes) + " |")
    print(f"\nResolution matcher: built {matcher['built']:.2f} s, read from its cache {matcher['cached']:.2f} s "
          "(the cache was warm in the runs above).")


def matcher_costs(atlas) -> dict[str, float]:
    """Seconds to build the resolution references and to read them from the cache."""
    from atlas.load import VOLUME_MARGIN_MM
    from atlas.resolution_cache import cached_matcher
    from spectssp.core.resolution import ResolutionMatcher
    sharp, mask = atlas.perfusion_model, atlas.volume_mask(VOLUME_MARGIN_MM)
    t = time.perf_counter()
    ResolutionMatcher(sharp, mask, atlas.voxel_mm)
    built = time.perf_counter() - t
    _ = atlas.resolution_matcher          # makes sure the cache is there
    t = time.perf_counter()
    cached_matcher(sharp, mask, atlas.voxel_mm)
    return {"built": built, "cached": time.perf_counter() - t}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=5)
    ap.add_argument("--landmarks", type=int, default=3, help="phantoms of known pose for the landmark error")
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=7000)
    ap.add_argument("--startup-runs", type=int, default=2, help="fresh `spectssp process` runs per start-up mode")
    args = ap.parse_args(argv)

    from atlas.load import load_atlas
    from processor.config import load_config
    from processor.phantom import make_study, write_study
    from processor.pipeline import single_pipeline
    from spectssp.core.ssp import extract_ssp, reference_means

    cfg = load_config(args.config)
    stages = list(cfg.registration.stages)
    atlas = load_atlas()
    matcher = matcher_costs(atlas)
    labels = ["NC", "AD", "DLB"]
    folders = []
    for i in range(args.studies):
        study = make_study(labels[i % 3], args.seed, i)
        folder = args.out / "phantoms" / study.name
        write_study(study, folder, "multiframe" if i % 2 == 0 else "slices")
        folders.append(folder)
    startup: dict[str, list[dict[str, Any]]] = {m: [] for m in STARTUP_MODES}
    for i in range(args.startup_runs):
        for mode in STARTUP_MODES if i % 2 == 0 else list(STARTUP_MODES)[::-1]:
            startup[mode].append(startup_run(mode, folders[0], args.out / "startup" / f"{mode}-{i}", args.config))

    # Landmarks next: they also pay `import ants` in this process, which would otherwise land on one profile.
    errors: dict[str, list[float]] = {p: [] for p in PROFILES}
    qcs: dict[str, list[float]] = {p: [] for p in PROFILES}
    for i in range(args.landmarks):
        study = known_pose_study(args.seed + 100 + i)
        for profile in PROFILES if i % 2 == 0 else PROFILES[::-1]:
            err, qc = landmark_errors(study, atlas, profile, stages, cfg.registration.threads, cfg.registration.seed)
            errors[profile] += err.tolist()
            qcs[profile].append(qc)

    pipeline = single_pipeline(cfg, "bench", background=False)
    # One untimed study first: the first inference and first writes pay one-off warm-up costs
    # (torch, fonts) that would otherwise land on whichever profile runs first.
    pipeline.process_paths([folders[0]], args.out / "results" / "warm-up")
    rows: dict[str, list[dict[str, float]]] = {p: [] for p in PROFILES}
    study_qc: dict[str, list[float]] = {p: [] for p in PROFILES}
    peak = {p: 0 for p in PROFILES}
    write_parts: list[dict[str, float]] = []
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
            write_parts.append(dict(pipeline.write_parts_s))
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
    print(f"\n| outputs, mean s per study (all {len(write_parts)} processed studies) | s | share |\n|---|---|---|")
    parts = list(dict.fromkeys(p for w in write_parts for p in w))
    write_total = sum(statistics.mean(w.get(p, 0.0) for w in write_parts) for p in parts)
    for part in parts:
        v = statistics.mean(w.get(part, 0.0) for w in write_parts)
        print(f"| {part} | {v:.3f} | {v / write_total:.0%} |")
    print(f"| all outputs | {write_total:.3f} | |")
    startup_table(startup, matcher)
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
