#!/usr/bin/env bash
# Installs the Debian packages netsentry needs (only those missing). Usage: install-deps.sh [--test]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lists=("$here/apt-packages.txt")
[[ "${1:-}" == "--test" ]] && lists+=("$here/apt-packages-test.txt")
want=$(grep -hv '^\s*#' "${lists[@]}" | awk 'NF{print $1}')
missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
