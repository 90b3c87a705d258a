"""The demo camera shop: a tiny Starlette site wired with the browser tracker and footfall_sdk.

`python -m demo` serves it on http://127.0.0.1:8090; `python -m footfall up` starts it next to the
API. Browser events go straight to the API with a public browser key; the back end's events
(sign-up, the purchase) go with a server key and are joined to the visitor through X-Request-ID.
"""
