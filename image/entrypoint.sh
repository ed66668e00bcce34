#!/bin/bash
# Entry point of the task images (SoFiA-2's, and PyBDSF's with SRCNET_IMAGE/SRCNET_FINDER set).
#
# Skaha's `cmd` replaces the entry point, and srcnet-tui always launches `srcnet-task ARGS...`, so
# this script serves `docker run` and sessions started without a command:
#   (no arguments)      say what the image holds and show srcnet-task's usage
#   --option ...        arguments for srcnet-task
#   PROGRAM ARGS...     run PROGRAM (e.g. `sofia file.par`)
# Arguments are passed on as they are, never evaluated by a shell.
set -euo pipefail

image=${SRCNET_IMAGE:-sofia-task}
finder=${SRCNET_FINDER:-sofia}

finder_location() {
    command -v "$finder" && return
    python3 -c 'import importlib.util, sys; s = importlib.util.find_spec(sys.argv[1]); print(s.origin if s else "missing")' \
        "$finder" 2>/dev/null || echo missing
}

if [ "$#" -eq 0 ]; then
    echo "srcnet ${image} image: ${finder} $(finder_location), srcnet-task $(command -v srcnet-task || echo missing)"
    exec srcnet-task --help
fi
case "$1" in
    -*) exec srcnet-task "$@" ;;
    *) exec "$@" ;;
esac
