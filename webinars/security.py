"""Response headers every page carries: no sniffing, no framing, a strict CSP, no caching of
organiser pages."""

from flask import Flask, request

#: Scripts, styles and images from our own origin only; no inline code of any kind.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask) -> None:
    """Add the security headers to every response."""

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request.path.startswith("/organiser"):
            # Participant lists are personal data: not in the browser's or a proxy's cache.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
