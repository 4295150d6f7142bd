"""The one domain model shared by every Lambda function, the worker, local mode and the client.

Nothing in this package imports boto3 or torch.
"""
