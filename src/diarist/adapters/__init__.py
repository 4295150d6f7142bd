"""boto3 adapters implementing ``diarist.ports``. Each is built once per warm container
and holds its client from ``aws.client``; ``dynamo_items`` is the single table's shared item plumbing."""
