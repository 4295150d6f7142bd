"""boto3 adapters implementing ``diarist.ports``. Built once per warm container via ``aws.clients``."""
