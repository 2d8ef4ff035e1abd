"""IAM's credential report is generated at most every four hours.

AWS generates a credential report at most every four hours: "This example
requests generation of a new report, which can be done every four hours. If
the last report is still recent the State field reads COMPLETE" (AWS code
examples, "Use GenerateCredentialReport with an AWS SDK or CLI"; IAM User
Guide, "Getting credential reports for your AWS account").
GetCredentialReport returns that report with the time it was generated;
users created and credentials changed afterwards are not in it.
moto builds the report afresh on every GetCredentialReport and dates it
2015-02-02, so a reader cannot tell a stale row from a fresh one.

This rule keeps one report per account: GenerateCredentialReport builds it
(answering STARTED, then COMPLETE on the next call, as AWS does) when there
is none or the last one is older than the maximum age, and
GetCredentialReport returns that stored text with its real generation time.

Knobs:
  JUMPGATE_STRICT_CREDENTIAL_REPORT_MAX_AGE_SECONDS  (default 14400: AWS's
      four hours) how long a report is kept before a new one is built.
  JUMPGATE_STRICT_CREDENTIAL_REPORT_AGED_DAYS  (default 0) dates the report
      this many days after it was built, as if the account had aged that
      long since every credential event in it: how tests show old keys,
      passwords never used and consoles never signed in to.
"""

import datetime

from moto.core.responses import ActionResult
from moto.iam import models, responses
from moto.iam.exceptions import ReportNotPresentException


def install(settings):
    max_age = datetime.timedelta(
        seconds=settings.number("CREDENTIAL_REPORT_MAX_AGE_SECONDS", 14400)
    )
    aged = datetime.timedelta(days=settings.number("CREDENTIAL_REPORT_AGED_DAYS", 0))
    build = models.IAMBackend.get_credential_report

    def now():
        return datetime.datetime.now(datetime.timezone.utc)

    def generate_report(self):
        stored = getattr(self, "_jumpgate_report", None)
        # The call after the one that started a report finds it complete,
        # however short the maximum age.
        if stored is not None and (
            not getattr(self, "_jumpgate_report_announced", True)
            or now() - stored[1] < max_age
        ):
            self._jumpgate_report_announced = True
            return "COMPLETE"
        self.credential_report = True
        self._jumpgate_report = (build(self), now())
        self._jumpgate_report_announced = False
        return "STARTED"

    def get_credential_report(self):
        stored = getattr(self, "_jumpgate_report", None)
        if stored is None:
            raise ReportNotPresentException("Credential report not present")
        return stored

    def generate_response(self):
        state = self.backend.jumpgate_generate_report()
        if state == "STARTED":
            return ActionResult(
                {
                    "State": "STARTED",
                    "Description": "No report exists. Starting a new report generation task",
                }
            )
        return ActionResult({"State": "COMPLETE"})

    def get_response(self):
        content, generated = self.backend.jumpgate_credential_report()
        return ActionResult(
            {
                "Content": content,
                "ReportFormat": "text/csv",
                "GeneratedTime": (generated + aged).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )

    models.IAMBackend.jumpgate_generate_report = generate_report
    models.IAMBackend.jumpgate_credential_report = get_credential_report
    responses.IamResponse.generate_credential_report = generate_response
    responses.IamResponse.get_credential_report = get_response
