#!/usr/bin/env python3
"""jumpgate and Terraform side by side on one generated estate (issue #7).

Run through scripts/bench.sh, which builds jumpgate and installs the pinned
emulator first. For each size (users x accounts) this generates one estate:
the jumpgate KDL, and the equivalent Terraform configuration, translated
from jumpgate's own plan from empty so that both tools create exactly the
same objects with the same policy documents. It then runs both tools against
one moto server, alternating and resetting the emulator between tools, and
prints wall time, peak memory and emulator requests for: apply from empty,
plan with no changes, plan after one user removed. It also measures the
emulator's raw request rate, to check that jumpgate waits on the emulator
rather than on itself.

Python 3 standard library only.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

JUMP_ID = "123456789012"  # moto's default account
REGION = "ap-northeast-1"
ROLES = ["admin", "developer", "operator"]
ACCOUNTS_PER_PROJECT = 10
SCENARIOS = ["apply from empty", "plan, no changes", "plan, one user removed"]
CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- emulator


class Emulator:
    """A moto server of our own on a free port; requests counted from its log."""

    def __init__(self, moto_server, workdir, managed_policies):
        self.moto_server = moto_server
        self.log_path = workdir / "moto.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "MOTO_ACCOUNT_ID"}
        # With managed policies, moto loads ~1,300 AWS policies into every
        # account's IAM on first touch and again on every reset (~3 s per
        # account here): emulator set-up both tools would pay, which this
        # workload does not need (no AWS-managed policy is attached; moto
        # ignores ManagedPolicyArns in templates). See --managed-policies.
        self.managed_policies = managed_policies
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true" if managed_policies else "false"
        # moto dates its credential report 2015 and rebuilds it on every
        # read; the strict ground's rule gives it a real generation time, as
        # AWS does. Each run finds the report older than the maximum age and
        # has a new one built (AWS: after four hours), so a plan reads a
        # report that postdates the users, as it would on any later day.
        env["JUMPGATE_STRICT_RULES"] = "credential_report"
        env["JUMPGATE_STRICT_CREDENTIAL_REPORT_MAX_AGE_SECONDS"] = "0"
        launcher = Path(__file__).resolve().parent.parent / "tests/support/strict/launch.py"
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(Path(moto_server).parent / "python"), str(launcher), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"moto_server exited; see {self.log_path}")
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("moto_server did not answer within 60 s")
        self.version = subprocess.run(
            [str(Path(moto_server).parent / "python"), "-c", "import moto; print(moto.__version__)"],
            capture_output=True,
            text=True,
        ).stdout.strip()

    def reset(self):
        req = urllib.request.Request(self.url + "/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=600).read()

    def warm(self, account_ids):
        """Touches each account's IAM, so that moto's per-account set-up is
        not timed as part of either tool's run."""
        if not self.managed_policies:
            return
        import http.client

        def call(body, key, service):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            conn.request("POST", "/", body, {
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0",
            })
            text = conn.getresponse().read().decode()
            conn.close()
            return text

        for account in account_ids:
            text = call(f"Action=AssumeRole&RoleArn=arn:aws:iam::{account}:role/warm&RoleSessionName=warm&Version=2011-06-15", "testing", "sts")
            key = re.search(r"<AccessKeyId>(\S+?)</AccessKeyId>", text).group(1)
            call("Action=ListRoles&Version=2010-05-08", key, "iam")

    def log_offset(self):
        self.log_file.flush()
        return self.log_path.stat().st_size

    def requests_since(self, offset):
        """AWS requests logged after `offset` (moto-api calls left out)."""
        time.sleep(0.3)  # let the last log lines reach the file
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        pattern = re.compile(r'"(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/[\d.]+" \d{3}')
        return sum(1 for m in pattern.finditer(text) if not m.group(2).startswith("/moto-api"))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.close()


def raw_rate(url, user, seconds=3.0, threads=1):
    """Requests per second a plain client gets from the emulator: a tight
    loop of GetLoginProfile (jumpgate's per-user read) on one connection per
    request, as moto closes every connection."""
    import http.client

    body = f"Action=GetLoginProfile&UserName={user}&Version=2010-05-08".encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    host, port = url.removeprefix("http://").split(":")
    counts = [0] * threads
    stop_at = time.monotonic() + seconds

    def loop(index):
        while time.monotonic() < stop_at:
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            conn.request("POST", "/", body, headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                raise SystemExit(f"raw-rate probe got HTTP {response.status}")
            counts[index] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - started)


