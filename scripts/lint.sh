#!/usr/bin/env bash
# The checks CI runs before the tests: ruff (lint and format), mypy on the whole package, the import
# contracts of pyproject.toml. Needs the venv with the `lint` extra: pip install -e '.[test,lint]'.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
echo "== ruff check"; .venv/bin/ruff check --no-cache .
echo "== ruff format --check"; .venv/bin/ruff format --no-cache --check .
echo "== mypy"; scripts/typecheck.sh
echo "== import contracts"; .venv/bin/lint-imports --no-cache
