"""What the flows need from their surroundings: Prefect's API for one command
(prefect_api), signs of life and crashed runs (liveness), processes that end with
their parent (lifeline), the run's logger (logs) and progress for whoever watches
(progress)."""
