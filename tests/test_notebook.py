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
    before_dice, after_dice = float(after.group(1)), float(after.group(2))
    # What the notebook claims: the model segments the held-out target tiles, and a round of
    # fine-tuning on 8 corrections helps or at least does not collapse it (docs/model-card.md
    # measured 0.8845 -> 0.8767 with the shipped model and the defaults).
    assert before_dice > 0.6, text[-2000:]
    assert after_dice > before_dice - 0.05, text[-2000:]
    loss = re.search(r"loss (\d+\.\d+) -> (\d+\.\d+)", text)
    assert loss and float(loss.group(2)) < 2 * float(loss.group(1)), text[-2000:]
    assert re.search(r"models: \[\('1', 'models/1', 'sha256:[0-9a-f]{12}'\)\]", text)
