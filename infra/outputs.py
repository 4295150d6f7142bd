"""CloudFormation output names: the stack sets them (``override_logical_id``) and tests, scripts
and e2e suites read them. One place, no copies."""

from __future__ import annotations

API_URL = "ApiUrl"  # https://<id>.execute-api.<region>.amazonaws.com/<stage>/
CUSTOM_DOMAIN_URL = "CustomDomainUrl"  # only with a custom domain
API_USAGE_PLAN_ID = "ApiUsagePlanId"
TABLE_NAME = "TableName"
MEDIA_BUCKET = "MediaBucketName"
RESULTS_BUCKET = "ResultsBucketName"
JOB_QUEUE_URL = "JobQueueUrl"
JOB_DLQ_URL = "JobDeadLetterQueueUrl"
INGEST_QUEUE_URL = "IngestQueueUrl"
WEBHOOK_QUEUE_URL = "WebhookQueueUrl"
WEBHOOK_DLQ_URL = "WebhookDeadLetterQueueUrl"
EVENT_BUS_NAME = "EventBusName"
BATCH_JOB_QUEUE = "BatchJobQueueArn"
BATCH_JOB_DEFINITION = "BatchJobDefinitionArn"
ALARM_TOPIC_ARN = "AlarmTopicArn"
DASHBOARD_NAME = "DashboardName"

ALWAYS: tuple[str, ...] = (
    API_URL,
    API_USAGE_PLAN_ID,
    TABLE_NAME,
    MEDIA_BUCKET,
    RESULTS_BUCKET,
    JOB_QUEUE_URL,
    JOB_DLQ_URL,
    INGEST_QUEUE_URL,
    WEBHOOK_QUEUE_URL,
    WEBHOOK_DLQ_URL,
    EVENT_BUS_NAME,
    BATCH_JOB_QUEUE,
    BATCH_JOB_DEFINITION,
    ALARM_TOPIC_ARN,
    DASHBOARD_NAME,
)
