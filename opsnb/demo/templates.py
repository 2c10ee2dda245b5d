"""Log body templates of the demo world, and their vectorised rendering.

A template is a list of parts: a literal string, or a ``(kind, *args)`` tuple
naming a generated field. :func:`render` builds the bodies of ``n`` rows of one
template with Arrow string kernels, so no Python code runs per event.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Part = str | tuple[Any, ...]
Template = tuple[float, int, list[Part]]  # weight, severity number, parts

TERMS: tuple[str, ...] = (
    "running shoes", "usb-c cable", "coffee grinder", "yoga mat", "headphones", "backpack", "desk lamp",
    "water bottle", "rain jacket", "mechanical keyboard", "socks", "kettle", "monitor arm", "tent",
)
TABLES: tuple[str, ...] = ("products", "inventory", "sessions", "orders", "carts", "users")
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)

SEVERITY_TEXT: dict[int, str] = {5: "DEBUG", 9: "INFO", 13: "WARN", 17: "ERROR", 21: "FATAL"}


def hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    """``n`` random lowercase hex ids of ``nbytes`` bytes, as a numpy bytes array (``S{2*nbytes}``)."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    out = np.empty((n, 2 * nbytes), dtype=np.uint8)
    out[:, 0::2] = HEX[raw >> 4]
    out[:, 1::2] = HEX[raw & 15]
    return out.view(f"S{2 * nbytes}").ravel()


def strings(values: np.ndarray) -> pa.Array:
    """A numpy bytes array as an Arrow string array."""
    return pa.array(values).cast(pa.string())


