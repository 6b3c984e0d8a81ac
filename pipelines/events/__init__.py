"""Run events out: delivery of a run's CloudEvents to the local queue, Event Grid and webhooks.

`functions.py` is the queue function (`deliver_run_events`), `delivery.py` what it does,
`sinks.py` the three kinds of sink, `signing.py` the webhooks' signatures. How a run's
events are derived and nudged along is `pipelines.runs.events` and `pipelines.runs.notify`.
"""
