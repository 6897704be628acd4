"""examples/tutorial.ipynb runs top to bottom headless (small sizes) and says what it claims."""
import os
import re

import pytest


def test_tutorial_notebook_runs(repo_root, torch_mod, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    assert (repo_root / "jupyterlab_uga" / "sample" / "ebhi-target-mosaic.tif").is_file(), "the packaged mosaic is missing (scripts/make-mosaic.py)"
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(prefix=os.environ.get("VIRTUAL_ENV") or __import__("sys").prefix)
    # small sizes; the slide is copied to a temporary folder by the notebook (no ./slides there)
    for k, v in {"UGA_T": "3", "UGA_FT_STEPS": "4", "UGA_REPLAY": "16", "UGA_THREADS": "1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("UGA_TUTORIAL_SLIDE", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(repo_root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(repo_root / "examples" / "tutorial.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "stream")
    assert re.search(r"slide ebhi-target-mosaic\.tif \(1120, 1792, 3\) \| ground truth \(1120, 1792\)", text), text[:2000]
    assert "40 patches of 224 px, T = 3" in text
    assert "3 corrected patches in ebhi-target-mosaic.tif.uga" in text
    m = re.search(r"dice_mean\s+before (\d\.\d+)\s+after (\d\.\d+)", text)
    assert m, text[-2000:]
    before, after = float(m.group(1)), float(m.group(2))
    # The model works on the mosaic, and the round does not collapse it on the patches nobody corrected.
    assert before > 0.6, text
    assert after > before - 0.05, text
    assert re.search(r"model 1\+ft1 parent sha256:[0-9a-f]{12} patches \['p001', 'p002', 'p003'\]", text), text[-1500:]
