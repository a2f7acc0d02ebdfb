"""Settings of the test run: the shop's own settings, run with DEBUG off as in production,
and so given a signing key.

The key goes into the environment before the shop's settings are read, so their refusal
of a missing or public key stays exactly as production has it, and the servers, workers
and commands the integration tests start inherit the same key.
"""

import os

os.environ.setdefault(
    "SECRET_KEY", "tests-only-signing-key-not-for-production-6c1f0e9b2a7d4f3e8b5a9c0d1e2f3a4b"
)

from config.settings import *  # noqa: F403
