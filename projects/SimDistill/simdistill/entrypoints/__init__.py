"""What the project's tools/ scripts run: mmdet3d's shipped scripts (``run``), after checking
the files a config names (``inputs``)."""
