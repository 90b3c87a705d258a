"""The shop's products (in memory: a demo needs no database)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    slug: str
    name: str
    price: float  # EUR
    blurb: str
    similar: tuple[str, ...]


PRODUCTS = (
    Product("lumen-x100", "Lumen X100", 1299.0, "Full-frame mirrorless, 45 MP, weather sealed.",
            ("lumen-x50", "orbit-m2", "pocket-p7")),
    Product("lumen-x50", "Lumen X50", 849.0, "APS-C mirrorless for travel, 26 MP, flip screen.",
            ("lumen-x100", "pocket-p7", "vista-35")),
    Product("orbit-m2", "Orbit M2", 2199.0, "Medium format for studios, 100 MP, 16-bit raw.",
            ("lumen-x100", "vista-35", "lumen-x50")),
    Product("pocket-p7", "Pocket P7", 449.0, "A compact that fits a jeans pocket, 1-inch sensor.",
            ("lumen-x50", "vista-35", "lumen-x100")),
    Product("vista-35", "Vista 35mm f/1.8", 399.0, "A sharp, quiet everyday prime lens.",
            ("lumen-x100", "lumen-x50", "orbit-m2")),
)  # fmt: skip

BY_SLUG = {p.slug: p for p in PRODUCTS}
RECOMMENDED = ("lumen-x50", "pocket-p7")  # what the recommendation popup suggests
