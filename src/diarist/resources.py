"""Names shared by the CDK stack, local mode and the tests: one place, no copies.

Environment variables are read by ``diarist.settings``; CDK sets them on each function
and local mode sets them in-process.
"""

from __future__ import annotations

# The completion events' source is part of the event contract, defined once in the domain.
from diarist.domain.messages import EVENT_SOURCE as EVENT_SOURCE

# DynamoDB single-table design (one table for jobs, API keys and idempotency records).
TABLE_PK = "pk"
TABLE_GSI_TENANT = "by_tenant"
TABLE_GSI_PK = "gsi1pk"
TABLE_GSI_SK = "gsi1sk"
TABLE_TTL_ATTRIBUTE = "expires_at"
# Sparse index ``by_state`` (the sweeper's): a job that is not terminal is in the partition of its
# status (``STATUS#pending`` ...), a terminal job whose completion event is still owed in ``OUTBOX``;
# a terminal job whose event went out is in no partition. The sort key is ``<since>#<job id>``
# (``since``: fixed-width UTC time the job entered the partition, or a sweeper's lease on it).
TABLE_GSI_STATE = "by_state"
TABLE_GSI2_PK = "gsi2pk"
TABLE_GSI2_SK = "gsi2sk"
STATUS_KEY_PREFIX = "STATUS#"
OUTBOX_PARTITION = "OUTBOX"

JOB_KEY_PREFIX = "JOB#"
APIKEY_KEY_PREFIX = "KEY#"
IDEMPOTENCY_KEY_PREFIX = "IDEM#"
TENANT_KEY_PREFIX = "TENANT#"  # the tenant item (limits, active jobs) and the by_tenant partitions
RATE_KEY_PREFIX = "RATE#"  # RATE#<tenant>#<window start>: requests counted in one minute (TTL)
FLEET_KEY_PREFIX = "FLEET#"  # FLEET#<name>: the drain workers that exist (adapters.dynamo_fleet)
FLEET_NAME = "gpu"

# S3 layout.
INCOMING_PREFIX = "incoming/"  # incoming/<tenant>/<name>: an upload here starts a job by itself
MEDIA_PREFIX = "media/"  # media/<tenant>/<key>: media:// inputs and Phonexia uploads
RESULTS_PREFIX = "results/"  # results/<tenant>/<job or source name>...

# Default resource names used by local mode (CDK lets CloudFormation name them).
LOCAL_TABLE = "diarist-jobs"
LOCAL_JOB_QUEUE = "diarist-jobs"
LOCAL_JOB_DLQ = "diarist-jobs-dlq"
LOCAL_WORK_QUEUE = "diarist-work"
LOCAL_WORK_DLQ = "diarist-work-dlq"
LOCAL_SHORT_WORK_QUEUE = "diarist-work-short"  # the short lane (domain.lanes)
LOCAL_SHORT_WORK_DLQ = "diarist-work-short-dlq"
LOCAL_WEBHOOK_QUEUE = "diarist-webhooks"
LOCAL_WEBHOOK_DLQ = "diarist-webhooks-dlq"
LOCAL_INGEST_QUEUE = "diarist-ingest"
LOCAL_MEDIA_BUCKET = "diarist-media"
LOCAL_RESULTS_BUCKET = "diarist-results"
LOCAL_EVENT_BUS = "diarist"
WEBHOOK_SECRET_PREFIX = "diarist/webhook/"  # + tenant id

# Limits (the seeds: 1 GiB, 24 h).
MAX_INPUT_BYTES = 1 << 30
MAX_INPUT_SECONDS = 24 * 3600
API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
RESULT_RETENTION_DAYS_DEFAULT = 1

# The web console's CORS on the buckets (the stack's ``Storage.allow_browser_origins``, local mode's
# ``provision.allow_browser_origins``): the API's own origins may upload to (PUT) and read from the
# media bucket, and read large outputs from the results bucket, through presigned URLs.
CONSOLE_CORS_ALLOWED_HEADERS = ("Content-Type", "Range")
CONSOLE_CORS_EXPOSED_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges", "ETag")
CONSOLE_CORS_MAX_AGE_S = 3600
