"""The shop's HTML. Every area carries data-ff-section, so the tracker credits each click to it."""

from html import escape

import orjson

from demo.catalog import BY_SLUG, PRODUCTS, RECOMMENDED, Product
from demo.config import DemoSettings


def _card(p: Product, cls: str = "card") -> str:
    return (
        f'<a class="{cls}" href="/products/{p.slug}" data-product="{p.slug}">'
        f"<strong>{escape(p.name)}</strong><span>€{p.price:,.0f}</span></a>"
    )


def _tracker(settings: DemoSettings) -> str:
    # The public browser key only: the server key never reaches a page. X-Request-ID goes to the
    # shop's own origin (its /api/* calls), so the back end can join its events to the visitor.
    options = orjson.dumps({"writeKey": settings.browser_key, "apiHost": settings.api_url})
    return (
        f'<script src="{escape(settings.tracker_src)}"></script>\n'
        "<script>window.footfall && footfall.init(Object.assign("
        f"{options.decode()}, {{requestIdOrigins: [location.origin]}}));</script>"
    )


def _popup() -> str:
    items = "".join(_card(BY_SLUG[s], "card reco-item") for s in RECOMMENDED)
    return (
        '<div id="reco-popup" class="popup" data-ff-section="recommendation-popup" hidden>'
        "<h3>Picked for you</h3>"
        f'<div class="grid">{items}</div>'
        '<button type="button" id="reco-close">Close</button></div>'
    )


def layout(settings: DemoSettings, title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Shutterbug cameras</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/shop.css">
{_tracker(settings)}
</head><body>
<header><a href="/" class="logo">Shutterbug</a>
<nav><button type="button" id="reco-open">Need help choosing?</button>
<a href="/register" id="nav-register">Register</a></nav></header>
<main>{body}</main>
{_popup()}
<footer>A demo shop for Footfall: every click here is an event in ClickHouse.</footer>
<script src="/static/shop.js"></script>
</body></html>"""


def home(settings: DemoSettings) -> str:
    cards = "".join(_card(p) for p in PRODUCTS)
    body = (
        '<section data-ff-section="home-page" id="home">'
        "<h1>Cameras for every story</h1>"
        "<p>Free shipping in the EU. Try the recommendation popup above.</p>"
        f'<div class="grid">{cards}</div></section>'
    )
    return layout(settings, "Home", body)


def product(settings: DemoSettings, p: Product) -> str:
    similar = "".join(_card(BY_SLUG[s], "card similar-item") for s in p.similar)
    body = (
        f'<section data-ff-section="product-page" id="product" data-slug="{p.slug}">'
        f"<h1>{escape(p.name)}</h1><p>{escape(p.blurb)}</p>"
        f'<p class="price">€{p.price:,.2f}</p>'
        '<button type="button" id="buy" class="primary">Buy now</button>'
        '<p id="order-status" role="status"></p></section>'
        '<section data-ff-section="similar-products" id="similar">'
        f'<h2>Similar products</h2><div class="grid strip">{similar}</div></section>'
    )
    return layout(settings, p.name, body)


def register(settings: DemoSettings) -> str:
    body = (
        '<section data-ff-section="register-form" id="register">'
        "<h1>Create your account</h1>"
        '<form id="register-form" action="/api/register" method="post">'
        '<label>Name <input name="name" autocomplete="name" required></label>'
        '<label>Email <input name="email" type="email" autocomplete="email" required></label>'
        '<button type="submit" class="primary">Register</button></form>'
        '<p id="register-status" role="status"></p></section>'
    )
    return layout(settings, "Register", body)
