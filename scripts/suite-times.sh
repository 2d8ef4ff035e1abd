#!/usr/bin/env bash
# The test suites' wall time against an older commit, on the tests both
# have: builds REV in a temporary worktree, lists its tests, then runs
# exactly those tests there and in this checkout, suite by suite, and prints
# each suite's `finished in` and the sums. Issue #11 measured the strict test
# ground this way (REV 95a0e66, the commit before it).
#
#   scripts/suite-times.sh REV
#
# Run it on an idle machine: on two cores a parallel build doubles the
# figures. Extra environment (JUMPGATE_STRICT=0, knobs) applies to both runs.
set -euo pipefail
rev=${1:?usage: scripts/suite-times.sh REV}
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$repo" worktree add --quiet --detach "$work/old" "$rev"
# REV builds into a target dir of its own: sharing this checkout's would let
# one build's binary stand in for the other's. The emulator venv is shared.
mkdir -p "$target/suite-times"
[[ -e $target/suite-times/emulator-venv ]] || ln -s ../emulator-venv "$target/suite-times/emulator-venv"

# The tests of REV, as "suite name" lines (the library's own unit tests
# change too often to pair by name: they are left out).
(cd "$work/old" && for suite in tests/*.rs; do
  suite=$(basename "$suite" .rs)
  CARGO_TARGET_DIR=$target/suite-times cargo test --quiet --test "$suite" -- --list 2>/dev/null |
    sed -n "s/^\(.*\): test$/$suite \1/p"
done) >"$work/tests"

# times DIR LABEL TARGET: runs each suite of the list in DIR (built into
# TARGET) with only those tests (a test since moved into a module is found by
# its last path segment) and prints the times under LABEL.
times() {
  local dir=$1 label=$2 total=0 suite names now secs
  for suite in $(cut -d' ' -f1 "$work/tests" | sort -u); do
    now=$(cd "$dir" && CARGO_TARGET_DIR=$3 cargo test --quiet --test "$suite" -- --list 2>/dev/null |
      sed -n 's/: test$//p')
    names=$(grep "^$suite " "$work/tests" | cut -d' ' -f2 | while read -r old; do
      grep -x -m1 -e "$old" -e ".*::${old##*::}" <<<"$now" || echo "$old"
    done)
    # shellcheck disable=SC2086 # one argument per test name
    secs=$(cd "$dir" && CARGO_TARGET_DIR=$3 cargo test --quiet --test "$suite" -- --exact $names 2>&1 |
      sed -n 's/^test result: ok\..*finished in \([0-9.]*\)s$/\1/p')
    [[ -n $secs ]] || { echo "$label: $suite failed" >&2; exit 1; }
    printf '%-8s %-18s %3d tests %7.2f s\n' "$label" "$suite" "$(wc -w <<<"$names")" "$secs"
    total=$(echo "$total + $secs" | bc)
  done
  printf '%-8s %-18s %17.2f s\n' "$label" total "$total"
}
(cd "$work/old" && CARGO_TARGET_DIR=$target/suite-times cargo test --quiet --no-run 2>/dev/null)
(cd "$repo" && cargo test --quiet --no-run 2>/dev/null)
times "$work/old" "$rev" "$target/suite-times"
times "$repo" "HEAD" "$target"
