"""The OpenAPI document: every operation named, its refusals documented, the contract's models reused."""

from __future__ import annotations

from api_harness import Api


async def test_every_operation_has_a_unique_name_and_documents_its_refusals(api: Api) -> None:
    response = await api.client.get("/openapi.json")
    schema = response.json()
    assert schema["openapi"].startswith("3.1") and schema["info"]["version"] == "test-version"
    operations = [op for path in schema["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) and "list_runs" in ids and "create_cron" in ids
    for op in operations:
        if op["tags"] == ["Server"] or op["operationId"] == "receive_webhook":
            # no bearer token: the server's own routes, and a webhook's requests (verified its own way)
            assert op.get("security") is None
            continue
        assert op["security"] == [{"HTTPBearer": []}], op["operationId"]
        for status in ("401", "403", "422"):
            content = op["responses"][status]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/ErrorBody"}, (op["operationId"], status)


async def test_request_bodies_are_the_wire_contracts_models(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]

    def body(path: str, method: str = "post") -> str:
        return str(paths[path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"])

    assert body("/api/v1/workflow-runs/trigger").endswith("/TriggerRequest")
    assert body("/api/v1/events").endswith("/PushEventRequest")
    assert body("/api/v1/filters").endswith("/CreateFilterRequest")
    assert body("/api/v1/crons").endswith("/CreateCronRequest")
    assert body("/api/v1/webhooks").endswith("/WebhookDefinition")


async def test_the_docs_page_is_served(api: Api) -> None:
    response = await api.client.get("/docs")
    assert response.status_code == 200 and "/openapi.json" in response.text
