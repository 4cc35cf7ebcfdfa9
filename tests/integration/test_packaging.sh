#!/usr/bin/env bash
# The Dockerfile installs the same Debian packages as scripts/install-deps.sh (one list, read by
# both) in its build stage, and exactly scripts/apt-packages-runtime.txt in its slim stage; that list
# provides every shared library the built binary loads (nothing is copied from the build stage but the
# binary); the CI workflow runs the README's test command, and .ci/run calls it too.
# Usage: test_packaging.sh NETSENTRY_BINARY [SHARED_DATA_DIR]
set -euo pipefail
bin=$(readlink -f "${1:?usage: test_packaging.sh NETSENTRY_BINARY}")
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }
names() { grep -v '^\s*#' "$1" | awk 'NF{print $1}'; }
df=deploy/Dockerfile

grep -q 'COPY scripts/apt-packages.txt' $df || fail "Dockerfile does not read scripts/apt-packages.txt"
grep -q "grep -v '^\\\\s\*#' /tmp/apt-packages.txt" $df || fail "Dockerfile does not install the list"
grep -q 'apt-packages.txt' scripts/install-deps.sh || fail "install-deps.sh does not read the list"
grep -q 'apt-packages-test.txt' scripts/install-deps.sh || fail "install-deps.sh does not read the test list"
for list in scripts/apt-packages.txt scripts/apt-packages-test.txt scripts/apt-packages-runtime.txt; do
  [[ -f $list ]] || fail "$list is missing"
  mapfile -t pkgs < <(names "$list")
  # One apt-cache call for the whole list (it succeeds when any name is known: compare the names).
  known=$(apt-cache show --no-all-versions "${pkgs[@]}" 2>/dev/null | sed -n 's/^Package: //p' | sort -u)
  for p in "${pkgs[@]}"; do
    grep -qxF "$p" <<<"$known" || fail "package '$p' in $list is unknown to apt"
  done
  # Every line is one name: the Dockerfile splits the list into words, a trailing comment would be names.
  if grep -v '^\s*#' "$list" | grep -q '[^[:space:]][[:space:]]\+[^[:space:]]'; then
    fail "$list has a line with more than one word (comments go on their own lines)"
  fi
done

# The slim stage: the runtime list, installed exactly (its apt-get install names nothing else), and
# no libraries copied in beside the packaged ones.
stages=$(grep -c '^FROM ' $df)
[[ $stages -eq 2 ]] || fail "$df has $stages stages, expected a build stage and the slim stage"
slim=$(awk '/^FROM /{n++} n==2' $df)
[[ $(head -1 <<<"$slim") == "FROM debian:bookworm-slim"* ]] || fail "the second stage is not debian:bookworm-slim"
grep -q '^COPY scripts/apt-packages-runtime.txt /tmp/apt-packages-runtime.txt$' <<<"$slim" ||
  fail "the slim stage does not copy scripts/apt-packages-runtime.txt"
installs=$(grep -c 'apt-get install' <<<"$slim" || true)
[[ $installs -eq 1 ]] || fail "the slim stage runs apt-get install $installs times, expected once"
# The words after `apt-get install` up to the end of the command: options, then the list and nothing else.
args=$(tr '\n' ' ' <<<"$slim" | sed 's/\\ / /g' | grep -o "apt-get install [^&]*" | head -1)
args=${args#apt-get install }
set -f
rest=()
for w in $args; do [[ ${#rest[@]} -eq 0 && $w == -* ]] || rest+=("$w"); done
set +f
[[ "${rest[*]}" == "\$(grep -v '^\\s*#' /tmp/apt-packages-runtime.txt)" ]] ||
  fail "the slim stage's apt-get install names more than the runtime list: ${rest[*]}"
if grep -q 'LD_LIBRARY_PATH' $df; then fail "$df sets LD_LIBRARY_PATH: the runtime libraries come from packages"; fi
if grep -q 'ldd' $df; then fail "$df copies libraries found by ldd: the runtime libraries come from packages"; fi
copies=$(grep '^COPY --from=build' <<<"$slim" || true)
[[ $copies == "COPY --from=build /src/build/release/netsentry /usr/local/bin/netsentry" ]] ||
  fail "the slim stage copies more than the binary from the build stage: $copies"

# Every library the binary loads comes from a package of the runtime list, or from the packages the
# base image has (the C and C++ runtimes).
base=(libc6 libstdc++6 libgcc-s1)
# The sanitizer build (build/asan) loads its sanitizers' runtimes, which the image's binary does not.
sanitizers=(libasan8 libubsan1)
# Not a library: the CA certificates libcurl verifies S3's and MongoDB's TLS certificates with.
extras=(ca-certificates)
needed=$(bash scripts/runtime-packages.sh "$bin") || fail "cannot list the packages of $bin's libraries"
runtime=$(names scripts/apt-packages-runtime.txt)
for p in $needed; do
  [[ " ${base[*]} ${sanitizers[*]} " == *" $p "* ]] && continue
  grep -qx "$p" <<<"$runtime" ||
    fail "$bin loads a library of package '$p', which scripts/apt-packages-runtime.txt does not list"
done
for p in $runtime; do
  grep -qx "$p" <<<"$needed" && continue
  [[ " ${extras[*]} " == *" $p "* ]] && continue
  fail "scripts/apt-packages-runtime.txt lists '$p', which provides none of $bin's libraries"
done
for p in "${extras[@]}"; do grep -qx "$p" <<<"$runtime" || fail "scripts/apt-packages-runtime.txt lacks $p"; done

grep -qx 'make test' .ci/run || fail ".ci/run does not run 'make test'"
grep -q 'run: make test' .github/workflows/ci.yml || fail "the CI workflow does not run 'make test'"
grep -q '^make test' README.md || fail "README does not give 'make test'"
echo "packaging checks ok"
