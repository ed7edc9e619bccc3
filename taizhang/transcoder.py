"""An orjson transcoder for stored event state.

It writes the same tagged form as eventsourcing's JSON transcoder
(``{"_type_": "datetime_iso", "_data_": ...}``) for the values JSON cannot
express, so the two decode each other's output, and it is several times faster.
Only datetimes are tagged: event payloads carry ids as strings.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Transcoder, Transcoding

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return {"_type_": "datetime_iso", "_data_": obj.isoformat()}
    if isinstance(obj, date):
        return {"_type_": "date_iso", "_data_": obj.isoformat()}
    if isinstance(obj, UUID):
        return {"_type_": "uuid_hex", "_data_": obj.hex}
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot store a value of type {type(obj).__name__} in an event")


_DECODERS = {
    "datetime_iso": datetime.fromisoformat,
    "date_iso": date.fromisoformat,
    "uuid_hex": UUID,
}


def _revive(value: Any) -> Any:
    if isinstance(value, dict):
        if "_type_" in value and len(value) == 2 and "_data_" in value:
            return _DECODERS[value["_type_"]](value["_data_"])
        return {k: _revive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revive(v) for v in value]
    return value


class OrjsonTranscoder(Transcoder):
    """Event state ⇄ bytes with orjson; the type tags of the library's transcoder."""

    def register(self, transcoding: Transcoding) -> None:
        """Accepted for compatibility; the few tagged types are built in."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj, default=_default, option=_OPTIONS)

    def decode(self, data: bytes) -> Any:
        return _revive(orjson.loads(data))
