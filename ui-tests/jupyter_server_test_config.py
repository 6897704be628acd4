"""JupyterLab server for the Galata UI tests (a temporary root, no auth, as root)."""
import getpass
from tempfile import mkdtemp

c.ServerApp.port = 8888
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.root_dir = mkdtemp(prefix="galata-test-")
c.IdentityProvider.token = ""
c.ServerApp.password = ""
c.ServerApp.disable_check_xsrf = True
c.ServerApp.allow_root = True
c.LabApp.expose_app_in_browser = True