def ints(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def _field(part: tuple[Any, ...], n: int, rng: np.random.Generator, ctx: dict[str, Any]) -> pa.Array | str:
    kind = part[0]
    if kind == "hex":
        return strings(hex_ids(rng, n, part[1] // 2))
    if kind == "int":
        return ints(rng.integers(part[1], part[2], size=n))
    if kind == "amount":
        dollars = ints(rng.integers(3, 400, size=n))
        cents = pc.utf8_lpad(ints(rng.integers(0, 100, size=n)), 2, "0")
        return pc.binary_join_element_wise(dollars, ".", cents, "")
    if kind == "pct":
        return pc.cast(pc.round(pa.array(rng.uniform(part[1], part[2], size=n)), 1), pa.string())
    if kind == "choice":
        return pc.take(pa.array(list(part[1])), pa.array(rng.integers(0, len(part[1]), size=n)))
    if kind == "ip":
        return pc.binary_join_element_wise(
            "10", ints(rng.integers(0, 8, size=n)), ints(rng.integers(0, 256, size=n)),
            ints(rng.integers(1, 255, size=n)), ".")
    if kind == "ctx":  # a per-row value the caller computed (duration, path, upstream name)
        val = ctx[part[1]]
        return val if isinstance(val, str) else val
    raise ValueError(f"unknown template field {kind!r}")


def render(parts: list[Part], n: int, rng: np.random.Generator, ctx: dict[str, Any] | None = None) -> pa.Array:
    """Bodies of ``n`` rows of one template."""
    ctx = ctx or {}
    pieces: list[pa.Array | str] = [p if isinstance(p, str) else _field(p, n, rng, ctx) for p in parts]
    if all(isinstance(p, str) for p in pieces):
        return pa.repeat("".join(str(p) for p in pieces), n)
    args = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in pieces]
    return pc.binary_join_element_wise(*args, "")


# ---------------------------------------------------------------- request-linked lines
# Informational lines a service writes while handling a request (p: share of requests).
APP_LINES: dict[str, tuple[float, list[Template]]] = {
    "frontend": (0.10, [
        (3, 9, ["rendered page in ", ("ctx", "ms"), "ms for session ", ("hex", 8)]),
        (1, 9, ["fragment cache hit ratio ", ("pct", 80, 99), "% (fragment=header)"]),
        (1, 5, ["feature flag new-checkout-flow evaluated to ", ("choice", ("true", "false")), " for session ", ("hex", 8)]),
    ]),
    "checkout": (0.35, [
        (3, 9, ["cart ", ("hex", 12), " priced: ", ("int", 1, 9), " items, subtotal=", ("amount",)]),
        (2, 9, ["order ", ("hex", 8), " created for customer ", ("int", 10000, 99999)]),
        (1, 13, ["promotion code ", ("choice", ("SPRING10", "FREESHIP", "WELCOME5")), " expired, ignored for cart ", ("hex", 12)]),
    ]),
    "payments": (0.6, [
        (6, 9, ["payment authorized for order ", ("hex", 8), " amount=", ("amount",), " currency=USD provider=stripe"]),
        (1, 9, ["3DS challenge required for card ending ", ("int", 1000, 9999)]),
        (1, 13, ["card declined for order ", ("hex", 8), ": ", ("choice", ("insufficient_funds", "expired_card", "do_not_honor"))]),
    ]),
    "catalog": (0.12, [
        (3, 9, ["product ", ("int", 1000, 99999), " served from cache"]),
        (1, 9, ["inventory reserved sku=SKU-", ("int", 10000, 99999), " qty=", ("int", 1, 5)]),
    ]),
    "search": (0.15, [
        (3, 9, ["query \"", ("choice", TERMS), "\" returned ", ("int", 0, 480), " hits in ", ("ctx", "ms"), "ms (index=products-v12)"]),
        (1, 9, ["recommendations computed for product ", ("int", 1000, 99999), " (", ("int", 3, 12), " items)"]),
    ]),
    "auth": (0.12, [
        (4, 9, ["session verified for user u", ("int", 1000, 99999)]),
        (1, 13, ["login failed for user u", ("int", 1000, 99999), " from ", ("ip",), ": bad password"]),
        (1, 9, ["issued access token for user u", ("int", 1000, 99999), " ttl=3600s"]),
    ]),
}

NPE_TRACE = (
    "java.lang.NullPointerException: Cannot invoke \"com.shop.pricing.Promotion.getRate()\" because \"promo\" is null\n"
    "\tat com.shop.pricing.CartPricingService.applyPromotions(CartPricingService.java:142)\n"
    "\tat com.shop.pricing.CartPricingService.price(CartPricingService.java:88)\n"
    "\tat com.shop.checkout.CheckoutController.checkout(CheckoutController.java:61)\n"
    "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)\n"
    "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)"
)
PSQL_TRACE = (
    "\n\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2713)\n"
    "\tat org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2401)\n"
    "\tat com.shop.catalog.InventoryRepository.reserve(InventoryRepository.java:77)\n"
    "\tat com.shop.catalog.InventoryController.reserve(InventoryController.java:40)"
)

# Error lines written where a failure starts, by cause ("" = everyday failures of that service).
ORIGIN_ERRORS: dict[tuple[str, str], list[Template]] = {
    ("checkout", "npe"): [
        (1, 17, ["unhandled exception in ", ("ctx", "request"), " (order ", ("hex", 8), "): " + NPE_TRACE]),
    ],
    ("catalog", "disk-full"): [
        (2, 17, ["org.postgresql.util.PSQLException: ERROR: could not extend file \"base/16384/", ("int", 16400, 16999),
                 "\": No space left on device\n  Hint: Check free disk space." + PSQL_TRACE]),
        (1, 17, ["failed to write inventory reservation for sku=SKU-", ("int", 10000, 99999),
                 ": No space left on device (db=db-2)"]),
    ],
    ("auth", "disk-full"): [
        (1, 17, ["failed to persist session for user u", ("int", 1000, 99999),
                 ": psycopg.errors.DiskFull: could not extend file \"base/16384/", ("int", 17000, 17999),
                 "\": No space left on device"]),
    ],
    ("search", "slow"): [
        (2, 17, ["request timed out after 3000ms: shard products-v12[", ("int", 0, 6), "] did not respond"]),
        (1, 17, ["search backend overloaded: queue of ", ("int", 200, 900), " pending queries (limit 200)"]),
    ],
    ("frontend", ""): [
        (1, 17, ["upstream connect error or disconnect/reset before headers. reset reason: connection termination"]),
    ],
    ("checkout", ""): [
        (2, 17, ["timeout calling payments after 3000ms (order ", ("hex", 8), ")"]),
        (1, 17, ["connection pool exhausted (size=50), waited 5000ms for a connection to db-1"]),
    ],
    ("payments", ""): [
        (2, 17, ["provider stripe returned 502 for order ", ("hex", 8), ": upstream unavailable"]),
        (1, 17, ["idempotency key conflict for order ", ("hex", 8), "; refusing duplicate charge"]),
    ],
    ("catalog", ""): [
        (2, 17, ["connection pool exhausted (size=50), waited 5000ms for a connection to db-2"]),
        (1, 17, ["org.postgresql.util.PSQLException: ERROR: canceling statement due to statement timeout" + PSQL_TRACE]),
    ],
    ("search", ""): [
        (1, 17, ["shard products-v12[", ("int", 0, 6), "] failed: CircuitBreakingException: [parent] Data too large"]),
    ],
    ("auth", ""): [
        (1, 17, ["token signing key fetch failed: connection reset by peer (upstream=", ("ip",), ":8200)"]),
    ],
}

UPSTREAM_ERROR: list[Part] = ["upstream ", ("ctx", "upstream"), " failed with ", ("ctx", "upstream_status"),
                              " during ", ("ctx", "request")]
SLOW_QUERY: list[Part] = ["slow query \"", ("choice", TERMS), "\" took ", ("ctx", "ms"), "ms (threshold 1000ms)"]

# ---------------------------------------------------------------- host background lines
# role -> (events per host-minute at scale 1, templates)
BACKGROUND: dict[str, tuple[float, list[Template]]] = {
    "web": (0.3, [
        (2, 9, ["worker pid=", ("int", 1000, 40000), " served ", ("int", 200, 5000), " requests, rss=", ("int", 90, 400), "MB"]),
        (1, 9, ["reloaded TLS certificate for shop.example.com (expires in ", ("int", 20, 80), " days)"]),
    ]),
    "app": (0.5, [
        (4, 9, ["GC pause ", ("int", 3, 60), "ms (G1 Young Generation), heap ", ("int", 900, 3500), "/4096MB"]),
        (1, 9, ["refreshed feature flags (rev ", ("int", 100, 999), ")"]),
        (1, 13, ["slow outbound call to ", ("choice", ("db-1", "db-2", "cache-1")), " took ", ("int", 500, 1500), "ms"]),
    ]),
    "db": (0.5, [
        (3, 9, ["LOG:  checkpoint complete: wrote ", ("int", 200, 9000), " buffers (", ("pct", 1, 30),
                "%); 0 WAL file(s) added, 1 removed, 2 recycled"]),
        (2, 9, ["LOG:  automatic vacuum of table \"shop.public.", ("choice", TABLES), "\": index scans: 1"]),
        (1, 9, ["LOG:  duration: ", ("int", 1000, 4000), ".", ("int", 100, 999), " ms  statement: SELECT * FROM ",
                ("choice", TABLES), " WHERE id = $1"]),
    ]),
    "cache": (0.3, [
        (3, 9, [("int", 100, 9000), " keys expired, used_memory=", ("pct", 1, 3), "G"]),
        (1, 9, ["Background saving started by pid ", ("int", 1000, 40000)]),
    ]),
    "search": (0.3, [
        (2, 9, ["merged ", ("int", 2, 30), " segments in index products-v12"]),
        (1, 9, ["refreshed index products-v12 in ", ("int", 20, 400), "ms"]),
    ]),
}

DISK_FULL_LINES: list[Template] = [
    (12, 17, ["ERROR:  could not extend file \"base/16384/", ("int", 16400, 17999), "\": No space left on device"]),
    (3, 17, ["ERROR:  could not write to file \"pg_wal/xlogtemp.", ("int", 1000, 9999), "\": No space left on device"]),
    (1, 21, ["PANIC:  could not write to file \"pg_wal/xlogtemp.", ("int", 1000, 9999), "\": No space left on device"]),
]
DISK_WARN_LINES: list[Template] = [
    (1, 13, ["WARNING:  archiver is falling behind: ", ("int", 20, 400), " WAL files waiting on /var/lib/postgresql"]),
]
