"""cdk-nag (AwsSolutions pack) suppressions: the two helpers every construct uses for its own.

Invariants:

- A suppression sits on the one resource it concerns (on a role it reaches the role's default
  policy too) and carries its reason. The construct that creates the resource or makes the grant
  adds it, in the same place, so a grant and the reason its wildcard is acceptable read together.
- Nothing is suppressed stack-wide: a new finding anywhere still fails the infra tests
  (tests/infra/test_nag.py).
- This module knows no construct of the service: the constructs import it, never the reverse.
"""

from __future__ import annotations

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

# A partition, region or account in a finding: literal (env-specific stack) or <AWS::Region> etc.
ARN_PART = r"(?:<AWS::[A-Za-z]+>|[^:<>]+)"


def finding(pattern: str) -> RegexAppliesTo:
    """A finding id (``Resource::...``, ``Policy::...``) matched by a regular expression."""
    return RegexAppliesTo(regex=f"/{pattern}/")


def arn_finding(service: str, resource: str, *, regional: bool = True) -> RegexAppliesTo:
    """The ``Resource::`` finding of an ARN of ``service`` whose resource part matches the regular
    expression ``resource``; partition, region and account may be literal or pseudo-parameters.
    ``regional=False`` for ARNs without region and account (``arn:<partition>:s3:::bucket/key``)."""
    location = f":{ARN_PART}:{ARN_PART}:" if regional else ":::"
    return finding(rf"^Resource::arn:{ARN_PART}:{service}{location}{resource}$")


def suppress(
    construct: IConstruct,
    rule: str,
    reason: str,
    applies_to: list[str | RegexAppliesTo] | None = None,
) -> None:
    """Suppress ``rule`` on ``construct`` and the resources it holds so far: call it after the
    grant or resource it explains, never before."""
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)],
        apply_to_children=True,
    )
