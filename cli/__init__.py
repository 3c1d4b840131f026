"""The `feedwatch` command line: an interface over the flows (flows/) and the
warehouse (warehouse/), for analysts and operators.

app.py holds the commands that run flows (run, watch, demo, serve, rescore,
digest) and the entry point; feeds.py, topics.py, read.py and alerts.py the
command groups; common.py the options and exit codes they share; review.py the
page `feedwatch review` serves; reference.py writes docs/cli.md.
"""
