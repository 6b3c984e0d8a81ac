"""Runs: records, the transition engine, storage, and the submit service."""
