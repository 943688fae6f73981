"""The reader's side of the engine's events, Qt-free: what the window (or any other reader) folds
them into and shows. Its modules and their place: DESIGN.md, Layout and Data flow.

- ``views``: JobView, WorkerView, ClusterSample, BridgeUpdate (plain data)
- ``folder``: EventFolder, events and readings into views
- ``log_text``: LogEntry, the log's words for an event (the window and ``poolscope run``)
- ``worker_stats``: WorkerStats, the one record of a worker's figures, from each backend
- ``sampling``: the monitor's own readings of this machine (psutil)
- ``cpu_history``: the CPU graph's readings in ring buffers, and what of them is in view
"""
