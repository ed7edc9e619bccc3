"""Decoding the log for the views: the application's own mapper, with a quicker transcoder.

A rebuild decodes every event of the log, so decoding is most of its cost.
The follower uses a second instance of the application's mapper class — the
same cipher, the same row binding, the same compressor — whose transcoder
revives the tagged values (datetimes, dates, UUIDs) in place in the parsed
JSON instead of copying every dict and visiting every scalar. Same bytes in,
equal events out (``tests/integration/test_projections_property.py`` checks
it on every event of its logs); with any other transcoder or mapper the
application's mapper is used unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from domain.ledger import Ledger
from taizhang.transcoder import OrjsonTranscoder

_DECODERS: dict[str, Callable[[str], Any]] = {
    "datetime_iso": datetime.fromisoformat,
    "date_iso": date.fromisoformat,
    "uuid_hex": UUID,
}


def _revive_dict(value: dict[str, Any]) -> None:
    for key, item in value.items():
        kind = type(item)
        if kind is dict:
            if "_type_" in item and len(item) == 2 and "_data_" in item:
                value[key] = _DECODERS[item["_type_"]](item["_data_"])
            else:
                _revive_dict(item)
        elif kind is list:
            _revive_list(item)


def _revive_list(value: list[Any]) -> None:
    for index, item in enumerate(value):
        kind = type(item)
        if kind is dict:
            if "_type_" in item and len(item) == 2 and "_data_" in item:
                value[index] = _DECODERS[item["_type_"]](item["_data_"])
            else:
                _revive_dict(item)
        elif kind is list:
            _revive_list(item)


class InPlaceTranscoder(OrjsonTranscoder):
    """:class:`~taizhang.transcoder.OrjsonTranscoder`, decoding without copying."""

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        if type(value) is dict:
            _revive_dict(value)
        elif type(value) is list:
            _revive_list(value)
        return value


def event_decoder(ledger: Ledger) -> Callable[[StoredEvent], Any]:
    """``to_domain_event`` for the views: the quicker twin of the ledger's mapper, if it can."""
    mapper: Any = ledger.mapper
    if type(mapper.transcoder) is not OrjsonTranscoder:
        return mapper.to_domain_event
    twin = type(mapper)(
        transcoder=InPlaceTranscoder(), compressor=mapper.compressor, cipher=mapper.cipher
    )
    return twin.to_domain_event
