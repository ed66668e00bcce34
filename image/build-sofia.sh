#!/bin/bash
# Build SoFiA-2 in a checked-out source tree and install the binary: build-sofia.sh SRC DEST_BIN_DIR
#
# Upstream's compile.sh has no `set -e` and ends with `echo`, so a failed compile still exits 0.
# Running it under `sh -e` makes the first failing gcc fatal; the checks after it make sure a
# binary exists and links before anything is installed.
set -euo pipefail

src=${1:?usage: build-sofia.sh SRC DEST_BIN_DIR}
dest=${2:?usage: build-sofia.sh SRC DEST_BIN_DIR}
cd "$src"
rm -f sofia
sh -e ./compile.sh -fopenmp
if [ ! -x sofia ]; then
    echo "build-sofia.sh: compile.sh finished but produced no sofia binary" >&2
    exit 1
fi
linked=$(ldd sofia 2>&1 || true)
if grep -q "not found" <<<"$linked"; then
    echo "build-sofia.sh: sofia links against missing libraries:" >&2
    grep "not found" <<<"$linked" >&2
    exit 1
fi
install -D -m 0755 sofia "$dest/sofia"
echo "build-sofia.sh: installed $dest/sofia"
