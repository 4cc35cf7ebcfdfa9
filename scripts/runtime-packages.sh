#!/usr/bin/env bash
# Prints, one a line and sorted, the Debian packages that provide the shared libraries a binary loads
# (every library `ldd` lists, its interpreter included): what scripts/apt-packages-runtime.txt must
# install in the slim image. A library that no package provides is an error naming it.
# Usage: runtime-packages.sh BINARY
set -euo pipefail
bin=${1:?usage: runtime-packages.sh BINARY}
[[ -x $bin ]] || { echo "runtime-packages: $bin is not an executable file" >&2; exit 2; }
out=$(ldd "$bin") || { echo "runtime-packages: ldd $bin failed: $out" >&2; exit 1; }
if grep -q 'not found' <<<"$out"; then
  echo "runtime-packages: $bin needs libraries that are not installed:" >&2
  grep 'not found' <<<"$out" >&2
  exit 1
fi
# `libx.so => /path (addr)` and the interpreter `/lib64/ld-linux-x86-64.so.2 (addr)`.
mapfile -t libs < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out" | sort -u)
# dpkg records each file under the path its package ships it at: on a merged-/usr system /lib is
# /usr/lib, and an alternative (libblas.so.3) is a symbolic link to the file a package ships.
owner() {
  local p=$1 real alt candidates=()
  real=$(readlink -f "$p")
  for alt in "$p" "$real"; do
    candidates+=("$alt")
    case $alt in
      /usr/lib/*) candidates+=("${alt#/usr}") ;;
      /lib/* | /lib64/*) candidates+=("/usr$alt") ;;
    esac
  done
  for alt in "${candidates[@]}"; do
    if dpkg -S "$alt" >/dev/null 2>&1; then
      # "libfoo1:amd64: /usr/lib/x86_64-linux-gnu/libfoo.so.1" (diversions excluded)
      dpkg -S "$alt" 2>/dev/null | grep -v '^diversion' | head -1 | sed 's/: .*//; s/:[a-z0-9]*$//'
      return 0
    fi
  done
  echo "runtime-packages: no Debian package provides $p ($real)" >&2
  return 1
}
for l in "${libs[@]}"; do owner "$l"; done | sort -u
