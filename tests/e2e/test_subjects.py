"""Data subjects: registration answers masks only; invalid identifiers store nothing."""

from __future__ import annotations

from tests.e2e.support import TestClient, error_of, log_length, register_person, resident_id


def test_registering_a_person_answers_201_with_masks_and_no_plaintext(
    client: TestClient,
) -> None:
    before = log_length(client)
    number = resident_id()
    answer = client.post(
        "/subjects",
        json={"kind": "person", "name": "张三丰", "id_number": number, "mobile": "13800138000"},
    )
    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    assert receipt["kind"] == "person"
    assert receipt["name_masked"] != "张三丰"
    assert receipt["name_masked"].startswith("张")
    assert receipt["id_number_masked"] != number
    assert receipt["mobile_masked"] != "13800138000"
    for plain in ("张三丰", number, "13800138000"):
        assert plain not in answer.text
    assert log_length(client) == before + 1


def test_the_subject_view_shows_masks_and_which_fields_are_held(client: TestClient) -> None:
    receipt = register_person(client)
    answer = client.get(f"/subjects/{receipt['id']}")
    assert answer.status_code == 200
    view = answer.json()
    assert view["id"] == receipt["id"]
    assert view["name_masked"] == receipt["name_masked"]
    assert view["id_number_masked"] == receipt["id_number_masked"]
    assert view["mobile_masked"] == receipt["mobile_masked"]
    assert sorted(view["fields"]) == ["id_number", "mobile", "name"]
    assert view["destroyed"] is False
    assert view["registered_at"] == "2026-12-01T10:00:00+08:00"
    for plain in ("张三丰", resident_id(), "13800138000"):
        assert plain not in answer.text


def test_a_bad_resident_id_number_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient,
) -> None:
    before = log_length(client)
    good = resident_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")  # wrong check character
    answer = client.post("/subjects", json={"kind": "person", "name": "李四", "id_number": bad})
    error = error_of(answer, 422)
    assert error["field"] == "id_number"
    assert error["code"] == "invalid_identifier"
    assert bad not in answer.text
    assert "李四" not in answer.text
    assert log_length(client) == before


def test_a_missing_name_is_refused_by_shape_with_the_field_named(client: TestClient) -> None:
    error = error_of(client.post("/subjects", json={"kind": "person"}), 422)
    assert error["field"] == "name"
    assert error["code"] == "invalid_input"


def test_an_unknown_field_is_refused(client: TestClient) -> None:
    answer = client.post("/subjects", json={"kind": "person", "name": "王五", "email": "w@x.cn"})
    error = error_of(answer, 422)
    assert error["field"] == "email"
    assert "w@x.cn" not in answer.text
    assert "王五" not in answer.text


def test_an_unknown_subject_is_404(client: TestClient) -> None:
    error = error_of(client.get("/subjects/3f1d1e4c-2a9b-4c8e-9d7f-0a1b2c3d4e5f"), 404)
    assert error["code"] == "not_found"
