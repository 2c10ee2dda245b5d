"""Deployments: who shipped which version of which service where, per-environment versions, rollbacks."""
