"""JupyterLab server for the Galata UI tests: Galata's helper extension, a
temporary root, no auth (never use this config in production), as root."""
from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
