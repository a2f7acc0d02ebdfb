"""The event bus: envelopes, event types, subscriptions, the outbox relay and delivery.

Publish with :func:`eventbus.outbox.publish`, subscribe with
:func:`eventbus.subscriptions.subscribe`; the backend (Celery, EventBridge, in-memory)
is chosen by the ``EVENT_BUS`` setting and never named by the code that publishes.
"""
