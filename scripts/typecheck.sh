#!/usr/bin/env bash
# mypy over the installed package names: core/ and tui/ are checked as srcnet_tui.core and srcnet_tui.tui
# (the editable install maps them with an import hook, which mypy cannot follow), through a folder of
# links that lays them out as they are installed. Options are in pyproject.toml [tool.mypy].
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
view="$(mktemp -d)"
trap 'rm -rf "$view"' EXIT
mkdir "$view/srcnet_tui"
ln -s "$root/core" "$view/srcnet_tui/core"
ln -s "$root/tui" "$view/srcnet_tui/tui"
cd "$view"
exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" -p srcnet_tui "$@"
