"""The Prefect flows (poll, rescore, digest, watch, serve), the tasks and workers they
run (fetch, extract), what they report (summary, report, alerts) and the settings
they read; their Prefect plumbing is in flows.runtime. The command line over them
is the cli package."""
