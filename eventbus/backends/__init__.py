"""The bus backends that need no cloud: Celery (the local bus) and in-memory (unit tests).

The EventBridge backend lives with the rest of the AWS code in :mod:`eventbus.aws`; the
interface they all implement is :mod:`eventbus.backend`.
"""
