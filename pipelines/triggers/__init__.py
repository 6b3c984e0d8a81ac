"""Event triggers: Event Grid events that start pipeline runs."""
