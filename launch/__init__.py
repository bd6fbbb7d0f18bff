# Copyright 2026 The lumos_jax Authors. Licensed under the Apache License 2.0.
"""XManager-style launchers: `python -m launch.local|slurm|tpu_pod --help`.

Command and script generation is plain Python (tested without xmanager); xmanager
(launch/requirements.txt, its own virtualenv) is imported only to actually launch.
"""
