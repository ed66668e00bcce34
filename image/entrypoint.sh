#!/bin/bash
# Entry point of the SoFiA-2 task image.
#
# Skaha's `cmd` replaces the entry point, and srcnet-tui always launches `srcnet-task ARGS...`, so
# this script serves `docker run` and sessions started without a command:
#   (no arguments)      say what the image holds and show srcnet-task's usage
#   --option ...        arguments for srcnet-task
#   PROGRAM ARGS...     run PROGRAM (e.g. `sofia file.par`)
# Arguments are passed on as they are, never evaluated by a shell.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "srcnet sofia-task image: sofia $(command -v sofia || echo missing), srcnet-task $(command -v srcnet-task || echo missing)"
    exec srcnet-task --help
fi
case "$1" in
    -*) exec srcnet-task "$@" ;;
    *) exec "$@" ;;
esac
