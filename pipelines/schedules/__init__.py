"""Schedules: pipeline runs on a recurrence."""
