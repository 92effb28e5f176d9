#!/usr/bin/python3
"""Checks that the current plugin ABI only appended to a released one.

Usage: check_layout.py RELEASED_LAYOUT_BIN CURRENT_LAYOUT_BIN

Both programs are abi_layout.c, built against the frozen release header and
against sdk/include. Within one major version:
  - every field keeps its offset and size, every constant its value;
  - a struct that starts with a `size` field may grow (fields are appended);
    any other struct, and every enum or handle type, keeps its size.
A new major may break all of this; the check then only reports it.
"""
import subprocess
import sys


def layout(binary):
    out = subprocess.run([binary], check=True, capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line]


def main():
    released, current = layout(sys.argv[1]), layout(sys.argv[2])
    cur = set(current)
    major = lambda lines: next(l for l in lines if l.startswith("const POUNCE_ABI_MAJOR "))
    if major(released) != major(current):
        print("ABI major changed (%s -> %s): layout compatibility not required"
              % (major(released), major(current)))
        return 0
    growable = {l.split()[1].split(".")[0] for l in released
                if l.startswith("field ") and ".size offset=0 " in l}
    sizes = {l.split()[1]: int(l.split()[2]) for l in current if l.startswith("sizeof ")}
    errors = []
    for line in released:
        kind, name = line.split()[:2]
        if kind == "sizeof":
            old, new = int(line.split()[2]), sizes.get(name)
            if new is None:
                errors.append("%s: type removed" % name)
            elif name in growable and new < old:
                errors.append("%s shrank from %d to %d bytes" % (name, old, new))
            elif name not in growable and new != old:
                errors.append("%s changed size from %d to %d bytes (it has no size "
                              "field, so it cannot grow)" % (name, old, new))
        elif line not in cur:
            now = [l for l in current if l.split()[:2] == [kind, name]]
            errors.append("%s: released as '%s', now %s"
                          % (name, line, "'%s'" % now[0] if now else "missing"))
    for e in errors:
        print("ABI break: " + e)
    print("%d released layout lines checked, %d breaks" % (len(released), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
