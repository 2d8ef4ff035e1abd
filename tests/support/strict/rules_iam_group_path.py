"""UpdateGroup with only NewPath moves the group to the new path.

AWS: "UpdateGroup - Updates the name and/or the path of the specified IAM
group" (IAM API Reference, UpdateGroup): NewPath alone is a valid request.
moto 5.2.5 ignores NewPath unless NewGroupName is given too, so a group
adopted by a path change would never look adopted.

No knobs.
"""

from moto.iam.models import IAMBackend
from moto.iam.exceptions import NoSuchEntity


def install(settings):
    original = IAMBackend.update_group

    def update_group(self, group_name, new_group_name, new_path):
        if new_group_name:
            return original(self, group_name, new_group_name, new_path)
        group = self.groups.get(group_name)
        if group is None:
            raise NoSuchEntity(f"The group with name {group_name} cannot be found.")
        if new_path:
            group.path = new_path
        return None

    IAMBackend.update_group = update_group
