"""Cross-origin isolation of the studio's page, so that onnxruntime-web may step a game on several threads.

WebAssembly threads share memory (SharedArrayBuffer), which a browser grants only to a cross-origin-isolated
page: one served with `Cross-Origin-Opener-Policy: same-origin` and a `Cross-Origin-Embedder-Policy`. The policy
is `credentialless`, so what the page loads from elsewhere (a theme's web font) still loads, without cookies.
A browser that ignores the headers, or a page framed by another site (a Space's page on huggingface.co), is not
isolated: play.js then steps on one thread, as it says on the Play tab.
"""

from __future__ import annotations

ISOLATION_HEADERS = (
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-embedder-policy", b"credentialless"),
)


class CrossOriginIsolation:
    """ASGI middleware adding the isolation headers to every HTTP response (streams and files included)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_isolated(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *ISOLATION_HEADERS]
            await send(message)

        await self.app(scope, receive, send_isolated)
