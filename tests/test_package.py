import subprocess
import sys


def test_import_does_not_pull_torch(repo_root):
    code = (
        "import sys, jupyterlab_uga\n"
        "import jupyterlab_uga.corrections, jupyterlab_uga.metrics, jupyterlab_uga.data, jupyterlab_uga.export, jupyterlab_uga.finetune\n"
        "assert jupyterlab_uga.load_corrections is jupyterlab_uga.corrections.load_corrections\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "try:\n    jupyterlab_uga.no_such_thing\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit('missing AttributeError')\n"
    )
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
