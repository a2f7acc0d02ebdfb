"""Everything of the bus that speaks to AWS, and the only place that imports boto3: the
EventBridge backend, its boto3 clients, provisioning, the SQS consumer and the
development-only schedule firer."""
