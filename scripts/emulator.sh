#!/usr/bin/env bash
# The local AWS emulator (moto server) that the integration tests use, for
# trying jumpgate by hand.
#
#   scripts/emulator.sh start [PORT]  start it in the background (port 5000 by
#                                     default) and print its endpoint
#   scripts/emulator.sh stop          stop it
#   scripts/emulator.sh install       only install the pinned moto (and the
#                                     cfn-lint that moto[server] brings)
set -euo pipefail

# Keep these in step with tests/support/emulator.rs, so that the tests and
# this script share one venv and never install it at the same time.
MOTO_REQUIREMENT='moto[server]==5.2.5'
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
venv=$target/emulator-venv
marker=$venv/jumpgate-moto-requirement
lock=$target/emulator-venv.lock
pidfile=$target/emulator.pid
log=$target/emulator.log

die() {
  echo "emulator.sh: $*" >&2
  exit 1
}

install() {
  mkdir -p "$target"
  exec 9>"$lock"
  flock 9
  if [[ -x $venv/bin/moto_server && "$(cat "$marker" 2>/dev/null)" == "$MOTO_REQUIREMENT" ]]; then
    exec 9>&-
    return
  fi
  # Without the marker this is an interrupted install or another version.
  rm -rf "$venv"
  echo "Installing $MOTO_REQUIREMENT into $venv" >&2
  python3 -m venv "$venv" ||
    die "venv creation failed (on Debian or Ubuntu: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet "$MOTO_REQUIREMENT" || die "pip install failed"
  printf '%s' "$MOTO_REQUIREMENT" >"$marker"
  exec 9>&-
}

running_pid() {
  [[ -f $pidfile ]] || return 1
  local pid
  pid=$(cat "$pidfile")
  # The pid may have been reused by another program since.
  ps -o args= -p "$pid" 2>/dev/null | grep -q strict/launch.py || return 1
  echo "$pid"
}

start() {
  local port=${1:-5000} pid
  [[ $port =~ ^[0-9]+$ ]] || die "not a port: $port"
  if pid=$(running_pid); then
    die "already running (pid $pid); stop it first"
  fi
  install
  # Managed policies make attaching arn:aws:iam::aws:policy/... work; the
  # default account must stay 123456789012, so MOTO_ACCOUNT_ID is cleared.
  # The launcher installs the strict test ground (tests/support/strict/;
  # JUMPGATE_STRICT=0 in the environment starts plain moto).
  env -u MOTO_ACCOUNT_ID \
    MOTO_IAM_LOAD_MANAGED_POLICIES=true \
    MOTO_RECORDER_FILEPATH="$target/emulator-recording.jsonl" \
    nohup "$venv/bin/python" "$repo/tests/support/strict/launch.py" -H 127.0.0.1 -p "$port" </dev/null >"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$pidfile"
  # Werkzeug prints "Running on" only once it has bound the port, so an
  # answer cannot come from some other server already on it.
  local deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pidfile"
      cat "$log" >&2
      die "the emulator exited; its output is above"
    fi
    if grep -q "Running on http://127.0.0.1:$port" "$log" &&
      "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
      echo "http://127.0.0.1:$port"
      cat >&2 <<EOF
Emulator running (pid $pid, log $log). To point jumpgate at it:
  export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=ap-northeast-1
  unset AWS_PROFILE AWS_SESSION_TOKEN
EOF
      return
    fi
    sleep 0.1
  done
  kill "$pid"
  rm -f "$pidfile"
  die "moto_server did not answer on port $port within 30 s; see $log"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pidfile"
    echo "emulator.sh: not running" >&2
    return
  fi
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$pidfile"
  echo "emulator.sh: stopped (pid $pid)" >&2
}

case ${1:-} in
  start) start "${2:-}" ;;
  stop) stop ;;
  install) install ;;
  *) die "usage: scripts/emulator.sh start [PORT] | stop | install" ;;
esac
