"""jupyterlab_uga: uncertainty-guided annotation of histology slides in JupyterLab.

The JupyterLab extension is prebuilt into ``labextension/``; the notebook side
(corrections loader, training, tfjs export) lives in the submodules and is
imported lazily so that ``import jupyterlab_uga`` stays light (no torch).
"""
try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    import warnings

    warnings.warn("Importing 'jupyterlab_uga' outside a proper installation.")
    __version__ = "dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-uga"}]
