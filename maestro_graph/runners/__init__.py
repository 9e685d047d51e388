"""Where training jobs run: a local subprocess (local.py) or a Kubernetes batch/v1 Job
(kubernetes.py). A runner starts and stops work and reports what it sees to the training jobs
service (services/training.py) through a Reporter; the service owns every status change."""
