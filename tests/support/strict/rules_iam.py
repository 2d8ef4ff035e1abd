"""IAM as AWS runs it.

moto accepts much that IAM refuses and answers at once what AWS answers
eventually. These rules make moto:

- keep a user's tags when UpdateUser renames it (moto loses them);
- refuse a user, group, role or managed policy whose name differs from an
  existing one only in case, and a managed policy whose name exists on
  another path (EntityAlreadyExists; IAM User Guide "IAM identifiers",
  reference_identifiers.html: names are not distinguished by case, and
  API_CreatePolicy: names are unique within the account);
- refuse DeleteUser while the user has anything "Deleting an IAM user"
  (id_users_remove.html) lists (login profile, access keys, signing
  certificates, SSH keys, MFA devices, inline and attached policies, group
  memberships); DeleteGroup with members or policies; DeletePolicy while
  attached or with non-default versions (DeleteConflict; API_DeleteUser,
  API_DeleteGroup, API_DeletePolicy);
- keep IAM object quotas (reference_iam-quotas.html) as LimitExceeded: 5,000
  users and 300 groups per account, 10 groups per user, 10 managed policies
  per group, 6,144 characters per managed policy, 5,120 for a group's inline
  policies, 2,048 for a user's, 2,048 for a role's trust policy;
- enforce the account password policy on CreateLoginProfile and
  UpdateLoginProfile (PasswordPolicyViolation; API_CreateLoginProfile), and
  keep the PasswordResetRequired asked for (moto drops it);
- page every IAM list call and GetAccountAuthorizationDetails as IAM does:
  at most MaxItems items (100 when not given; a value outside 1-1,000 is a
  ValidationError), and often fewer, with IsTruncated and an opaque Marker
  (API_ListUsers, API_GetAccountAuthorizationDetails: "If you do not
  include this parameter, the number of items defaults to 100", "IAM might
  return fewer results, even when there are more results available");
- for a short window after a create made by jumpgate, hide the new user,
  group, role, policy or login profile from reads (Get*, List*,
  GetAccountAuthorizationDetails), refuse attaching the new policy
  (NoSuchEntity) and a trust policy naming the new principal
  (MalformedPolicyDocument: Invalid principal in policy) — IAM
  troubleshooting, "Changes that I make are not always immediately visible"
  (troubleshoot_general.html#troubleshoot_general_eventual-consistency);
- refuse now and then a jumpgate write with ConcurrentModification (HTTP
  409; "Common errors" of the IAM API: the request was rejected because
  multiple requests to change this object were submitted simultaneously).

The paging, the window and the refusals apply to requests whose User-Agent
names jumpgate (`app/jumpgate`): they test jumpgate, while a test's own
set-up and assertion calls (one page, made just before or after a run) stay
simple and deterministic; IAM_EVERY_CLIENT=1 applies them to every client.

Knobs (JUMPGATE_STRICT_<NAME>):
  IAM_PAGE_SIZE                    at most this many items per page of every
                                   list call, fewer than MaxItems asks as IAM
                                   may answer (unset: MaxItems; iam_rules
                                   pages by 2)
  IAM_CONSISTENCY_SECONDS          how long a new object stays unseen (0.1)
  IAM_CONCURRENT_MODIFICATION      share of jumpgate writes refused with
                                   ConcurrentModification (0: a refused
                                   write is resent, and suites that count
                                   requests would see it twice; the
                                   iam_rules suite turns it on)
  IAM_SEED                         seed of those refusals (1)
  IAM_EVERY_CLIENT                 paging, window and refusals for every
                                   client, not only jumpgate (0)
"""

import base64
import functools
import json
import random
import re
import threading
import time

from moto.core.exceptions import ServiceException
from moto.iam import models as iam
from moto.iam import responses as iam_responses
from moto.iam.exceptions import (
    DeleteConflictException,
    LimitExceededException,
    NotFoundException,
)
from moto.iam.models import EntityAlreadyExists


class PasswordPolicyViolation(ServiceException):
    code = "PasswordPolicyViolation"


class ConcurrentModification(ServiceException):
    code = "ConcurrentModification"



class MalformedPolicyDocument(ServiceException):
    code = "MalformedPolicyDocument"


class ValidationError(ServiceException):
    code = "ValidationError"


# IAM object quotas (reference_iam-quotas.html).
USERS_PER_ACCOUNT = 5000
GROUPS_PER_ACCOUNT = 300
GROUPS_PER_USER = 10
MANAGED_POLICIES_PER_GROUP = 10
MANAGED_POLICY_SIZE = 6144
GROUP_INLINE_SIZE = 5120
USER_INLINE_SIZE = 2048
TRUST_POLICY_SIZE = 2048

