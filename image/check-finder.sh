#!/bin/bash
# Run a freshly built finder once and check it is the release it should be: check-finder.sh FINDER VERSION
#
#   sofia VERSION   runs `sofia` without a parameter file: SoFiA-2 prints its banner ("Version:  2.5.0")
#                   and exits 7; anything else (a crash, a missing library, another version) fails.
#   bdsf VERSION    imports PyBDSF in python3 and compares bdsf.__version__.
# A build that compiles but cannot run, or runs another release, stops the image build here.
set -euo pipefail

finder=${1:?usage: check-finder.sh sofia|bdsf VERSION}
version=${2:?usage: check-finder.sh sofia|bdsf VERSION}
case "$finder" in
    sofia)
        status=0
        banner=$(sofia 2>&1) || status=$?
        if [ "$status" -ne 7 ] || ! grep -qF "Version:  ${version} " <<<"$banner"; then
            echo "check-finder.sh: sofia did not run as SoFiA-2 ${version} (exit ${status})" >&2
            exit 1
        fi ;;
    bdsf)
        found=$(python3 -c 'import bdsf; print(bdsf.__version__)' 2>/dev/null) || found=missing
        if [ "$found" != "$version" ]; then
            echo "check-finder.sh: PyBDSF is ${found}, expected ${version}" >&2
            exit 1
        fi ;;
    *) echo "check-finder.sh: unknown finder ${finder}" >&2; exit 2 ;;
esac
echo "check-finder.sh: ${finder} ${version} runs"
