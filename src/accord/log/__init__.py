"""The durable append-only log (shell) and its pure tile and chunk layouts.

- :class:`Log`: ``Log.open(url, origin=...)``, ``append_batch``, roots and
  RFC 9162 proofs at any past size from stored hash tiles, signed checkpoints.
- :mod:`accord.log.tiles`: tile addressing and growth (pure).
- :mod:`accord.log.chunks`: entry chunk layout (pure).
"""

from accord.log.log import AlsoHook, Log
from accord.log.tiles import TILE_HEIGHT, TILE_WIDTH, RightEdge, Tile, TileID, locate

__all__ = ["TILE_HEIGHT", "TILE_WIDTH", "AlsoHook", "Log", "RightEdge", "Tile", "TileID", "locate"]
