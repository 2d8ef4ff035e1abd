#!/usr/bin/env bash
# jumpgate and Terraform side by side on one generated estate (issue #7).
#
#   scripts/bench.sh [--sizes 100x10,1000x100[,5000x500]] [--tools jumpgate,terraform]
#                    [--rounds N] [--json FILE] [--managed-policies] ...
#
# Builds jumpgate with the bench-fast profile into target-bench/ (its own
# target dir, so it never waits on the debug build lock in target/),
# installs the pinned moto emulator (scripts/emulator.sh), then runs
# scripts/bench.py, which prints the table. `scripts/bench.py --help` lists
# every option. Set JUMPGATE_BENCH_PROFILE=release to compare profiles.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
profile=${JUMPGATE_BENCH_PROFILE:-bench-fast}
target=${JUMPGATE_BENCH_TARGET:-$repo/target-bench}

command -v terraform >/dev/null || echo "bench.sh: terraform not on PATH; pass --tools jumpgate" >&2
(cd "$repo" && CARGO_TARGET_DIR=$target cargo build --quiet --profile "$profile" --bin jumpgate)
# The emulator venv is the one the tests share (target/emulator-venv).
env -u CARGO_TARGET_DIR "$repo/scripts/emulator.sh" install
exec python3 "$repo/scripts/bench.py" \
  --jumpgate "$target/$profile/jumpgate" \
  --moto-server "$repo/target/emulator-venv/bin/moto_server" \
  --workdir "$target/bench" \
  "$@"
