"""Plumbing every app shares and that imports no app: request ids, health checks, the API's
parser, error handler and authentication."""
