"""What each role does on the single DynamoDB table: operations per item family, and the
``by_tenant`` index partitions it queries. ``Storage.grant_table`` grants exactly this (each item
family through ``dynamodb:LeadingKeys`` on its partition-key prefix), nothing else.

Pure data (no CDK import), so that the tests can check it from both sides: ``tests/infra`` that
the template grants it and nothing more, ``tests/api`` and ``tests/pipeline``
(``test_table_access``) that each entry point's real code calls nothing outside it. A new call
from a function fails those tests until it is added here.

Item families (``diarist.resources``, ``adapters/dynamo_*.py``):

- ``JOB#<job id>``: the job (job store, launch claims, webhook ledger);
- ``KEY#<sha256>``: an API key (the API only authenticates; keys are created, listed and revoked
  by the operator's ``diarist keys`` CLI with the operator's own credentials);
- ``IDEM#<tenant>#<key>``: an ``Idempotency-Key`` record;
- ``TENANT#<tenant>``: the tenant's limit overrides and active-job slots (``dynamo_tenants``; the
  API reads the overrides, claims a slot for each job it queues, gives slots back;
  the overrides are set by the operator's ``diarist tenants`` CLI). No other role, the worker's
  least of all, may touch it;
- ``RATE#<tenant>#<minute>``: a tenant's request counter for one minute (the API only);
- index ``by_tenant``: ``TENANT#<tenant>`` partitions list a tenant's jobs; the ``APIKEYS``
  partition lists keys (the CLI only);
- ``FLEET#<name>``: the drain workers that exist (the dispatcher's capacity decision, the workers'
  reports);
- index ``by_state`` (sparse): ``STATUS#<status>`` partitions hold the jobs that are not terminal
  (the sweeper's candidates; the dispatcher counts the backlog in them), ``OUTBOX`` the terminal
  jobs whose completion event is still owed (the sweeper's only).

No role may ``Scan``, use batch or PartiQL operations, or describe the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from diarist import resources

JOBS = resources.JOB_KEY_PREFIX
API_KEYS = resources.APIKEY_KEY_PREFIX
IDEMPOTENCY = resources.IDEMPOTENCY_KEY_PREFIX
TENANT_JOBS = resources.TENANT_KEY_PREFIX  # by_tenant partitions of jobs
TENANTS = resources.TENANT_KEY_PREFIX  # the tenant items (same prefix, the table's own key)
RATES = resources.RATE_KEY_PREFIX  # request counters per tenant and minute
JOBS_BY_STATUS = resources.STATUS_KEY_PREFIX  # by_state partitions of jobs that are not terminal
OUTBOX = resources.OUTBOX_PARTITION  # by_state partition of owed completion events
FLEET = resources.FLEET_KEY_PREFIX  # the drain-worker fleet item

GET, PUT, UPDATE, DELETE, QUERY = "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"


@dataclass(frozen=True)
class TableAccess:
    """``items``: partition-key prefix -> DynamoDB operations on those items; ``index_queries``:
    the ``by_tenant`` partition-key prefixes the role may ``Query``; ``state_queries``: the same
    for the ``by_state`` index."""

    items: Mapping[str, frozenset[str]]
    index_queries: frozenset[str] = field(default_factory=frozenset)
    state_queries: frozenset[str] = field(default_factory=frozenset)

    def queries_of(self, index: str) -> frozenset[str]:
        """The partition-key prefixes the role may ``Query`` in ``index``."""
        return {
            resources.TABLE_GSI_TENANT: self.index_queries,
            resources.TABLE_GSI_STATE: self.state_queries,
        }.get(index, frozenset())

    def allows(self, operation: str, leading_key: str, *, index: str | None = None) -> bool:
        """Whether ``operation`` on the item (or index partition) ``leading_key`` is granted."""
        if index is not None:
            return operation == QUERY and any(leading_key.startswith(p) for p in self.queries_of(index))
        return any(leading_key.startswith(p) and operation in ops for p, ops in self.items.items())


def _access(
    items: Mapping[str, set[str]],
    index_queries: set[str] | None = None,
    state_queries: set[str] | None = None,
) -> TableAccess:
    return TableAccess(
        items={p: frozenset(ops) for p, ops in items.items()},
        index_queries=frozenset(index_queries or ()),
        state_queries=frozenset(state_queries or ()),
    )


# Every role but the API's touches job items (and the fleet item) only, and never creates a job
# except ingest.
# the GPU container: the jobs it takes (status, progress); its own entry in the fleet
WORKER = _access({JOBS: {GET, UPDATE}, FLEET: {GET, UPDATE}})
# read the job, claim its dispatch, mark it queued; the capacity decision: the fleet item and the
# backlog (a count of the by_state STATUS# partitions)
DISPATCHER = _access({JOBS: {GET, UPDATE}, FLEET: {GET, UPDATE}}, state_queries={JOBS_BY_STATUS})
DISPATCHER_DLQ = _access({JOBS: {GET, UPDATE}})  # fail a job that could not be launched
# fail a job whose (older release's) container died; a drain worker whose container ended leaves the fleet
BATCH_EVENTS = _access({JOBS: {GET, UPDATE}, FLEET: {UPDATE}})
WEBHOOK = _access({JOBS: {GET, UPDATE}})  # read the job, claim and record attempts
# find stuck jobs and owed events (by_state), resolve each with one conditional write
# ... and keep the fleet big enough for the jobs waiting (the same capacity decision as the dispatcher)
SWEEPER = _access({JOBS: {GET, UPDATE}, FLEET: {GET, UPDATE}}, state_queries={JOBS_BY_STATUS, OUTBOX})
INGEST = _access({JOBS: {GET, PUT, UPDATE}})  # create the job of an upload (and fail it at once)
API = _access(
    {
        JOBS: {GET, PUT, UPDATE},  # submit, read, cancel, purge, redeliver
        IDEMPOTENCY: {GET, PUT, DELETE},  # claim, read the claim, release it when queueing failed
        API_KEYS: {GET},  # authenticate
        TENANTS: {GET, UPDATE},  # limits in effect; take an active-job slot, give ended ones back
        RATES: {UPDATE},  # count a request in the tenant's minute
    },
    {TENANT_JOBS},  # GET /v2/jobs
)

BY_ROLE: dict[str, TableAccess] = {
    "api": API,
    "dispatcher": DISPATCHER,
    "dispatcher_dlq": DISPATCHER_DLQ,
    "ingest": INGEST,
    "batch_events": BATCH_EVENTS,
    "webhook": WEBHOOK,
    "sweeper": SWEEPER,
    "worker": WORKER,
}
