"""What the service tells its operators: Prometheus metrics, the request's log context, JSON logs.

Below every app (any of them may import it; it imports none of them): `metrics` defines every metric
and the one-line calls the apps make, `log_context` carries the request id and the verified caller
into each log line, `logs` formats them, `exposition` serves `/metrics` to whom configuration allows.
"""
