"""The audit endpoints: signed heads, proofs that verify, and a bundle that verifies offline."""

from __future__ import annotations

import base64
from pathlib import Path

from crypto.merkle import leaf_hash
from crypto.proofs import verify_consistency, verify_inclusion
from crypto.signing import HeadVerifier, TreeHead
from replay.bundle import verify_bundle
from tests.e2e.support import TestClient, open_ticket, register_person


def seal_now(client: TestClient) -> dict:
    sealer = client.app.state.sealer
    sealer.seal_once(force=True)
    answer = client.get("/audit/tree-head")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_tree_head_is_signed_by_the_published_key(client: TestClient) -> None:
    open_ticket(client, register_person(client)["id"])
    head = seal_now(client)
    key = client.get("/audit/public-key").json()
    verifier = HeadVerifier(base64.b64decode(key["public_key"]))
    assert key["key_id"] == head["key_id"] == verifier.key_id
    verifier.verify(TreeHead.from_dict(head))
    assert head["tree_size"] == client.get("/health").json()["log_length"]


def test_an_inclusion_proof_verifies_against_the_signed_root(client: TestClient) -> None:
    open_ticket(client, register_person(client)["id"])
    head = seal_now(client)
    proof = client.get("/audit/inclusion/2", params={"tree_size": head["tree_size"]}).json()
    verify_inclusion(
        proof["leaf_index"],
        head["tree_size"],
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(head["root_hash"]),
    )
    assert proof["leaf_hash"] != leaf_hash(b"").hex()


def test_a_consistency_proof_links_two_signed_heads(client: TestClient) -> None:
    person = register_person(client)
    first = seal_now(client)
    open_ticket(client, person["id"])
    second = seal_now(client)
    answer = client.get(
        "/audit/consistency", params={"first": first["tree_size"], "second": second["tree_size"]}
    )
    body = answer.json()
    verify_consistency(
        first["tree_size"],
        second["tree_size"],
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]),
        [bytes.fromhex(h) for h in body["proof"]],
    )


def test_the_bundle_endpoint_serves_a_bundle_that_verifies_offline(
    client: TestClient, tmp_path: Path
) -> None:
    open_ticket(client, register_person(client)["id"])
    head = seal_now(client)
    answer = client.get("/audit/bundle", params={"first": 0, "second": head["tree_size"]})
    assert answer.status_code == 200
    path = tmp_path / "bundle.jsonl"
    path.write_bytes(answer.content)
    report = verify_bundle(path, trusted_head=head)
    assert report.ok, report.problems


def test_a_proof_for_an_unsealed_position_is_404_and_a_bad_range_422(client: TestClient) -> None:
    seal_now(client)
    assert client.get("/audit/inclusion/999999").status_code == 404
    bad = client.get("/audit/consistency", params={"first": 5, "second": 2})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "first"


def test_the_audit_endpoints_need_a_token(anonymous: TestClient) -> None:
    assert anonymous.get("/audit/tree-head").status_code == 401
