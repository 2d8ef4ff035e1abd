"""After UpdateStack, a stack's parameters are those its new template declares.

AWS: a stack's parameters are the template's ("Parameters" section of the
CloudFormation User Guide: "Use the optional Parameters section to
customize your templates"; DescribeStacks lists the stack's Parameters);
UpdateStack takes the full parameter list for the new template, and a
parameter the new template no longer declares is no longer the stack's.
moto 5.2.5 keeps every parameter an earlier template declared, so a
hand-built stack updated to jumpgate's template (AdminAccountId →
AdministratorAccountId) would look as if it still had the old one.

No knobs.
"""

from moto.cloudformation.models import Stack


def install(settings):
    original = Stack.update

    def update(self, template, role_arn=None, parameters=None, tags=None):
        original(self, template, role_arn=role_arn, parameters=parameters, tags=tags)
        declared = self.template_dict.get("Parameters") or {}
        resolved = self.resource_map.resolved_parameters
        for key in list(resolved):
            if key not in declared:
                del resolved[key]

    Stack.update = update
