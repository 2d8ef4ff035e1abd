"""CloudFormation StackSets as AWS runs them.

moto finishes every StackSet operation inside the request that starts it and
never fails a stack instance. AWS does neither. These rules make moto:

- keep an operation RUNNING for a while and do its work when it ends
  (API_DescribeStackSetOperation: RUNNING, then SUCCEEDED / FAILED);
- refuse a second operation on a StackSet while one runs
  (OperationInProgressException, API_CreateStackInstances "Errors");
- answer OperationNotFoundException to the first DescribeStackSetOperation
  of an operation (seen on AWS right after the start; callers must count it
  as pending);
- fail an instance whose account has no usable execution role, or where a
  resource of the same name already exists: instance OUTDATED with detailed
  status FAILED and a StatusReason (API_StackInstanceSummary,
  API_StackInstanceComprehensiveStatus; stacksets-troubleshooting);
- end the operation FAILED only when the failures in a Region exceed its
  failure tolerance, else SUCCEEDED, with StatusDetails.
  FailedStackInstancesCount and per-account results
  (API_StackSetOperation, API_StackSetOperationStatusDetails,
  API_ListStackSetOperationResults), paginated;
- really update the deployed stacks on UpdateStackSet / UpdateStackInstances
  (API_UpdateStackSet: "Updates the stack set and associated stack
  instances"), or leave the instance OUTDATED where that fails;
- refuse CreateStackSet with a name in use (NameAlreadyExistsException,
  API_CreateStackSet "Errors");
- end a stack whose resource cannot be made (such as a role whose name is
  taken) ROLLBACK_COMPLETE with a reason, its resources rolled back,
  instead of failing the CreateStack call (moto's way): AWS creates the
  stack and fails it (using-cfn-updating-stacks-rollback, "stack status
  codes");
- treat a repeated OperationId as the same operation ("The operation ID
  also functions as an idempotency token", API_CreateStackInstances): the
  SDK resends it unchanged when an answer is lost.

Knobs (JUMPGATE_STRICT_<NAME>):
  STACKSET_OPERATION_SECONDS  how long an operation stays RUNNING (0.15)
  STACKSET_NOT_FOUND_FIRST    first describe of an operation answers
                              OperationNotFoundException (1)
  STACKSET_PAGE_SIZE          items per page of ListStackInstances and
                              ListStackSetOperationResults (2)
"""

import json
import math
import threading
import time

from moto.cloudformation import models as cfn
from moto.cloudformation import responses as cfn_responses
from moto.cloudformation.exceptions import CloudFormationError
from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.moto_api._internal import mock_random


class OperationInProgressException(CloudFormationError):
    code = "OperationInProgressException"


class OperationNotFoundException(CloudFormationError):
    code = "OperationNotFoundException"


class NameAlreadyExistsException(CloudFormationError):
    code = "NameAlreadyExistsException"


# The request's OperationPreferences, read by the response layer and used by
# the backend call it makes (moto's backend does not receive them).
_request = threading.local()


