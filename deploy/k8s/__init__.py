"""Tandem's Kubernetes manifests (kustomize) and their offline check, `python -m deploy.k8s.check`."""
