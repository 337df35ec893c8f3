"""Event state compression: zlib at its fastest level.

Proof batches put hundreds of kilobytes of random bytes in one event (accepted share
hashes, the signed packed batch), which zlib's default level spends most of its time
failing to compress: level 1 is about three times faster on them and loses about 2% of
the saving on text. Decompression is the same zlib stream, so stores written at any level
read back unchanged (DESIGN §2: event state is compressed with zlib).
"""

from __future__ import annotations

import zlib

from eventsourcing.persistence import Compressor

LEVEL = 1
"""zlib compression level of new events."""


class FastZlibCompressor(Compressor):
    """zlib at level 1; reads any zlib stream."""

    def compress(self, data: bytes) -> bytes:
        """Returns the zlib stream of ``data`` at LEVEL."""
        return zlib.compress(data, LEVEL)

    def decompress(self, data: bytes) -> bytes:
        """Returns the bytes of a zlib stream (written at any level)."""
        return zlib.decompress(data)
