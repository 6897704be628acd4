"""Opt-in cross-origin isolation for JupyterLab, so tfjs-wasm can use threads.

Browsers give a page ``SharedArrayBuffer`` (which WebAssembly threads need)
only when it is *cross-origin isolated*: its responses carry

    Cross-Origin-Opener-Policy: same-origin
    Cross-Origin-Embedder-Policy: require-corp   (or credentialless)

This Jupyter server extension adds both headers to every response of the
server. It is installed enabled but does nothing until switched on::

    jupyter lab --CrossOriginIsolation.enabled=True
    # or in jupyter_server_config.py:
    c.CrossOriginIsolation.enabled = True
    c.CrossOriginIsolation.embedder_policy = "credentialless"  # optional

What it breaks (why it is off by default): with ``require-corp`` the page may
load cross-origin images, scripts, fonts and iframes only if they send
``Cross-Origin-Resource-Policy`` or CORS headers, so notebook outputs and
Markdown that pull from other sites (CDN-hosted plotting libraries, MathJax
or widgets from a CDN, remote images) stop loading; ``credentialless``
relaxes that for requests without cookies (Chrome, Firefox; not Safari).
``same-origin`` opener policy cuts the link to windows opened across
origins (OAuth/SSO login pop-ups, some "open in new tab" integrations), and
JupyterLab embedded in another site's iframe stops working.
"""
from __future__ import annotations

from traitlets import Bool, Unicode
from traitlets.config import Configurable

EMBEDDER_POLICIES = ("require-corp", "credentialless")


class CrossOriginIsolation(Configurable):
    """Send COOP/COEP headers so the page is cross-origin isolated."""

    enabled = Bool(False, config=True, help="Send Cross-Origin-Opener/Embedder-Policy headers (WASM threads in the slide panel).")
    embedder_policy = Unicode(
        "require-corp",
        config=True,
        help="Cross-Origin-Embedder-Policy value: 'require-corp' or 'credentialless'.",
    )

    def headers(self) -> dict[str, str]:
        """The headers to add; empty when disabled. Bad values are a clear error."""
        if not self.enabled:
            return {}
        if self.embedder_policy not in EMBEDDER_POLICIES:
            raise ValueError(
                f"CrossOriginIsolation.embedder_policy must be one of {', '.join(EMBEDDER_POLICIES)}, "
                f"got {self.embedder_policy!r}"
            )
        return {
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Embedder-Policy": self.embedder_policy,
        }


def apply_isolation(settings: dict, isolation: CrossOriginIsolation) -> dict[str, str]:
    """Merge the headers into tornado settings['headers'] (JupyterHandler sends those on every response)."""
    extra = isolation.headers()
    if extra:
        headers = dict(settings.get("headers") or {})
        headers.update(extra)
        settings["headers"] = headers
    return extra


def _jupyter_server_extension_points():
    return [{"module": "jupyterlab_uga.isolation"}]


def _load_jupyter_server_extension(serverapp):
    isolation = CrossOriginIsolation(parent=serverapp)
    extra = apply_isolation(serverapp.web_app.settings, isolation)
    if extra:
        serverapp.log.info("jupyterlab_uga: cross-origin isolation on (%s)", ", ".join(f"{k}: {v}" for k, v in extra.items()))
    else:
        serverapp.log.debug("jupyterlab_uga: cross-origin isolation off (CrossOriginIsolation.enabled=False)")
