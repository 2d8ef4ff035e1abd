"""AWS Organizations as AWS runs it.

moto creates an account inside the CreateAccount request, with its access
role ready at once, and never fails. These rules make moto:

- answer CreateAccount with IN_PROGRESS, and DescribeCreateAccountStatus
  IN_PROGRESS for a while, then SUCCEEDED with the account id (the account
  is listed only then) (API_CreateAccount, API_CreateAccountStatus);
- end FAILED with FailureReason EMAIL_ALREADY_EXISTS when the e-mail
  already belongs to an account (API_CreateAccountStatus);
- refuse AssumeRole into a new account's access role for a while after it
  was created: "You might need to wait a few minutes before you can
  successfully access the account" (API_CreateAccount);
- give an invited account no access role, so AssumeRole into it is denied
  (orgs_manage_accounts_access: "If you invite an existing account ... you
  must manually create the role"). moto cannot invite accounts; a test
  makes one by calling CreateAccount with the tag
  `jumpgate-strict:joined-method` = `INVITED`.

AssumeRole into the access role of a member account that lacks the role is
AccessDenied, as on AWS (API_AssumeRole "Errors"); other role names keep
moto's behaviour (any role may be assumed), which the test harness uses to
act in an account.

Knobs (JUMPGATE_STRICT_<NAME>):
  ORG_CREATE_ACCOUNT_POLLS    DescribeCreateAccountStatus answers IN_PROGRESS
                              this many times first (2)
  ORG_ACCESS_DENIALS          AssumeRole into a new account's access role is
                              denied this many times first (2)
Counted in calls rather than seconds, so a slow machine sees the same.
  ORG_ACCESS_ROLE_NAME        the access role these rules guard
                              (OrganizationAccountAccessRole)
"""

from moto.iam.models import iam_backends
from moto.organizations import models as org
from moto.sts import models as sts
from moto.sts.exceptions import STSClientError

INVITED_TAG = "jumpgate-strict:joined-method"


class AccessDenied(STSClientError):
    code = "AccessDenied"


def install(settings):
    create_polls = settings.integer("ORG_CREATE_ACCOUNT_POLLS", 2)
    access_denials = settings.integer("ORG_ACCESS_DENIALS", 2)
    access_role = settings.raw("ORG_ACCESS_ROLE_NAME", "OrganizationAccountAccessRole")

    # Account id -> IN_PROGRESS answers left; -> AssumeRole denials left;
    # failed requests by id.
    polls_left = {}
    denials_left = {}
    failed = {}

    def settled(account):
        return polls_left.get(account.id, 0) <= 0

    backend = org.OrganizationsBackend
    original_create = backend.create_account

    def create_account(self, **kwargs):
        email = kwargs.get("Email", "")
        if self.org is not None and any(
            a.email.lower() == email.lower() for a in self.accounts
        ):
            request_id = org.utils.make_random_create_account_status_id()
            failed[request_id] = {
                "Id": request_id,
                "AccountName": kwargs.get("AccountName"),
                "State": "FAILED",
                "FailureReason": "EMAIL_ALREADY_EXISTS",
                "RequestedTimestamp": org.unix_time(org.utcnow()),
                "CompletedTimestamp": org.unix_time(org.utcnow()),
                "StrictPolls": create_polls,
            }
            return {"CreateAccountStatus": public(failed[request_id], in_progress=True)}
        status = original_create(self, **kwargs)
        account = self.accounts[-1]
        polls_left[account.id] = create_polls
        denials_left[account.id] = access_denials
        if account.tags.get(INVITED_TAG) == "INVITED":
            account.joined_method = "INVITED"
            iam = iam_backends[account.id]["global"]
            role = next((r for r in iam.roles.values() if r.name == access_role), None)
            if role is not None:
                iam.roles.pop(role.id, None)
            polls_left[account.id] = 0
            denials_left[account.id] = 0
            return status
        return {"CreateAccountStatus": in_progress_status(account)}

    def public(record, in_progress):
        out = {k: v for k, v in record.items() if not k.startswith("Strict")}
        if in_progress:
            out["State"] = "IN_PROGRESS"
            out.pop("FailureReason", None)
            out.pop("CompletedTimestamp", None)
        return out

    def in_progress_status(account):
        status = dict(account.create_account_status["CreateAccountStatus"])
        status["State"] = "IN_PROGRESS"
        status.pop("AccountId", None)
        status.pop("CompletedTimestamp", None)
        return status

    original_describe_status = backend.describe_create_account_status

    def describe_create_account_status(self, **kwargs):
        request_id = kwargs["CreateAccountRequestId"]
        if request_id in failed:
            record = failed[request_id]
            record["StrictPolls"] -= 1
            return {"CreateAccountStatus": public(record, in_progress=record["StrictPolls"] >= 0)}
        account = self.get_account_by_attr("create_account_status_id", request_id)
        if not settled(account):
            polls_left[account.id] -= 1
            return {"CreateAccountStatus": in_progress_status(account)}
        return original_describe_status(self, **kwargs)

    original_list = backend.list_accounts

    def list_accounts(self, *args, **kwargs):
        # A creation still IN_PROGRESS is not an account yet.
        hidden = [a for a in self.accounts if not settled(a)]
        for account in hidden:
            self.accounts.remove(account)
        try:
            return original_list(self, *args, **kwargs)
        finally:
            self.accounts.extend(hidden)

    backend.create_account = create_account
    backend.describe_create_account_status = describe_create_account_status
    backend.list_accounts = list_accounts

    def member(account_id):
        for backends in org.organizations_backends.values():
            for region_backend in backends.values():
                for account in getattr(region_backend, "accounts", []):
                    if account.id == account_id:
                        return account
        return None

    original_assume = sts.STSBackend.assume_role

    def assume_role(self, region_name, role_session_name, role_arn, policy, duration, external_id):
        parts = role_arn.split(":")
        account_id = parts[4] if len(parts) > 5 else None
        role_name = role_arn.split("/")[-1]
        account = member(account_id) if account_id else None
        if account is not None and role_name == access_role:
            denied = (
                f"User: arn:aws:iam::{self.account_id}:root is not authorized to perform: "
                f"sts:AssumeRole on resource: {role_arn}"
            )
            exists = any(r.name == role_name for r in iam_backends[account_id]["global"].roles.values())
            if not exists:
                raise AccessDenied(denied)
            if denials_left.get(account_id, 0) > 0:
                denials_left[account_id] -= 1
                raise AccessDenied(denied)
        return original_assume(
            self, region_name, role_session_name, role_arn, policy, duration, external_id
        )

    sts.STSBackend.assume_role = assume_role
