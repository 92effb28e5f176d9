#!/bin/sh
# check_app_includes.sh HOST_DIR: fails, naming the lines, when a source of
# the app side (exchange, pipeline, plugin, async, ws, static) includes anything
# under host/net or host/h2 (the protocols), however the path is spelled.
set -eu
host=$1
hits=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?(net|h2)/' \
  "$host/exchange" "$host/pipeline" "$host/plugin" "$host/async" "$host/ws" \
  "$host/static" || true)
if [ -n "$hits" ]; then
  echo "the app side includes a protocol (docs/architecture.md, \"Layers\"):"
  echo "$hits"
  exit 1
fi
echo "no app-side source includes host/net or host/h2"
