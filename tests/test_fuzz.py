"""API fuzzing with schemathesis over the OpenAPI schema: no 5xx, every error is problem+json."""

from __future__ import annotations

import os
import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import sign_in

pytestmark = pytest.mark.slow

COUNT = {"requests": 0}
# examples per operation: 40 in CI; GEO_FUZZ_EXAMPLES=400 for a longer hunt by hand
EXAMPLES = int(os.environ.get("GEO_FUZZ_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def fuzz_app(demo_gpkg, tmp_path_factory):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    path = tmp_path_factory.mktemp("fuzz") / "w.gpkg"
    shutil.copy(demo_gpkg, path)
    client = TestClient(create_app(Settings(workspace=path, computation_timeout_s=20)))
    client.__enter__()
    token = sign_in(client)
    yield client.app, token
    client.__exit__(None, None, None)
    print(f"\nschemathesis sent {COUNT['requests']} requests")


def test_api_never_fails_with_5xx(fuzz_app):
    """Up to 40 generated requests for every operation (over 1,000 in all), signed in as an admin."""
    app, token = fuzz_app
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, headers={"Authorization": f"Bearer {token}"}
    )
    # heavy computations and whole-workspace operations are covered by their own bounded tests
    schema = schema.exclude(
        path_regex=r"^/(maps/.*\.\{fmt\}|backup/restore|plans/snow$|export$|backup$|"
        r"coverage/service-areas|planning/sites)"
    )
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case):
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            COUNT["requests"] += 1
            where = f"{case.method} {case.formatted_path} -> {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.text[:200]}")
            elif response.status_code >= 400:
                ctype = response.headers.get("content-type", "")
                ctype = ctype[0] if isinstance(ctype, list) else ctype
                if not ctype.startswith("application/problem+json"):
                    failures.append(f"{where}: not problem+json")
                elif not (response.json().get("detail_zh") and response.json().get("detail_en")):
                    failures.append(f"{where}: no zh/en detail")

        run()
    assert failures == [], failures[:10]
    assert COUNT["requests"] >= 1000
