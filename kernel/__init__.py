"""The bottom layer: plumbing every app may use and that knows no app of ours (docs/ARCHITECTURE.md).

transactions  after_commit: work that follows a commit without being able to undo it
tasks         enqueue_on_commit: a service enqueues its app's Celery task by name, on commit
locking       rows locked in primary-key order under a short lock_timeout; busy, not a hang
money         Decimal rounding to a currency's precision; minor units for the gateways
errors        DomainError: the base of every app's domain errors (code, message, HTTP status)
auth          user_or_none: a signed-in user or None
admin         the admin mixins shared by the apps' admin modules
client_ip     the address a request really came from
ratelimit     rate-limit counters per tier on the shared cache (pages and API alike)
http          json_attachment: a JSON file download
"""