# The symbols IAM's password policy counts (API_UpdateAccountPasswordPolicy).
SYMBOLS = set("!@#$%^&*()_+-=[]{}|'")

# MaxItems when a list call names none, and the most it may name
# (API_ListUsers: "the number of items defaults to 100", valid range 1-1000).
DEFAULT_MAX_ITEMS = 100
MAX_ITEMS = 1000

# Each list call: the result keys that hold its items, paged as one sequence.
PAGED = {
    "list_users": ["Users"],
    "list_groups": ["Groups"],
    "list_groups_for_user": ["Groups"],
    "get_group": ["Users"],
    "list_roles": ["Roles"],
    "list_policies": ["Policies"],
    "list_policy_versions": ["Versions"],
    "list_access_keys": ["AccessKeyMetadata"],
    "list_signing_certificates": ["Certificates"],
    "list_ssh_public_keys": ["SSHPublicKeys"],
    "list_mfa_devices": ["MFADevices"],
    "list_group_policies": ["PolicyNames"],
    "list_user_policies": ["PolicyNames"],
    "list_role_policies": ["PolicyNames"],
    "list_attached_group_policies": ["AttachedPolicies"],
    "list_attached_user_policies": ["AttachedPolicies"],
    "list_attached_role_policies": ["AttachedPolicies"],
    "list_user_tags": ["Tags"],
    "list_role_tags": ["Tags"],
    "list_policy_tags": ["Tags"],
    "get_account_authorization_details": [
        "UserDetailList",
        "GroupDetailList",
        "RoleDetailList",
        "Policies",
    ],
}

WRITE = re.compile(r"^(create|delete|put|attach|detach|add|remove|update|tag|untag|deactivate|enable)_")


def size(document):
    """What IAM counts against its size quotas: characters but whitespace."""
    if document is None:
        return 0
    return sum(1 for c in document if not c.isspace())


