"""Prefect flows, their settings and the `feedwatch` command line."""
