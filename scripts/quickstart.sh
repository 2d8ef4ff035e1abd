#!/usr/bin/env bash
# jumpgate's main job, end to end, against a local AWS emulator on this
# repository's own state/: build, start the emulator, plan, apply, plan again
# (no changes), then offboard a person by deleting their block and applying.
#
#   scripts/quickstart.sh [PORT]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
port=${1:-5000}
if [[ -t 2 && -z ${NO_COLOR:-} ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain" >&2; }

step "Building jumpgate"
cargo build --quiet
jumpgate=$repo/target/debug/jumpgate

step "Starting the local AWS emulator on port $port"
scripts/emulator.sh stop 2>/dev/null || true
endpoint=$(scripts/emulator.sh start "$port")
trap 'scripts/emulator.sh stop' EXIT
export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=ap-northeast-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

work=$(mktemp -d)
cp -r state "$work/state"
secrets=$work/secrets

step "jumpgate validate state/"
"$jumpgate" validate "$work/state"

step "jumpgate bootstrap: each member account's owner puts the StackSet execution role in"
# As on AWS, a stack instance fails in an account without the execution role
# (the emulator runs with the strict test ground). Each owner runs bootstrap
# with their own account's credentials; here AssumeRole stands in for them.
venv_python=${CARGO_TARGET_DIR:-$repo/target}/emulator-venv/bin/python
while read -r name id; do
  creds=$("$venv_python" - "$endpoint" "$id" <<'PY'
import sys, boto3
endpoint, account = sys.argv[1], sys.argv[2]
sts = boto3.client("sts", endpoint_url=endpoint, region_name="ap-northeast-1")
c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/owner", RoleSessionName="owner")["Credentials"]
print(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
PY
)
  read -r key secret token <<<"$creds"
  AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token \
    "$jumpgate" bootstrap "$work/state" --account "$name"
done < <(sed -nE 's/^ *account "([^"]+)" +id="([0-9]{12})".*/\1 \2/p' "$work"/state/*.kdl)

step "jumpgate plan state/ (from an empty account)"
"$jumpgate" plan "$work/state"

step "jumpgate apply state/"
"$jumpgate" apply "$work/state" --yes --secrets-dir "$secrets"

step "jumpgate plan state/ again: nothing left to do (exit code 0 with --detailed-exitcode)"
"$jumpgate" plan "$work/state" --detailed-exitcode

step "Offboarding: deleting sato.kenji's block from users.kdl"
python3 - "$work/state/users.kdl" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
text, n = re.subn(r'user "sato\.kenji" \{.*?\n\}\n', '', text, flags=re.S)
assert n == 1, "sato.kenji's block not found"
open(path, "w").write(text)
PY
"$jumpgate" plan "$work/state"
"$jumpgate" apply "$work/state" --yes --secrets-dir "$secrets"

step "Done: the estate matches the file again"
"$jumpgate" plan "$work/state" --detailed-exitcode
rm -rf "$work"
