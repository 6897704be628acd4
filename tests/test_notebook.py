import os
import re

import pytest


def test_training_loop_notebook_runs(repo_root, ebhi_dir, torch_mod, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    model_dir = repo_root / "jupyterlab_uga" / "default_model"
    if not (model_dir / "model.json").is_file():
        pytest.skip("the default model has not been trained/exported yet")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:  # a fresh venv without a registered kernel
        from ipykernel.kernelspec import install

        install(prefix=os.environ.get("VIRTUAL_ENV") or __import__("sys").prefix)
    monkeypatch.setenv("UGA_DATA", str(ebhi_dir.parent))
    # keep the test short; the notebook defaults to 30 steps, a pool of 40 and 48 test tiles
    monkeypatch.setenv("UGA_FT_STEPS", "6")
    monkeypatch.setenv("UGA_POOL", "16")
    monkeypatch.setenv("UGA_TEST_TILES", "16")
    monkeypatch.setenv("PYTHONPATH", str(repo_root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(repo_root / "examples" / "training-loop.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(repo_root / "examples")}})
    client.execute()
    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "stream"
    )
    assert "8 corrected patches (8, 224, 224, 3)" in text
    after = re.search(r"dice_mean\s+before (\d\.\d+)\s+after (\d\.\d+)", text)
    assert after, text[-2000:]
    assert 0 < float(after.group(1)) <= 1 and 0 < float(after.group(2)) <= 1
    assert re.search(r"models: \[\('1', 'models/1', 'sha256:[0-9a-f]{12}'\)\]", text)