# ---------------------------------------------------------------- measuring


def descendants(pid):
    """`pid` and its descendants, from /proc/<pid>/task/<tid>/children (cheap:
    no scan of all of /proc, which on a busy 2-core machine steals CPU from
    the emulator)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return found


def peak_rss_kib(pid):
    """The process's own high-water mark of resident memory (VmHWM), in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_measured(argv, cwd, env, emulator, log_path, ok_codes=(0,)):
    """Runs a command; returns wall seconds, peak memory (MiB) and emulator requests.

    Peak memory: every 50 ms, the peak resident memory (VmHWM, exact per
    process) of the command and of each process it has running at that
    moment (Terraform runs its provider plugin as a child, several times in
    one command) is summed; the largest such sum is reported. Processes that
    ran one after the other are not added together.
    """
    offset = emulator.log_offset()
    with open(log_path, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            alive = [peak_rss_kib(pid) for pid in descendants(proc.pid)]
            peak = max(peak, sum(hwm for hwm in alive if hwm is not None))
            time.sleep(0.05)
        wall = time.monotonic() - started
    if proc.returncode not in ok_codes:
        raise SystemExit(f"{argv[0]} exited {proc.returncode}; see {log_path}")
    return {"wall": wall, "mem": peak / 1024, "requests": emulator.requests_since(offset)}


# ---------------------------------------------------------------- estate


def estate(users, accounts):
    """The estate as plain data: projects with accounts, users with access."""
    projects = max(1, accounts // ACCOUNTS_PER_PROJECT)
    project_names = [f"proj{p:03d}" for p in range(projects)]
    account_list = []
    for a in range(accounts):
        project = project_names[a % projects]
        account_list.append((project, f"{project}-acct{a:04d}", f"{200000000000 + a:012d}"))
    user_list = []
    for u in range(users):
        access = [(ROLES[u % 3], project_names[u % projects])]
        # A second project for every other user, and a global role for one in 20.
        if u % 2 == 0 and projects > 1:
            access.append(("operator", project_names[(u + 1) % projects]))
        if u % 20 == 0:
            access.append(("admin" if u % 40 == 0 else "developer", None))
        user_list.append((f"user{u:06d}", access))
    return project_names, account_list, user_list


def write_kdl(path, project_names, account_list, user_list, skip_user=None):
    lines = [f'jump-account id="{JUMP_ID}" region="{REGION}"', ""]
    for project in project_names:
        lines.append(f'project "{project}" {{')
        for p, name, ident in account_list:
            if p == project:
                lines.append(f'    account "{name}" id="{ident}"')
        lines.append("}")
    lines.append("")
    for name, access in user_list:
        if name == skip_user:
            continue
        lines.append(f'user "{name}" {{')
        for role, project in access:
            lines.append(f'    access "{role}"' + (f' project="{project}"' if project else ""))
        lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def terraform_config(plan, endpoint):
    """The Terraform configuration that creates what jumpgate's plan from empty creates."""
    groups, group_policies, users, memberships, stacks = {}, {}, {}, {}, {}
    mfa, stack_set, instances = None, None, []
    for change in plan["changes"]:
        kind, after, address = change["kind"], change["after"], change["address"]
        if kind == "group":
            groups[after["name"]] = after["path"]
        elif kind == "group-policy":
            group, policy_name = address.removeprefix("group-policy.").split("/")
            group_policies[group] = {"name": policy_name, "policy": literal(json.dumps(after, sort_keys=True))}
        elif kind == "managed-policy":
            op = change["operations"][0]
            mfa = {"name": op["name"], "path": op["path"], "policy": literal(json.dumps(after, sort_keys=True))}
        elif kind == "user":
            users[after["name"]] = after["tags"]
        elif kind == "membership":
            memberships.setdefault(after["user"], []).append(after["group"])
        elif kind == "stack":
            stacks[address.removeprefix("stack.")] = after
        elif kind == "stack-set":
            stack_set = after
        elif kind == "stack-instance":
            instances.append(after["account"])
    assert set(group_policies) == set(groups), "every group has its policy"
    tags = next(iter(users.values()))
    for_users = {name: sorted(memberships.get(name, [])) for name in users}
    stack_resources = {}
    for name, stack in stacks.items():
        stack_resources[name] = {
            "name": name,
            "template_body": literal(json.dumps(stack["template"], sort_keys=True)),
            "parameters": stack["parameters"],
            "capabilities": ["CAPABILITY_NAMED_IAM"],
        }
    config = {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "provider": {
            "aws": {
                "region": REGION,
                "access_key": "testing",
                "secret_key": "testing",
                "skip_credentials_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": True,
                "endpoints": [{s: endpoint for s in ("iam", "sts", "cloudformation", "organizations")}],
            }
        },
        "locals": {"users": for_users, "group_policies": group_policies, "user_tags": tags},
        "resource": {
            "aws_iam_policy": {"mfa": mfa},
            "aws_iam_group": {
                "g": {"for_each": "${local.group_policies}", "name": "${each.key}", "path": "/jumpgate/"}
            },
            "aws_iam_group_policy": {
                "g": {
                    "for_each": "${local.group_policies}",
                    "name": "${each.value.name}",
                    "group": "${aws_iam_group.g[each.key].name}",
                    "policy": "${each.value.policy}",
                }
            },
            "aws_iam_group_policy_attachment": {
                "mfa": {
                    "for_each": "${local.group_policies}",
                    "group": "${aws_iam_group.g[each.key].name}",
                    "policy_arn": "${aws_iam_policy.mfa.arn}",
                }
            },
            "aws_iam_user": {
                "u": {
                    "for_each": "${local.users}",
                    "name": "${each.key}",
                    "tags": "${local.user_tags}",
                    "force_destroy": True,
                }
            },
            "aws_iam_user_group_membership": {
                "u": {
                    "for_each": "${local.users}",
                    "user": "${aws_iam_user.u[each.key].name}",
                    "groups": "${[for g in each.value : aws_iam_group.g[g].name]}",
                }
            },
            "aws_iam_user_login_profile": {
                "u": {
                    "for_each": "${local.users}",
                    "user": "${aws_iam_user.u[each.key].name}",
                    "password_reset_required": True,
                    # moto does not store PasswordResetRequired (EMULATOR.md).
                    "lifecycle": [{"ignore_changes": ["password_reset_required"]}],
                }
            },
        },
    }
    if stacks or stack_set:
        config["resource"]["aws_cloudformation_stack"] = stack_resources
        config["resource"]["aws_cloudformation_stack_set"] = {
            "roles": {
                "name": "iam-roles",
                "permission_model": "SELF_MANAGED",
                "administration_role_arn": f"arn:aws:iam::{JUMP_ID}:role/AWSCloudFormationStackSetAdministrationRole",
                "execution_role_name": "AWSCloudFormationStackSetExecutionRole",
                "template_body": literal(json.dumps(stack_set["template"], sort_keys=True)),
                "parameters": stack_set["parameters"],
                "capabilities": ["CAPABILITY_NAMED_IAM"],
                "depends_on": [f"aws_cloudformation_stack.{n}" for n in stacks],
                # moto does not return a StackSet's capabilities (a perpetual diff otherwise).
                "lifecycle": [{"ignore_changes": ["capabilities"]}],
            }
        }
        config["resource"]["aws_cloudformation_stack_set_instance"] = {
            "roles": {
                "for_each": "${toset(" + json.dumps(sorted(instances)) + ")}",
                "stack_set_name": "${aws_cloudformation_stack_set.roles.name}",
                "account_id": "${each.key}",
                "region": REGION,
            }
        }
    return config


def literal(text):
    """A string Terraform takes as is: no `${` or `%{` templates."""
    return text.replace("${", "$${").replace("%{", "%%{")


def remove_user_from_tf(config, user):
    trimmed = json.loads(json.dumps(config))
    del trimmed["locals"]["users"][user]
    return trimmed


# ---------------------------------------------------------------- tools


def terraform_cli_config(workdir):
    """TF_CLI_CONFIG_FILE when it exists; else one pointing at the provider mirror."""
    existing = os.environ.get("TF_CLI_CONFIG_FILE")
    if existing and Path(existing).is_file():
        return existing
    for root in ("/opt", "/usr/share", "/usr/local/share", str(Path.home() / ".terraform.d")):
        for found in Path(root).glob("**/registry.terraform.io/hashicorp/aws"):
            mirror = found.parent.parent.parent
            rc = workdir / "terraformrc"
            rc.write_text(
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
                '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n'
            )
            return str(rc)
    return None


class Jumpgate:
    name = "jumpgate"

    def __init__(self, binary, workdir, emulator, extra_args):
        self.binary, self.dir, self.emulator = binary, workdir / "jumpgate", emulator
        self.extra = extra_args
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **CREDS, "AWS_ENDPOINT_URL": emulator.url, "NO_COLOR": "1"}
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            self.env.pop(k, None)
        self.log = self.dir / "runs.log"

    def cmd(self, *args):
        return [str(self.binary), *args, *self.extra]

    def prepare(self, estate_parts):
        write_kdl(self.dir / "full.kdl", *estate_parts)
        removed = estate_parts[2][len(estate_parts[2]) // 2][0]
        write_kdl(self.dir / "minus-one.kdl", *estate_parts, skip_user=removed)
        return removed

    def plan_json_from_empty(self):
        out = subprocess.run(
            self.cmd("plan", str(self.dir / "full.kdl"), "--format", "json"),
            env=self.env,
            capture_output=True,
            check=True,
        )
        return json.loads(out.stdout)

    def apply(self):
        secrets = self.dir / "secrets"
        shutil.rmtree(secrets, ignore_errors=True)
        secrets.mkdir()
        return run_measured(
            self.cmd("apply", str(self.dir / "full.kdl"), "--yes", "--secrets-dir", str(secrets)),
            self.dir,
            self.env,
            self.emulator,
            self.log,
        )

    def plan(self, removed):
        state = self.dir / ("minus-one.kdl" if removed else "full.kdl")
        result = run_measured(
            self.cmd("plan", str(state), "--detailed-exitcode"),
            self.dir,
            self.env,
            self.emulator,
            self.log,
            ok_codes=(2,) if removed else (0,),
        )
        return result


class Terraform:
    name = "terraform"

    def __init__(self, workdir, emulator, rc, parallelism):
        self.dir, self.emulator = workdir / "terraform", emulator
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **CREDS, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
        self.env.pop("AWS_PROFILE", None)
        if rc:
            self.env["TF_CLI_CONFIG_FILE"] = rc
        self.parallelism = [f"-parallelism={parallelism}"] if parallelism else []
        self.log = self.dir / "runs.log"

    def prepare(self, config, removed_user):
        self.full = config
        self.minus_one = remove_user_from_tf(config, removed_user)
        self.write(self.full)
        subprocess.run(
            ["terraform", "init", "-input=false", "-no-color"],
            cwd=self.dir,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def write(self, config):
        (self.dir / "main.tf.json").write_text(json.dumps(config, indent=1))

    def apply(self):
        for f in ("terraform.tfstate", "terraform.tfstate.backup"):
            (self.dir / f).unlink(missing_ok=True)
        self.write(self.full)
        return run_measured(
            ["terraform", "apply", "-auto-approve", "-input=false", "-no-color", *self.parallelism],
            self.dir,
            self.env,
            self.emulator,
            self.log,
        )

    def plan(self, removed):
        self.write(self.minus_one if removed else self.full)
        try:
            return run_measured(
                ["terraform", "plan", "-input=false", "-no-color", "-detailed-exitcode", "-lock=false", *self.parallelism],
                self.dir,
                self.env,
                self.emulator,
                self.log,
                ok_codes=(2,) if removed else (0,),
            )
        finally:
            self.write(self.full)


# ---------------------------------------------------------------- main


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        users, _, accounts = item.strip().partition("x")
        sizes.append((int(users), int(accounts or max(1, int(users) // 10))))
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jumpgate", required=True, help="the jumpgate binary")
    parser.add_argument("--moto-server", required=True, help="moto_server of the pinned venv")
    parser.add_argument("--sizes", default="100x10,1000x100", help="USERSxACCOUNTS,... (default %(default)s; 5000x500 too if you have the time)")
    parser.add_argument("--tools", default="jumpgate,terraform", help="which tools, in the order they alternate")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of both tools per size; the table shows medians")
    parser.add_argument("--workdir", default="target-bench/bench", help="where estates, logs and state go")
    parser.add_argument("--tf-parallelism", type=int, default=0, help="terraform -parallelism (default: Terraform's own, 10)")
    parser.add_argument("--jumpgate-args", default="", help="extra jumpgate arguments, e.g. '--concurrency 8'")
    parser.add_argument(
        "--managed-policies",
        action="store_true",
        help="start moto with MOTO_IAM_LOAD_MANAGED_POLICIES=true; member accounts are then warmed up (untimed) after each reset",
    )
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args()

    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if "terraform" in tools and not shutil.which("terraform"):
        raise SystemExit("terraform is not on PATH (or pass --tools jumpgate)")
    rc = terraform_cli_config(workdir) if "terraform" in tools else None

    emulator = Emulator(args.moto_server, workdir, args.managed_policies)
    log(f"moto {emulator.version} at {emulator.url}")
    results = []
    try:
        for users, accounts in parse_sizes(args.sizes):
            size_dir = workdir / f"{users}x{accounts}"
            parts = estate(users, accounts)
            jg = Jumpgate(Path(args.jumpgate).resolve(), size_dir, emulator, args.jumpgate_args.split())
            removed = jg.prepare(parts)
            emulator.reset()
            plan = jg.plan_json_from_empty()
            runners = {"jumpgate": jg}
            if "terraform" in tools:
                tf = Terraform(size_dir, emulator, rc, args.tf_parallelism)
                tf.prepare(terraform_config(plan, emulator.url), removed)
                runners["terraform"] = tf
            row = {"users": users, "accounts": accounts, "changes": len(plan["changes"]), "tools": {}}
            for round_no in range(args.rounds):
                for name in tools:
                    runner = runners[name]
                    emulator.reset()
                    emulator.warm([JUMP_ID] + [ident for _, _, ident in parts[1]])
                    log(f"{users} users x {accounts} accounts, round {round_no + 1}: {name} apply from empty")
                    measured = [runner.apply()]
                    log(f"  {measured[0]['wall']:.1f} s; plan with no changes")
                    measured.append(runner.plan(removed=False))
                    log(f"  {measured[1]['wall']:.1f} s; plan after one user removed")
                    measured.append(runner.plan(removed=True))
                    log(f"  {measured[2]['wall']:.1f} s")
                    if name == "jumpgate" and "rate" not in row:
                        one = raw_rate(emulator.url, parts[2][0][0], threads=1)
                        many = raw_rate(emulator.url, parts[2][0][0], threads=8)
                        row["rate"] = {"1": one, "8": many}
                        log(f"  emulator raw rate: {one:.0f} req/s (1 client), {many:.0f} req/s (8 clients)")
                    row["tools"].setdefault(name, []).append(measured)
            results.append(row)
            print_table(results, tools)
    finally:
        emulator.stop()
    print_table(results, tools, final=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"moto": emulator.version, "results": results}, indent=1))


def median_of(rounds, scenario, field):
    return statistics.median(r[scenario][field] for r in rounds)


def print_table(results, tools, final=False):
    if not final:
        return
    header = ["size", "scenario"]
    for t in tools:
        header += [f"{t} s", f"{t} MiB", f"{t} req"]
    if len(tools) == 2:
        header += ["time ×", "mem ×", "req ×"]
    rows = []
    for row in results:
        size = f"{row['users']} u / {row['accounts']} acct"
        for i, scenario in enumerate(SCENARIOS):
            cells = [size, scenario]
            values = {}
            for t in tools:
                rounds = row["tools"][t]
                values[t] = [median_of(rounds, i, f) for f in ("wall", "mem", "requests")]
                cells += [f"{values[t][0]:.2f}", f"{values[t][1]:.0f}", f"{values[t][2]:.0f}"]
            if len(tools) == 2:
                a, b = values[tools[1]], values[tools[0]]
                cells += [f"{a[k] / b[k]:.1f}" if b[k] else "-" for k in range(3)]
            rows.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print()
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in rows:
        print(line(cells))
    if len(tools) == 2:
        print(f"\n× columns: {tools[1]} / {tools[0]} (higher means {tools[0]} is faster, leaner, or sends fewer requests).")
    print("\nWaiting on the emulator, not on itself (jumpgate plan wall ≤ 1.5 × requests / raw rate):")
    for row in results:
        if "jumpgate" not in row["tools"] or "rate" not in row:
            continue
        rate = max(row["rate"].values())
        for i in (1, 2):
            wall = median_of(row["tools"]["jumpgate"], i, "wall")
            req = median_of(row["tools"]["jumpgate"], i, "requests")
            bound = req / rate
            print(
                f"  {row['users']} users, {SCENARIOS[i]}: {wall:.2f} s for {req:.0f} requests; "
                f"at {rate:.0f} req/s those take {bound:.2f} s; ratio {wall / bound:.2f} "
                f"({'ok' if wall <= 1.5 * bound else 'over 1.5'})"
            )


if __name__ == "__main__":
    main()
