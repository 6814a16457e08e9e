"""Outgoing mail: what is sent (messages), the queue (outbox), how (transport), when (worker).

Lower layers never import higher ones: messages and transport use the outbox; the worker
uses all three and the periodic jobs; nothing but create_app and the CLI imports the worker.
"""
