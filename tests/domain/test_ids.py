from app.ids import parse_uuid, uuid7


def test_ids_are_version_7_and_strictly_increasing_within_a_burst() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_parse_uuid_rejects_garbage() -> None:
    assert parse_uuid("not-a-uuid") is None
    assert parse_uuid(str(uuid7())) is not None
