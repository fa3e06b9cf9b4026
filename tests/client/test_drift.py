"""The SDK agrees with the OpenAPI document: its generated models are what the current
document generates, every operation has a client method (and every client method a route), and
each method's result is the model the document names for its success answer."""

from __future__ import annotations

import typing
from typing import Any

import pydantic
import pytest
from fastapi import FastAPI

from roo.app import create_app
from roo.client import Operations
from roo.client._core import Call, operation
from roo.client.client import BROWSER_ONLY
from roo.config import Settings
from tests.client.generate_models import MODELS, generate, openapi_document

METHODS = {"get", "put", "post", "delete", "patch"}


def client_routes() -> dict[tuple[str, str], list[operation[Any, Any]]]:
    routes: dict[tuple[str, str], list[operation[Any, Any]]] = {}
    for value in vars(Operations).values():
        if isinstance(value, operation):
            routes.setdefault((value.method, value.template), []).append(value)
    return routes


def uncovered(document: dict[str, Any]) -> set[tuple[str, str]]:
    """The document's operations that no client method calls."""
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    return operations - set(client_routes()) - BROWSER_ONLY


def schema_name(ref: str) -> str:
    """`#/components/schemas/Page_SessionOut_` -> `PageSessionOut`, as the generator names it."""
    return ref.rsplit("/", 1)[1].replace("_", "")


def test_the_generated_models_are_current() -> None:
    assert generate() == MODELS.read_text(), (
        "src/roo/client/models.py differs from what the OpenAPI document generates: "
        "run `.venv/bin/python -m tests.client.generate_models` and update the client"
    )


def test_every_operation_has_a_client_method_and_every_method_a_route() -> None:
    document = openapi_document()
    assert uncovered(document) == set()
    in_document = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert set(client_routes()) - in_document == set()


def test_a_route_added_without_the_client_is_reported() -> None:
    """The check above fails when a route changes without the client: a new route, or one
    whose path changed."""
    app: FastAPI = create_app(Settings(_env_file=None))  # type: ignore[call-arg]

    @app.get("/api/v1/sessions/{session_id}/snapshots")
    async def snapshots(session_id: str) -> dict[str, str]:
        return {}

    assert uncovered(app.openapi()) == {("GET", "/api/v1/sessions/{session_id}/snapshots")}


def test_each_method_returns_the_model_the_document_names() -> None:
    document = openapi_document()
    checked = 0
    for (method, path), ops in client_routes().items():
        responses = document["paths"][path][method.lower()]["responses"]
        success = [r for code, r in responses.items() if code.startswith("2")]
        refs: set[str] = set()
        for response in success:
            for media in (response.get("content") or {}).values():
                schema = media.get("schema") or {}
                if "$ref" in schema:
                    refs.add(schema_name(schema["$ref"]))
                elif "$ref" in schema.get("items", {}):
                    refs.add(f"list[{schema_name(schema['items']['$ref'])}]")
                for option in schema.get("anyOf", []):
                    if "$ref" in option:
                        refs.add(schema_name(option["$ref"]))
        for op in ops:
            result = typing.get_type_hints(op.build)["return"]
            assert typing.get_origin(result) is Call, op.__name__
            (model,) = typing.get_args(result)
            if isinstance(model, type) and model.__module__ == "roo.client.models":
                assert model.__name__ in refs, (op.__name__, model.__name__, refs)
                checked += 1
            elif typing.get_origin(model) is list:
                (item,) = typing.get_args(model)
                assert f"list[{item.__name__}]" in refs, (op.__name__, refs)
                checked += 1
            else:  # None for 204, a file's bytes (Download), the cancel's JSON
                assert not refs or op.__name__ in {"download_file", "cancel"}, (op.__name__, refs)
    assert checked >= 40


def test_each_method_sends_the_body_the_document_names() -> None:
    """A JSON body is validated by the model of the document's requestBody schema; a route
    whose document takes JSON by a schema has that model in the client, and a route that takes
    none sends none."""
    document = openapi_document()
    for (method, path), ops in client_routes().items():
        request = document["paths"][path][method.lower()].get("requestBody", {})
        schema = request.get("content", {}).get("application/json", {}).get("schema", {})
        for op in ops:
            if "$ref" in schema:
                assert op.body is not None, (op.__name__, schema)
                assert op.body.__name__ == schema_name(schema["$ref"]), op.__name__
            else:
                assert op.body is None, (op.__name__, "the document has no JSON schema")


def test_a_body_the_document_refuses_fails_before_it_is_sent() -> None:
    with pytest.raises(pydantic.ValidationError):
        Operations.create_task.call(None, "5b7c0000-0000-0000-0000-000000000000", "x" * 200_000)
    approval = "0e1f0000-0000-0000-0000-000000000000"
    built = Operations.approve.call(None, "s", "t", approval, always=True)
    assert (built.method, built.url) == ("PUT", "/api/v1/sessions/s/tasks/t")
    assert built.json == {"action": "approve_always", "approvalId": approval}
    with pytest.raises(pydantic.ValidationError):  # not a UUID
        Operations.approve.call(None, "s", "t", "a")
