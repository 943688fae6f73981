"""The desktop window: a thin Qt layer over the Qt-free core (see DESIGN.md).

``bridge`` reads the engine's events in a thread and hands coalesced updates to the GUI
thread; ``models`` and ``widgets`` render them; ``main_window`` wires them together; ``app``
starts it all (``run_gui``).
"""
