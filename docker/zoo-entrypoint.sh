#!/bin/sh
# Entrypoint of the zoo image: `python -m zoo ARGS`, except that a `build` into $ZOO_OUT is skipped
# when that folder already holds a finished build (zoo.json is written last), so `docker compose up`
# reuses the models in the volume. ZOO_REBUILD=1 rebuilds them.
set -eu
out="${ZOO_OUT:-/models}"
if [ "${1:-}" = build ] && [ -f "$out/zoo.json" ] && [ "${ZOO_REBUILD:-0}" != 1 ]; then
    echo "zoo: $out/zoo.json exists: keeping the models built earlier (set ZOO_REBUILD=1 to rebuild)"
    exit 0
fi
if [ "${1:-}" = build ] && ! [ -w "$out" ]; then
    echo "zoo: cannot write $out as uid $(id -u); the model volume must belong to that user" \
         "(remove it with 'docker compose down -v' and start again)" >&2
    exit 1
fi
exec python -m zoo "$@"
