#!/usr/bin/env bash
# Rebuild the bundled phantom 123I-IMP normal database (atlas/data/normal_imp_phantom.ndb).
# 28 normal phantoms (as the paper's 28 normals), seed 1000: seeds never used by tests,
# training test sets or the demo. Digital phantoms only: for demonstration and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/spectssp phantom --out "$work" --label NC --count 28 --seed 1000 --layout mixed
.venv/bin/spectssp normaldb build "$work"/NC_1000_*/ --out atlas/data/normal_imp_phantom.ndb --strict \
  --note "28 digital phantom normals (spectssp phantom --label NC --count 28 --seed 1000 --layout mixed): for demonstration and tests only"
.venv/bin/spectssp normaldb info atlas/data/normal_imp_phantom.ndb
