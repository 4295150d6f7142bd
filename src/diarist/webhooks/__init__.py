"""Webhook delivery building blocks: signatures (``signing``), SSRF-safe HTTP (``ssrf``) and the
job-record bookkeeping of delivery attempts (``ledger``). Import the submodules directly."""
