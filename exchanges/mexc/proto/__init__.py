"""MEXC websocket protobuf schema and its generated module.

Stable import: ``from exchanges.mexc.proto import mexc_push_pb2``;
``mexc_push_pb2.PushDataV3ApiWrapper()`` encodes/decodes a binary push frame
(docs/venues.md section 4.4). Regenerate with ``generate.py``.
"""

from exchanges.mexc.proto import mexc_push_pb2

__all__ = ["mexc_push_pb2"]
