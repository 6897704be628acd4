"""jupyterlab_uga: uncertainty-guided annotation of histology slides in JupyterLab.

The JupyterLab extension is prebuilt into ``labextension/``; the notebook side
(corrections loader, training, tfjs export) lives in the submodules and is
imported lazily so that ``import jupyterlab_uga`` stays light (no torch).
"""
try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    import warnings

    warnings.warn("Importing 'jupyterlab_uga' outside a proper installation.", stacklevel=2)
    __version__ = "dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-uga"}]


# --- notebook-side API: lazy re-exports (maintained by the Python/model work) ---
# Resolved on first attribute access so that `import jupyterlab_uga` never imports
# torch (an optional extra) and stays cheap for the JupyterLab server.
_LAZY_EXPORTS = {
    "load_corrections": "corrections",
    "write_corrections": "corrections",
    "add_patch": "corrections",
    "set_status": "corrections",
    "mask_to_geojson": "corrections",
    "Corrections": "corrections",
    "CorrectionsError": "corrections",
    "CorrectionsDataset": "corrections",
    "export_tfjs": "export",
    "load_tfjs": "export",
    "model_hash": "export",
    "finetune": "finetune",
}


def __getattr__(name):
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyterlab_uga' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
# --- end of lazy re-exports ---