def install(settings):
    running_seconds = settings.number("STACKSET_OPERATION_SECONDS", 0.15)
    not_found_first = settings.flag("STACKSET_NOT_FOUND_FIRST", True)
    page_size = settings.integer("STACKSET_PAGE_SIZE", 2)

    # --- instance status -------------------------------------------------

    original_instance_delete = cfn.StackInstance.delete

    def instance_to_dict(self):
        status = getattr(self, "strict_status", "CURRENT")
        detailed = getattr(self, "strict_detailed", "SUCCEEDED")
        out = {
            "StackId": None if self.stack is None else self.stack.stack_id,
            "StackSetId": self.stackset_id,
            "Region": self.region_name,
            "Account": self.account_id,
            "Status": status,
            "ParameterOverrides": self.parameters,
            "StackInstanceStatus": {"DetailedStatus": detailed},
        }
        reason = getattr(self, "strict_reason", None)
        if reason:
            out["StatusReason"] = reason
        return out

    def instance_delete(self):
        if self.stack is not None:
            original_instance_delete(self)

    cfn.StackInstance.to_dict = instance_to_dict
    cfn.StackInstance.delete = instance_delete

    def stackless_instance(stack_set, account, region):
        """An instance AWS records although its stack could not be made."""
        instance = object.__new__(cfn.StackInstance)
        instance.account_id = account
        instance.region_name = region
        instance.stackset_id = stack_set.id
        instance.stack_name = stack_set.instances.stack_name
        instance.name = stack_set.name
        instance.template = stack_set.template
        instance.parameters = []
        instance.permission_model = stack_set.permission_model
        instance.stack = None
        return instance

    # --- execution role checks -------------------------------------------

    def admin_account(stack_set):
        return stack_set.administration_role_arn.split(":")[4]

    def role_named(account, name):
        roles = iam_backends[account]["global"].roles.values()
        return next((r for r in roles if r.name == name), None)

    def trusts(role, account, admin_role_arn):
        try:
            document = json.loads(role.assume_role_policy_document)
        except (TypeError, ValueError):
            return False
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        for statement in statements:
            if statement.get("Effect") != "Allow":
                continue
            principals = statement.get("Principal", {})
            aws = principals.get("AWS", []) if isinstance(principals, dict) else []
            aws = [aws] if isinstance(aws, str) else aws
            for principal in aws:
                if principal in (account, f"arn:aws:iam::{account}:root", admin_role_arn):
                    return True
        return False

    def execution_problem(stack_set, account):
        """Why CloudFormation cannot act in `account`, or None.

        AWS words it so (stacksets-troubleshooting, "Stack operation failed
        with the error 'Account should have role with trust relationship'").
        """
        admin = admin_account(stack_set)
        admin_name = stack_set.administration_role_arn.split("/")[-1]
        exec_name = stack_set.execution_role_name
        if role_named(admin, admin_name) is None:
            return (
                f"Account {admin} should have '{admin_name}' role with trust "
                f"relationship to CloudFormation service."
            )
        role = role_named(account, exec_name)
        if role is None or not trusts(role, admin, stack_set.administration_role_arn):
            return (
                f"Account {account} should have '{exec_name}' role with trust "
                f"relationship to Role '{admin_name}'."
            )
        return None

    def roll_back_roles(account, before):
        iam = iam_backends[account]["global"]
        for role_id in set(iam.roles.keys()) - before:
            iam.roles.pop(role_id, None)

    def deploy(stack_set, instance):
        """Creates or updates the instance's stack; the failure reason or None.

        A failed creation is rolled back, as CloudFormation does.
        """
        backend = cfn.cloudformation_backends[instance.account_id][instance.region_name]
        parameters = dict(stack_set.parameters or {})
        if instance.stack is None:
            stack = backend.create_stack(
                name=f"StackSet-{stack_set.name}-{mock_random.uuid4()}",
                template=stack_set.template,
                parameters=parameters,
            )
            if stack.status == "ROLLBACK_COMPLETE":
                backend.stacks.pop(stack.stack_id, None)
                return stack.strict_reason
            instance.stack = stack
            return None
        before = set(iam_backends[instance.account_id]["global"].roles.keys())
        try:
            instance.stack.update(stack_set.template, parameters=parameters)
            return None
        except Exception as err:  # noqa: BLE001 - the reason goes to the caller
            roll_back_roles(instance.account_id, before)
            return f"ResourceStatusReason: {getattr(err, 'message', None) or err}"

    # --- operations --------------------------------------------------------

    def preferences_now():
        return getattr(_request, "preferences", None) or {}

    def replayed(stack_set):
        """The operation a resent request already started, if any."""
        requested = getattr(_request, "operation_id", None)
        if not requested:
            return None
        operation = next(
            (o for o in stack_set.operations if o["OperationId"] == requested), None
        )
        if operation is not None:
            # moto's DeleteStackInstances answers with the last operation.
            stack_set.operations.remove(operation)
            stack_set.operations.append(operation)
        return operation

    def limits(preferences, count):
        """(failure tolerance, max concurrent) for `count` targets in a Region.

        API_StackSetOperationPreferences: tolerance defaults to 0; the
        percentage rounds down; MaxConcurrent defaults to 1 and its
        percentage rounds down but is at least 1.
        """
        if "FailureToleranceCount" in preferences:
            tolerance = int(preferences["FailureToleranceCount"])
        elif "FailureTolerancePercentage" in preferences:
            tolerance = math.floor(count * int(preferences["FailureTolerancePercentage"]) / 100)
        else:
            tolerance = 0
        if "MaxConcurrentCount" in preferences:
            concurrent = int(preferences["MaxConcurrentCount"])
        elif "MaxConcurrentPercentage" in preferences:
            concurrent = max(1, math.floor(count * int(preferences["MaxConcurrentPercentage"]) / 100))
        else:
            concurrent = 1
        return tolerance, max(1, concurrent)

    def running(stack_set):
        settle(stack_set)
        return getattr(stack_set, "strict_running", None)

    def refuse_if_running(stack_set):
        if running(stack_set) is not None:
            raise OperationInProgressException(
                f"Another Operation on StackSet {stack_set.id} is in progress"
            )

    def start(stack_set, action, targets, work):
        """Registers a RUNNING operation whose `work(account, region)` runs
        when it ends; returns the operation record moto keeps."""
        refuse_if_running(stack_set)
        operation_id = getattr(_request, "operation_id", None) or str(mock_random.uuid4())
        operation = {
            "OperationId": operation_id,
            "Action": action,
            "Status": "RUNNING",
            "CreationTimestamp": utcnow(),
            "Instances": [{account: region} for account, region in targets],
            "StrictPreferences": preferences_now(),
            "StrictDeadline": time.monotonic() + running_seconds,
            "StrictWork": work,
            "StrictTargets": targets,
            "StrictDescribed": False,
            "StrictResults": [],
        }
        stack_set.operations.append(operation)
        stack_set.strict_running = operation
        return operation

    def settle(stack_set):
        operation = getattr(stack_set, "strict_running", None)
        if operation is None or time.monotonic() < operation["StrictDeadline"]:
            return
        stack_set.strict_running = None
        preferences = operation["StrictPreferences"]
        results = []
        failed_total = 0
        region_failed = False
        by_region = {}
        for account, region in operation["StrictTargets"]:
            by_region.setdefault(region, []).append(account)
        for region, accounts in by_region.items():
            tolerance, concurrent = limits(preferences, len(accounts))
            failures = 0
            for start_at in range(0, len(accounts), concurrent):
                batch = accounts[start_at : start_at + concurrent]
                if region_failed:
                    for account in batch:
                        operation["StrictWork"](account, region, cancel=True)
                        results.append((account, region, "CANCELLED", "Cancelled since failure tolerance has exceeded"))
                    continue
                for account in batch:
                    reason = operation["StrictWork"](account, region, cancel=False)
                    if reason is None:
                        results.append((account, region, "SUCCEEDED", None))
                    else:
                        failures += 1
                        results.append((account, region, "FAILED", reason))
                if failures > tolerance:
                    region_failed = True
            failed_total += failures
        operation["Status"] = "FAILED" if region_failed else "SUCCEEDED"
        operation["EndTimestamp"] = utcnow()
        operation["StatusDetails"] = {"FailedStackInstancesCount": failed_total}
        operation["StrictResults"] = results

    def mark(instance, status, detailed, reason):
        instance.strict_status = status
        instance.strict_detailed = detailed
        instance.strict_reason = reason

    def deploy_or_fail(stack_set, instance):
        reason = execution_problem(stack_set, instance.account_id) or deploy(stack_set, instance)
        if reason is None:
            mark(instance, "CURRENT", "SUCCEEDED", None)
        else:
            mark(instance, "OUTDATED", "FAILED", reason)
        return reason

    def deploy_work(stack_set):
        """An operation's work in one account: deploy, or record the cancel."""

        def work(account, region, cancel):
            instance = stack_set.instances.get_instance(account, region)
            if cancel:
                mark(instance, "OUTDATED", "CANCELLED", "Cancelled since failure tolerance has exceeded")
                return None
            return deploy_or_fail(stack_set, instance)

        return work

    def create_stack_instances(self, accounts, regions, deployment_targets, parameters):
        again = replayed(self)
        if again is not None:
            return again["OperationId"]
        targets = [(a, r) for r in regions for a in accounts]
        for account, region in targets:
            if self.instances.get_instance(account, region) is None:
                instance = stackless_instance(self, account, region)
                mark(instance, "OUTDATED", "PENDING", None)
                self.instances.stack_instances.append(instance)
        return start(self, "CREATE", targets, deploy_work(self))["OperationId"]

    def redeploy(self, action, targets):
        again = replayed(self)
        if again is not None:
            return again
        for account, region in targets:
            instance = self.instances.get_instance(account, region)
            if instance is None:
                raise cfn.StackInstanceNotFound()
            mark(instance, "OUTDATED", "PENDING", getattr(instance, "strict_reason", None))
        return start(self, action, targets, deploy_work(self))

    def update(self, template, description, parameters, tags, admin_role, execution_role,
               accounts, regions, operation_id):
        again = replayed(self)
        if again is not None:
            return again
        refuse_if_running(self)
        self.template = template or self.template
        self.description = description if description is not None else self.description
        self.parameters = parameters or self.parameters
        self.tags = tags or self.tags
        self.administration_role_arn = admin_role or self.administration_role_arn
        self.execution_role_name = execution_role or self.execution_role_name
        if accounts and regions:
            targets = [(a, r) for r in regions for a in accounts]
        else:
            targets = [(i.account_id, i.region_name) for i in self.instances.stack_instances]
        return redeploy(self, "UPDATE", targets)

    def update_instances(self, accounts, regions, parameters):
        return redeploy(self, "UPDATE", [(a, r) for r in regions for a in accounts])

    def delete_stack_instances(self, accounts, regions):
        again = replayed(self)
        if again is not None:
            return again
        targets = [
            (i.account_id, i.region_name)
            for i in self.instances.stack_instances
            if i.account_id in accounts and i.region_name in regions
        ]

        def work(account, region, cancel):
            instance = self.instances.get_instance(account, region)
            if instance is None or cancel:
                return None
            if instance.stack is not None:
                problem = execution_problem(self, account)
                if problem is not None:
                    # API_StackInstanceSummary: INOPERABLE, a DeleteStackInstances
                    # operation has failed and left the stack unstable.
                    mark(instance, "INOPERABLE", "INOPERABLE", problem)
                    return problem
            instance.delete()
            self.instances.stack_instances.remove(instance)
            return None

        return start(self, "DELETE", targets, work)

    cfn.StackSet.create_stack_instances = create_stack_instances
    cfn.StackSet.update = update
    cfn.StackSet.update_instances = update_instances
    cfn.StackSet.delete_stack_instances = delete_stack_instances

    # --- backend entry points: settle first ---------------------------------

    backend = cfn.CloudFormationBackend
    original_describe_stack_set = backend.describe_stack_set

    def describe_stack_set(self, name):
        stack_set = original_describe_stack_set(self, name)
        settle(stack_set)
        return stack_set

    backend.describe_stack_set = describe_stack_set

    original_create_stack_set = backend.create_stack_set

    def create_stack_set(self, name, *args, **kwargs):
        if any(s.name == name and s.status != "DELETED" for s in self.stacksets.values()):
            raise NameAlreadyExistsException(f"StackSet {name} already exists")
        return original_create_stack_set(self, name, *args, **kwargs)

    backend.create_stack_set = create_stack_set

    original_create_stack = backend.create_stack

    def create_stack(self, name, template, parameters, *args, **kwargs):
        before = set(iam_backends[self.account_id]["global"].roles.keys())
        try:
            return original_create_stack(self, name, template, parameters, *args, **kwargs)
        except cfn.AlreadyExistsException:
            raise
        except Exception as err:  # noqa: BLE001 - becomes the stack's reason
            stack = next(
                s for s in self.stacks.values()
                if s.name == name and s.status == "CREATE_IN_PROGRESS"
            )
            roll_back_roles(self.account_id, before)
            reason = getattr(err, "message", None) or str(err)
            stack.strict_reason = f"ResourceStatusReason: {reason} (the stack was rolled back)"
            stack._add_stack_event("CREATE_FAILED", resource_status_reason=stack.strict_reason)
            stack.status = "ROLLBACK_COMPLETE"
            stack.stack_status_reason = stack.strict_reason
            return stack

    backend.create_stack = create_stack

    original_delete_stack_set = backend.delete_stack_set

    def delete_stack_set(self, name):
        refuse_if_running(original_describe_stack_set(self, name))
        return original_delete_stack_set(self, name)

    backend.delete_stack_set = delete_stack_set

    def find_operation(backend_self, stackset_name, operation_id):
        stack_set = backend_self.describe_stack_set(stackset_name)
        operation = next(
            (o for o in stack_set.operations if o["OperationId"] == operation_id), None
        )
        if operation is None:
            raise OperationNotFoundException(f"Operation {operation_id} not found")
        return stack_set, operation

    def describe_stack_set_operation(self, stackset_name, operation_id):
        stack_set, operation = find_operation(self, stackset_name, operation_id)
        if not_found_first and "StrictDescribed" in operation and not operation["StrictDescribed"]:
            operation["StrictDescribed"] = True
            raise OperationNotFoundException(f"Operation {operation_id} not found")
        return stack_set, operation

    backend.describe_stack_set_operation = describe_stack_set_operation

    # --- responses: preferences, details, results, pages ---------------------

    Response = cfn_responses.CloudFormationResponse

    def with_preferences(name):
        original = getattr(Response, name)

        def handler(self):
            _request.preferences = self._get_params().get("OperationPreferences") or {}
            _request.operation_id = self._get_param("OperationId")
            try:
                return original(self)
            finally:
                _request.preferences = None
                _request.operation_id = None

        setattr(Response, name, handler)

    for name in ("create_stack_instances", "update_stack_set", "update_stack_instances",
                 "delete_stack_instances"):
        with_preferences(name)

    def paged(self, summaries):
        """The `Summaries` page the request's NextToken asks for."""
        token = self._get_param("NextToken")
        start_at = int(token) if token else 0
        size = min(int(self._get_param("MaxResults") or 100), page_size)
        result = {"Summaries": summaries[start_at : start_at + size]}
        if start_at + size < len(summaries):
            result["NextToken"] = str(start_at + size)
        return cfn_responses.ActionResult(result)

    original_dto_init = cfn_responses.StackSetOperationDTO.__init__

    def dto_init(self, operation, stack_set):
        original_dto_init(self, operation, stack_set)
        self.status_details = operation.get("StatusDetails")
        self.operation_preferences = operation.get("StrictPreferences") or None

    cfn_responses.StackSetOperationDTO.__init__ = dto_init

    def list_stack_set_operation_results(self):
        # Not through describe_stack_set_operation: the results call must
        # not use up the operation's first OperationNotFound answer.
        stack_set, operation = find_operation(
            self.cloudformation_backend,
            self._get_param("StackSetName"),
            self._get_param("OperationId"),
        )
        if "StrictResults" in operation:
            summaries = [
                {
                    "Account": account,
                    "Region": region,
                    "Status": status,
                    **({"StatusReason": reason} if reason else {}),
                    "AccountGateResult": {"Status": "SKIPPED"},
                }
                for account, region, status, reason in operation["StrictResults"]
            ]
        else:
            summaries = [
                {"Account": a, "Region": r, "Status": operation["Status"]}
                for instance in operation["Instances"]
                for a, r in instance.items()
            ]
        return paged(self, summaries)

    def list_stack_instances(self):
        instances = self.cloudformation_backend.list_stack_instances(
            self._get_param("StackSetName")
        )
        return paged(self, instances)

    Response.list_stack_set_operation_results = list_stack_set_operation_results
    Response.list_stack_instances = list_stack_instances
