"""The window's widgets: launch panel, jobs table, workers table, live graphs and log pane."""
