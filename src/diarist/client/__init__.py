"""Helpers for Diarist's users: ``from diarist.client import verify_signature``.

Kept light (standard library only) so a webhook receiver can depend on it without boto3.
"""

from diarist.domain.signing import verify_signature

__all__ = ["verify_signature"]