def install(settings):
    page_size = max(1, settings.integer("IAM_PAGE_SIZE", MAX_ITEMS))
    window = settings.number("IAM_CONSISTENCY_SECONDS", 0.1)
    refuse_share = settings.number("IAM_CONCURRENT_MODIFICATION", 0)
    everyone = settings.flag("IAM_EVERY_CLIENT", False)
    rng = random.Random(settings.integer("IAM_SEED", 1))
    lock = threading.Lock()
    # (account, kind, lower-case name or ARN) -> when jumpgate created it.
    created = {}
    # `subject`: whether the request being answered is jumpgate's (the
    # system under test) or every client's by IAM_EVERY_CLIENT.
    request = threading.local()

    def fresh(account, kind, key):
        with lock:
            at = created.get((account, kind, key.lower()))
        return at is not None and time.monotonic() - at < window

    def note_created(account, kind, key):
        if getattr(request, "subject", False):
            with lock:
                created[(account, kind, key.lower())] = time.monotonic()

    # --- names unique ignoring case; managed policies regardless of path ---

    def clash(existing, name):
        return next((n for n in existing if n.lower() == name.lower() and n != name), None)

    original_create_user = iam.IAMBackend.create_user

    def create_user(self, region_name, user_name, path="/", tags=None):
        if clash(self.users, user_name):
            raise EntityAlreadyExists(f"User with name {user_name} already exists.")
        if user_name not in self.users and len(self.users) >= USERS_PER_ACCOUNT:
            raise LimitExceededException(f"Cannot exceed quota for UsersPerAccount: {USERS_PER_ACCOUNT}")
        user = original_create_user(self, region_name, user_name, path, tags)
        note_created(self.account_id, "user", user_name)
        return user

    original_create_group = iam.IAMBackend.create_group

    def create_group(self, group_name, path="/"):
        if clash(self.groups, group_name):
            raise EntityAlreadyExists(f"Group with name {group_name} already exists.")
        if group_name not in self.groups and len(self.groups) >= GROUPS_PER_ACCOUNT:
            raise LimitExceededException(f"Cannot exceed quota for GroupsPerAccount: {GROUPS_PER_ACCOUNT}")
        group = original_create_group(self, group_name, path)
        note_created(self.account_id, "group", group_name)
        return group

    original_create_role = iam.IAMBackend.create_role

    def create_role(self, role_name, assume_role_policy_document, *args, **kwargs):
        if clash([r.name for r in self.roles.values()], role_name):
            raise EntityAlreadyExists(f"Role with name {role_name} already exists.")
        if size(assume_role_policy_document) > TRUST_POLICY_SIZE:
            raise LimitExceededException(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")
        role = original_create_role(self, role_name, assume_role_policy_document, *args, **kwargs)
        note_created(self.account_id, "role", role_name)
        note_created(self.account_id, "principal", role.arn)
        return role

    original_create_policy = iam.IAMBackend.create_policy

    def create_policy(self, description, path, policy_document, policy_name, tags):
        # By class, not `p not in self.aws_managed_policies`: that list holds
        # ~1,200 policies, and the scan made every CreatePolicy take 0.3 s.
        local = [
            p for p in self.managed_policies.values() if not isinstance(p, iam.AWSManagedPolicy)
        ]
        same = [p for p in local if p.name.lower() == policy_name.lower()]
        if same:
            raise EntityAlreadyExists(
                f"A policy called {policy_name} already exists. Duplicate names are not allowed."
            )
        if size(policy_document) > MANAGED_POLICY_SIZE:
            raise LimitExceededException(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        policy = original_create_policy(self, description, path, policy_document, policy_name, tags)
        note_created(self.account_id, "policy", policy.arn)
        return policy

    original_create_policy_version = iam.IAMBackend.create_policy_version

    def create_policy_version(self, policy_arn, policy_document, set_as_default):
        if size(policy_document) > MANAGED_POLICY_SIZE:
            raise LimitExceededException(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        return original_create_policy_version(self, policy_arn, policy_document, set_as_default)

    original_update_user = iam.IAMBackend.update_user

    def update_user(self, user_name, new_path=None, new_user_name=None):
        if new_user_name and new_user_name.lower() != user_name.lower() and any(
            n.lower() == new_user_name.lower() for n in self.users
        ):
            raise EntityAlreadyExists(f"User with name {new_user_name} already exists.")
        # moto keeps tags by ARN, which a rename changes: AWS keeps them.
        user = self.get_user(user_name)
        tags = self.tagger.list_tags_for_resource(user.arn)["Tags"]
        self.tagger.delete_all_tags_for_resource(user.arn)
        try:
            return original_update_user(self, user_name, new_path, new_user_name)
        finally:
            self.tagger.tag_resource(user.arn, tags)

    # --- DeleteConflict ----------------------------------------------------

    def refuse_while(dependents):
        """DeleteConflict for the first of `dependents`, (still there, what
        must go first), that is still there."""
        for present, first in dependents:
            if present:
                raise DeleteConflictException(f"Cannot delete entity, must {first} first.")

    original_delete_user = iam.IAMBackend.delete_user

    def delete_user(self, user_name):
        user = self.get_user(user_name)
        # In the order of "Deleting an IAM user (AWS CLI)", id_users_remove.html.
        refuse_while([
            (user.password, "delete login profile"),
            (user.access_keys, "delete access keys"),
            (user.signing_certificates, "delete signing certificates"),
            (user.ssh_public_keys, "delete SSH public keys"),
            (user.mfa_devices, "delete MFA device"),
            (any(user in g.users for g in self.groups.values()), "remove users from group"),
        ])
        return original_delete_user(self, user_name)

    original_delete_group = iam.IAMBackend.delete_group

    def delete_group(self, group_name):
        group = self.groups.get(group_name)
        if group is not None:
            refuse_while([
                (group.users, "remove users from group"),
                (group.policies, "delete policies"),
                (group.managed_policies, "detach all policies"),
            ])
        return original_delete_group(self, group_name)

    original_delete_policy = iam.IAMBackend.delete_policy

    def delete_policy(self, policy_arn):
        policy = self.get_policy(policy_arn)
        if policy.attachment_count > 0:
            raise DeleteConflictException("Cannot delete a policy attached to entities.")
        if len(policy.versions) > 1:
            raise DeleteConflictException(
                "This policy has more than one version. Before you delete a policy, you must "
                "delete the policy's versions. The default version is deleted with the policy."
            )
        return original_delete_policy(self, policy_arn)

    # --- quotas on memberships, attachments and inline policies -------------

    original_add_user_to_group = iam.IAMBackend.add_user_to_group

    def add_user_to_group(self, group_name, user_name):
        user = self.get_user(user_name)
        group = self.get_group(group_name)
        if user not in group.users:
            count = sum(1 for g in self.groups.values() if user in g.users)
            if count >= GROUPS_PER_USER:
                raise LimitExceededException(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
        return original_add_user_to_group(self, group_name, user_name)

    original_attach_group_policy = iam.IAMBackend.attach_group_policy

    def attach_group_policy(self, policy_arn, group_name):
        if getattr(request, "subject", False) and fresh(self.account_id, "policy", policy_arn):
            raise NotFoundException(f"Policy {policy_arn} does not exist or is not attachable.")
        group = self.get_group(group_name)
        if policy_arn not in group.managed_policies and len(group.managed_policies) >= MANAGED_POLICIES_PER_GROUP:
            raise LimitExceededException(
                f"Cannot exceed quota for PoliciesPerGroup: {MANAGED_POLICIES_PER_GROUP}"
            )
        return original_attach_group_policy(self, policy_arn, group_name)

    original_attach_user_policy = iam.IAMBackend.attach_user_policy

    def attach_user_policy(self, policy_arn, user_name):
        if getattr(request, "subject", False) and fresh(self.account_id, "policy", policy_arn):
            raise NotFoundException(f"Policy {policy_arn} does not exist or is not attachable.")
        return original_attach_user_policy(self, policy_arn, user_name)

    def check_inline_size(entity, kind, policy_name, policy_json, limit):
        """IAM counts all of an entity's inline policies together."""
        others = sum(size(d) for n, d in entity.policies.items() if n != policy_name)
        if others + size(policy_json) > limit:
            raise LimitExceededException(
                f"Maximum policy size of {limit} bytes exceeded for {kind} {entity.name}"
            )

    original_put_group_policy = iam.IAMBackend.put_group_policy

    def put_group_policy(self, group_name, policy_name, policy_json):
        check_inline_size(self.get_group(group_name), "group", policy_name, policy_json, GROUP_INLINE_SIZE)
        return original_put_group_policy(self, group_name, policy_name, policy_json)

    original_put_user_policy = iam.IAMBackend.put_user_policy

    def put_user_policy(self, user_name, policy_name, policy_json):
        check_inline_size(self.get_user(user_name), "user", policy_name, policy_json, USER_INLINE_SIZE)
        return original_put_user_policy(self, user_name, policy_name, policy_json)

    # --- the account password policy ----------------------------------------

    def check_password(backend, password):
        policy = backend.account_password_policy
        if policy is None:
            return
        problems = []
        if len(password) < (policy.minimum_password_length or 0):
            problems.append(f"Password should have a minimum length of {policy.minimum_password_length}")
        if policy.require_uppercase_characters and not any(c.isupper() for c in password):
            problems.append("Password should have at least one uppercase letter")
        if policy.require_lowercase_characters and not any(c.islower() for c in password):
            problems.append("Password should have at least one lowercase letter")
        if policy.require_numbers and not any(c.isdigit() for c in password):
            problems.append("Password should have at least one number")
        if policy.require_symbols and not any(c in SYMBOLS for c in password):
            problems.append("Password should have at least one symbol")
        if problems:
            raise PasswordPolicyViolation("; ".join(problems))

    original_create_login_profile = iam.IAMBackend.create_login_profile

    def create_login_profile(self, user_name, password):
        self.get_user(user_name)
        check_password(self, password)
        user = original_create_login_profile(self, user_name, password)
        note_created(self.account_id, "login-profile", user_name)
        return user

    original_update_login_profile = iam.IAMBackend.update_login_profile

    def update_login_profile(self, user_name, password, password_reset_required):
        if password is not None:
            check_password(self, password)
        return original_update_login_profile(self, user_name, password, password_reset_required)

    for function in (
        create_user,
        create_group,
        create_role,
        create_policy,
        create_policy_version,
        update_user,
        delete_user,
        delete_group,
        delete_policy,
        add_user_to_group,
        attach_group_policy,
        attach_user_policy,
        put_group_policy,
        put_user_policy,
        create_login_profile,
        update_login_profile,
    ):
        setattr(iam.IAMBackend, function.__name__, function)

    # --- the response layer: the window, refusals, paging -------------------

    def unseen(self, kind, name):
        return (
            getattr(request, "subject", False)
            and name
            and fresh(self.current_account, kind, name)
        )

    def read_guard(self, action):
        """NoSuchEntity for a Get of an object still in its window."""
        checks = {
            "get_user": ("user", "UserName", "The user with name {} cannot be found."),
            "get_group": ("group", "GroupName", "The group with name {} cannot be found."),
            "get_role": ("role", "RoleName", "The role with name {} cannot be found."),
            "get_policy": ("policy", "PolicyArn", "Policy {} was not found."),
            "get_login_profile": ("login-profile", "UserName", "Login Profile for User {} cannot be found."),
        }
        if action in checks:
            kind, param, message = checks[action]
            name = self._get_param(param)
            if unseen(self, kind, name):
                raise NotFoundException(message.format(name))

    def principals(document):
        try:
            statements = json.loads(document).get("Statement", [])
        except (ValueError, AttributeError):
            return []
        if isinstance(statements, dict):
            statements = [statements]
        found = []
        for statement in statements:
            principal = statement.get("Principal") if isinstance(statement, dict) else None
            aws = principal.get("AWS", []) if isinstance(principal, dict) else []
            found.extend([aws] if isinstance(aws, str) else aws)
        return found

    def trust_guard(self, action):
        if action not in ("create_role", "update_assume_role_policy"):
            return
        document = self._get_param("AssumeRolePolicyDocument") or self._get_param("PolicyDocument")
        for principal in principals(document or ""):
            if unseen(self, "principal", principal):
                raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{principal}"')

    def visible(self, item):
        name = getattr(item, "name", None)
        if name is None:
            return True
        kinds = {
            iam.User: "user",
            iam.Group: "group",
            iam.Role: "role",
        }
        for cls, kind in kinds.items():
            if isinstance(item, cls):
                return not unseen(self, kind, name)
        if isinstance(item, iam.ManagedPolicy):
            return not unseen(self, "policy", item.arn)
        return True

    def encode_marker(offset):
        return base64.urlsafe_b64encode(f"jumpgate-strict:{offset}".encode()).decode()

    def decode_marker(marker):
        try:
            text = base64.urlsafe_b64decode(marker.encode()).decode()
            prefix, offset = text.split(":")
            if prefix != "jumpgate-strict":
                raise ValueError(prefix)
            return int(offset)
        except (ValueError, UnicodeDecodeError):
            raise ValidationError("Invalid Marker")

    def paged(self, action, method):
        keys = PAGED[action]
        marker = self._get_param("Marker")
        max_items = self._get_param("MaxItems")
        try:
            asked = int(max_items) if max_items else DEFAULT_MAX_ITEMS
        except ValueError:
            asked = 0
        if not 1 <= asked <= MAX_ITEMS:
            raise ValidationError(
                f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy "
                f"constraint: Member must have value between 1 and {MAX_ITEMS}"
            )
        # The original answers everything at once (some of moto's own
        # paging would fight ours).
        for param in ("Marker", "MaxItems"):
            self.querystring.pop(param, None)
        result = method(self)
        data = getattr(result, "result", None)
        if not isinstance(data, dict):
            return result
        limit = min(asked, page_size)
        start = decode_marker(marker) if marker else 0
        sequence = []
        for key in keys:
            items = data.get(key) or []
            sequence.extend((key, item) for item in items if visible(self, item))
        page = sequence[start : start + limit]
        for key in keys:
            if key in data:
                data[key] = [item for k, item in page if k == key]
        truncated = start + limit < len(sequence)
        data["IsTruncated"] = truncated
        if truncated:
            data["Marker"] = encode_marker(start + limit)
        else:
            data.pop("Marker", None)
        return result

    def wrap(action, method):
        @functools.wraps(method)
        def wrapped(self):
            agent = self.headers.get("User-Agent", "") + " " + self.headers.get("x-amz-user-agent", "")
            request.subject = everyone or "app/jumpgate" in agent
            try:
                if request.subject and WRITE.match(action) and refuse_share > 0:
                    with lock:
                        refuse = rng.random() < refuse_share
                    if refuse:
                        raise ConcurrentModification(
                            "The request was rejected because multiple requests to change this object "
                            "were submitted simultaneously. Wait a few minutes and submit your request again."
                        )
                read_guard(self, action)
                trust_guard(self, action)
                if action in PAGED and request.subject:
                    return paged(self, action, method)
                result = method(self)
                if action == "create_login_profile":
                    keep_reset_required(self, result)
                return result
            finally:
                request.subject = False

        return wrapped

    def keep_reset_required(self, result):
        wanted = str(self._get_param("PasswordResetRequired", "false")).lower() == "true"
        user = self.backend.get_user(self._get_param("UserName"))
        user.password_reset_required = wanted
        data = getattr(result, "result", None)
        if isinstance(data, dict) and "LoginProfile" in data:
            data["LoginProfile"]["PasswordResetRequired"] = wanted

    # The IAM actions: the public methods IamResponse itself defines.
    for action, method in list(vars(iam_responses.IamResponse).items()):
        if action.startswith("_") or not callable(method):
            continue
        setattr(iam_responses.IamResponse, action, wrap(action, method))
