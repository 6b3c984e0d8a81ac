"""Run events out: delivery of a run's CloudEvents to the local queue, Event Grid, webhooks
and the Azure DevOps jobs that wait for runs.

`functions.py` is the queue functions (`deliver_run_events` on the notify queue,
`deliver_sink_events` on the sinks queue), `delivery.py` what they do, `sinks.py` the kinds
of sink, `signing.py` the webhooks' signatures. How a run's
events are derived and nudged along is `pipelines.runs.events` and `pipelines.runs.notify`.
"""
