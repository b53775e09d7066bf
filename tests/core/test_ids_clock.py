import uuid
from datetime import UTC, datetime, timedelta

from fiscus.core import clock
from fiscus.core.ids import new_id, parse_id


def test_ids_are_uuid7_and_time_ordered() -> None:
    ids = [new_id() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


def test_parse_id_returns_none_for_garbage() -> None:
    good = new_id()
    assert parse_id(str(good)) == good
    assert parse_id("not-a-uuid") is None
    assert isinstance(parse_id(str(uuid.uuid4())), uuid.UUID)


def test_frozen_clock_stands_still_and_advances() -> None:
    moment = datetime(2026, 11, 22, 14, 5, tzinfo=UTC)
    with clock.frozen_clock(moment) as frozen:
        assert clock.now() == moment
        frozen.advance(timedelta(minutes=5))
        assert clock.now() == moment + timedelta(minutes=5)
    assert clock.now() != moment + timedelta(minutes=5)


def test_rfc3339_is_utc_with_milliseconds_and_z() -> None:
    moment = datetime(2026, 11, 22, 14, 5, 0, 123456, tzinfo=UTC)
    assert clock.rfc3339(moment) == "2026-11-22T14:05:00.123Z"


def test_timestamp_type_accepts_rfc3339_only() -> None:
    import pytest
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(clock.Timestamp)
    assert adapter.validate_python("2026-11-22T14:05:00Z") == datetime(
        2026, 11, 22, 14, 5, tzinfo=UTC
    )
    # The same instant, held in UTC (so an offset cannot carry it past year 9999).
    moved = adapter.validate_python("2026-11-22T15:05:00.5+01:00")
    assert moved == datetime(2026, 11, 22, 14, 5, 0, 500000, tzinfo=UTC)
    assert moved.utcoffset() == timedelta(0)
    naive = datetime(2026, 11, 22, 14, 5)  # noqa: DTZ001 - the point of the test
    for bad in ["0.5", "1700000000", "2026-11-22", "yesterday", 12, naive]:
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
