"""`python -m bench`: latency and throughput figures of the local host on Azurite.

Starts its own Azurite and development host (in a child process, so the load
generator never shares a GIL with the server), measures, prints, stops
everything. See `bench/__main__.py` for the figures and the choices behind them.
"""
