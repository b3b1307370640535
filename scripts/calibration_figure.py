"""Measure the phantom's normal regional means under both normal patterns and plot them beside
the published values (docs/phantom-calibration.md).

Usage: PYTHONPATH=. python scripts/calibration_figure.py [--subjects 10] [--out docs/evaluation]

Each subject is a world A NC subject (variability, age, deformation; no scanner, so no noise)
drawn once and rendered under each pattern (the patterns draw nothing, so it is the same
subject). Regional means go through the atlas VOIs after a 12 mm FWHM blur
(processor.phantom.normal_pattern.regional_means). Writes phantom-calibration.png and
phantom-calibration.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from atlas import load_atlas  # noqa: E402
from atlas.perfusion import GM_LEVEL, WM_LEVEL  # noqa: E402
from processor.phantom.normal_pattern import MEASURE_FWHM_MM, MEASURED, regional_means  # noqa: E402
from processor.phantom.subject import SubjectOptions, simulate_subject  # noqa: E402

SEED = 20261130
# (label, pattern, tracer) rendered for every subject
RUNS = (("phantom", "phantom", "IMP"), ("published", "published", "IMP"), ("published ECD", "published", "ECD"))

# Published numbers read from the sources (docs/phantom-calibration.md): ratio to the cerebral
# cortex, mean and SD. Only where a paper gives a number; direction-only regions are in DIRECTION.
LITERATURE = {
    "medial_temporal": {"IMP": (0.939, 0.024, "Oku 1997, HMPAO (IMP assumed alike)"),
                        "ECD": (0.831, 0.041, "Oku 1997, ECD")},
}
# Cerebellum-normalised numbers read (docs/phantom-calibration.md, "Published numbers found"):
# region -> [(mean, (low, high), what the bar is, source)]. Both are HMPAO "global" / all-region
# means, compared with the phantom's whole cerebrum (grey and white).
LITERATURE_CBL = {
    "cerebrum": [(0.864, (0.864 - 0.084, 0.864 + 0.084), "SD", "HMPAO global/cerebellum 86.4 +- 8.4 %, "
                  "53 subjects 21-83 y (J Cereb Blood Flow Metab 1991;11:508)"),
                 (0.77, (0.74, 0.80), "95% CI", "Larsson 2001 HMPAO, mean of 28 grey+white regions, "
                  "75 y (n=9; 0.80 at 40 y, 0.76 at 88 y)")],
}
# Age slopes read (% per decade of the cerebellum-normalised ratio): region -> [(slope, source)]
AGE_LITERATURE = {
    "cerebrum": [(-1.0, "Larsson 2001 HMPAO, all 28 regions, 40-75 y"),
                 (-1.3, "Larsson 2001, all 28 regions, 75-88 y")],
    "medial_temporal": [(-1.4, "Larsson 2001 HMPAO, hippocampus, 40-75 y"),
                        (-3.3, "Larsson 2001, hippocampus, 75-88 y")],
}
DIRECTION = {"posterior_cingulate": "Cavanna & Trimble 2006", "precuneus": "Cavanna & Trimble 2006",
             "cuneus_calcarine": "Devous 1986; Kawashima 1996", "lingual": "Kawashima 1996 (ECD)"}
WM_GM_RANGE = (0.25, 0.44)   # tissue flow WM/GM: 20/76 (textbook page) .. 22/50 (pacs.de); ranges, no SD
AGE_REGIONS = ("frontal", "anterior_cingulate", "insula", "striatum", "parietal", "medial_temporal", "cerebrum")


def measure(n: int) -> dict:
    atlas = load_atlas()
    rows: dict[str, list[dict[str, float]]] = {r[0]: [] for r in RUNS}
    ages = []
    for i in range(n):
        for name, pattern, tracer in RUNS:
            act, truth = simulate_subject(np.random.default_rng([SEED, i]), "NC",
                                          SubjectOptions(normal_pattern=pattern, tracer=tracer), atlas)
            rows[name].append(regional_means(act, atlas))
        ages.append(truth["age"])
    out: dict = {"subjects": n, "seed": SEED, "fwhm_mm": MEASURE_FWHM_MM, "ages": ages, "runs": {}}
    for name, subj in rows.items():
        res = {}
        for ref in ("cerebral_cortex", "cerebellum"):
            r = np.array([[s[k] / s[ref] for k in MEASURED] for s in subj])
            res[f"to_{ref}"] = {k: (round(float(m), 4), round(float(sd), 4))
                                for k, m, sd in zip(MEASURED, r.mean(0), r.std(0, ddof=1))}
        # age slope of the cerebellum-normalised ratio, % of the mean per decade
        slopes = {}
        for k in AGE_REGIONS:
            y = np.array([s[k] / s["cerebellum"] for s in subj])
            b = np.polyfit(np.array(ages), y, 1)[0]
            slopes[k] = round(float(100 * 10 * b / y.mean()), 2)
        res["age_slope_pct_per_decade"] = slopes
        out["runs"][name] = res
    out["tissue_wm_over_gm"] = {"phantom": WM_LEVEL / GM_LEVEL, "published": WM_LEVEL / GM_LEVEL}
    return out


def plot(res: dict, path: Path) -> None:
    regions = [k for k in MEASURED if k not in ("cerebral_cortex",)]
    x = np.arange(len(regions))
    colours = {"phantom": "tab:grey", "published": "tab:blue", "published ECD": "tab:green"}
    fig, axes = plt.subplots(3, 1, figsize=(13, 13), gridspec_kw={"height_ratios": [3, 3, 2]})
    for ax, ref, title in ((axes[0], "cerebral_cortex", "ratio to the cerebral cortex mean"),
                           (axes[1], "cerebellum", "ratio to the cerebellum (literature: whole-cerebrum "
                                                   "means only)")):
        for j, (name, c) in enumerate(colours.items()):
            vals = res["runs"][name][f"to_{ref}"]
            m = [vals[k][0] for k in regions]
            sd = [vals[k][1] for k in regions]
            label = "phantom, published pattern, ECD" if name == "published ECD" else f"phantom, {name} pattern"
            ax.errorbar(x + (j - 1) * 0.2, m, yerr=sd, fmt="o", color=c, ms=5, capsize=2, label=label)
        if ref == "cerebellum":
            for k, rows in LITERATURE_CBL.items():
                i = regions.index(k)
                for n, (mean, (lo, hi), bar, src) in enumerate(rows):
                    ax.errorbar(i + 0.32 + 0.14 * n, mean, yerr=[[mean - lo], [hi - mean]], fmt="*",
                                color=("tab:red", "darkred")[n], ms=13, capsize=4,
                                label=f"literature: {src} (+- {bar})")
        if ref == "cerebral_cortex":
            for k, per in LITERATURE.items():
                i = regions.index(k)
                for tracer, (mean, sd, src) in per.items():
                    dx = 0.1 if tracer == "IMP" else 0.32
                    ax.errorbar(i + dx, mean, yerr=sd, fmt="*", color="tab:red" if tracer == "IMP" else "darkred",
                                ms=13, capsize=4, label=f"literature: {src} (mean +- SD)")
            xs = [regions.index(k) + 0.4 for k in DIRECTION]
            ax.plot(xs, [1.02] * len(xs), "^", mfc="none", mec="tab:red", mew=2, ms=11,
                    label="literature: above the cortical mean, direction only (no number)")
            ax.axhline(1.0, color="k", lw=0.6)
            lo, hi = WM_GM_RANGE
            ax.annotate(f"tissue level WM/GM: model {res['tissue_wm_over_gm']['phantom']:.2f} (both patterns);\n"
                        f"textbook CBF {lo:.2f}-{hi:.2f} (range, no SD)", xy=(regions.index("white_matter"), 0.80),
                        xytext=(regions.index("white_matter") - 3.2, 0.78), fontsize=7, color="tab:red")
        ax.set_xticks(x, [r.replace("_", "\n") for r in regions], fontsize=8)
        ax.set_ylabel(title.split(" (")[0])
        ax.set_title(f"Noise-free normal phantom, {res['subjects']} subjects, {res['fwhm_mm']:g} mm FWHM, "
                     f"atlas VOIs: {title}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    ax = axes[2]
    ages = np.array(res["ages"])
    for name in ("phantom", "published"):
        s = res["runs"][name]["age_slope_pct_per_decade"]
        ax.bar(np.arange(len(s)) + (-0.2 if name == "phantom" else 0.2), list(s.values()), width=0.4,
               color=colours[name], label=f"phantom, {name} pattern")
    for k, rows in AGE_LITERATURE.items():
        i = AGE_REGIONS.index(k)
        for n, (slope, src) in enumerate(rows):
            ax.plot(i + 0.45, slope, "*", color=("tab:red", "darkred")[n], ms=13, label=f"literature: {src}")
    ax.set_xticks(np.arange(len(AGE_REGIONS)), [r.replace("_", "\n") for r in AGE_REGIONS])
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("% per decade")
    span = f"{len(ages)} subjects {ages.min():.0f}-{ages.max():.0f} y"
    ax.set_title(f"Age slope of the cerebellum-normalised ratio, {span} "
                 "(model: 1.2 %/decade x U(0.5, 1.5) above 45 y, before the blur).\nLiterature: relative decline "
                 "in frontal, anterior cingulate, insula, basal ganglia (direction only, Van Laere 2001, Goto 1998, "
                 "Nihon Ronen Igakkai Zasshi 2000, Inoue 2003, Larsson 2001);\n"
                 "global grey matter flow -0.33 mL/100 g/min per year of 72 "
                 "= -4.6 %/decade (Devous 1986, absolute 133Xe flow, not a ratio)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=10)
    p.add_argument("--out", type=Path, default=Path("docs/evaluation"))
    a = p.parse_args()
    res = measure(a.subjects)
    res["literature"] = {"to_cerebral_cortex": LITERATURE, "to_cerebellum": LITERATURE_CBL,
                         "age_slope_pct_per_decade": AGE_LITERATURE}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "phantom-calibration.json").write_text(json.dumps(res, indent=1) + "\n")
    plot(res, a.out / "phantom-calibration.png")
    for name, r in res["runs"].items():
        c = r["to_cerebral_cortex"]
        print(f"{name:14s} " + " ".join(f"{k}={v[0]:.3f}+-{v[1]:.3f}" for k, v in c.items()))
        print(f"{'':14s} age %/decade: {r['age_slope_pct_per_decade']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
