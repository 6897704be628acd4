"""Check that a built wheel carries the prebuilt extension and everything the
panel fetches at run time (so it works without Node on the user's machine)."""
import sys
import zipfile

REQUIRED = [
    "share/jupyter/labextensions/jupyterlab-uga/package.json",
    "share/jupyter/labextensions/jupyterlab-uga/install.json",
    "share/jupyter/labextensions/jupyterlab-uga/schemas/jupyterlab-uga/plugin.json",
    "share/jupyter/labextensions/jupyterlab-uga/static/style.js",
    "share/jupyter/labextensions/jupyterlab-uga/static/tfjs-wasm/tfjs-backend-wasm.wasm",
    "share/jupyter/labextensions/jupyterlab-uga/static/openjpeg/openjpegwasm_decode.wasm",
    "share/jupyter/labextensions/jupyterlab-uga/static/default-model/model.json",
    "jupyterlab_uga/__init__.py",
    "jupyterlab_uga/sample/CMU-1-Small-Region.svs",
]


def main(path: str) -> int:
    names = set(zipfile.ZipFile(path).namelist())
    data = [n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n]
    present = names | set(data)
    missing = [r for r in REQUIRED if r not in present]
    if not any(n.startswith("share/jupyter/labextensions/jupyterlab-uga/static/remoteEntry.") for n in data):
        missing.append("share/jupyter/labextensions/jupyterlab-uga/static/remoteEntry.*.js")
    for m in missing:
        print(f"missing from {path}: {m}")
    print(f"{len(REQUIRED) + 1 - len(missing)} passed, {len(missing)} failed")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
