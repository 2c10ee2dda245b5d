"""Seed the demo world's servers into the inventory (nothing is connected to)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsnb.servers.inventory import InventoryFile

if TYPE_CHECKING:
    from opsnb.demo.world import DemoWorld
    from opsnb.workbench import Workbench


def seed(ops: Workbench, world: DemoWorld) -> None:
    """Store ``world.servers`` in the inventory, in one audited transaction.

    The demo builder sets up a fresh workspace, where nobody holds a role yet, so
    the operator check is skipped here (the import is still audited).
    """
    inv = InventoryFile("demo")
    inv.servers = [
        {"name": s.name, "address": s.address, "port": int(s.port), "user": s.user,
         "labels": {str(k): str(v) for k, v in s.labels.items()}, "platform": s.platform,
         "credential": "", "proxy_jump": ""}
        for s in world.servers
    ]
    ops.fleet._import(inv, strict=True, reason="demo world", source="demo", check_role=False)
