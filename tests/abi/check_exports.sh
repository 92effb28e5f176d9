#!/bin/sh
# A plugin exports exactly the ABI record and the entry function: everything
# else is hidden (-fvisibility=hidden from the SDK), so that two plugins, or
# two generations of one, never bind to each other's symbols.
set -eu
status=0
for so in "$@"; do
  got=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
  if [ "$got" != "pounce_plugin_abi pounce_plugin_entry " ]; then
    echo "$so exports: $got(want: pounce_plugin_abi pounce_plugin_entry)"
    status=1
  fi
done
[ $status -eq 0 ] && echo "$# plugins export exactly the two ABI symbols"
exit $status
