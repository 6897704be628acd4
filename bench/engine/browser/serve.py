"""Tiny static server for the browser engine benchmark: HTTP Range (the slide
reader needs it) and, with --isolate, COOP/COEP so tfjs-wasm gets threads.

    python serve.py --port 8765 --root DIST --mount /model=DIR --mount /wasm=DIR --mount /slide=DIR [--isolate]
"""
from __future__ import annotations

import argparse
import mimetypes
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(mounts: dict[str, str], isolate: bool):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _path(self):
            url = self.path.split("?", 1)[0]
            for prefix in sorted(mounts, key=len, reverse=True):
                if url == prefix or url.startswith(prefix.rstrip("/") + "/"):
                    rel = url[len(prefix.rstrip("/")):].lstrip("/") or "index.html"
                    full = os.path.realpath(os.path.join(mounts[prefix], rel))
                    if full.startswith(os.path.realpath(mounts[prefix])) and os.path.isfile(full):
                        return full
            return None

        def do_GET(self):
            full = self._path()
            if not full:
                self.send_error(404)
                return
            size = os.path.getsize(full)
            start, end = 0, size - 1
            m = re.match(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    end = min(size - 1, int(m.group(2))) if m.group(2) else size - 1
                else:
                    start = max(0, size - int(m.group(2)))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            else:
                self.send_response(200)
            ctype = "application/wasm" if full.endswith(".wasm") else (mimetypes.guess_type(full)[0] or "application/octet-stream")
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Cache-Control", "no-store")
            if isolate:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.end_headers()
            with open(full, "rb") as f:
                f.seek(start)
                self.wfile.write(f.read(end - start + 1))

    return Handler


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--mount", action="append", default=[])
    p.add_argument("--isolate", action="store_true")
    a = p.parse_args()
    mounts = {"/": a.root}
    for m in a.mount:
        k, v = m.split("=", 1)
        mounts[k] = v
    ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(mounts, a.isolate)).serve_forever()


if __name__ == "__main__":
    main()
