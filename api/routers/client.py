"""What the web client needs to know about this deployment before anyone signs in: whether it
asks for an API key at all (keyless mode never prompts), where the Temporal Web UI is (each
session links to its workflow there), and which optional endpoints this API serves, so a
control whose endpoint is missing is shown disabled instead of failing when pressed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.security import host_name

router = APIRouter(prefix="/v1", tags=["catalog"])

#: feature name -> (method, path) of the endpoint that provides it
FEATURES = {
    "cancel": ("POST", "/v1/sessions/{session_id}/turns/current/cancel"),
    "rename": ("PATCH", "/v1/sessions/{session_id}"),
}


class ClientConfig(BaseModel):
    keys_required: bool
    temporal_ui: str | None
    namespace: str
    features: list[str]


def _served(request: Request, method: str, path: str) -> bool:
    # the app's own OpenAPI paths (built once, then cached by FastAPI): what a client can call
    return method.lower() in request.app.openapi()["paths"].get(path, {})


@router.get("/client", response_model=ClientConfig)
async def client_config(request: Request) -> ClientConfig:
    """No secrets: answered without a key, so the page can tell keyless mode from a missing key."""
    settings = request.app.state.settings
    if settings.temporal_ui_origin:
        ui: str | None = settings.temporal_ui_origin.rstrip("/")
    elif settings.temporal_ui_port:
        # the UI runs next to the API (`impressox up`): same host name as the page, its own port
        ui = f"{request.url.scheme}://{host_name(request.headers.get('host', '127.0.0.1'))}:{settings.temporal_ui_port}"
    else:
        ui = None
    return ClientConfig(
        keys_required=bool(request.app.state.keys),
        temporal_ui=ui,
        namespace=settings.temporal_namespace,
        features=[name for name, (method, path) in FEATURES.items() if _served(request, method, path)],
    )
