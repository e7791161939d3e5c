"""What a browser loads: the web client (built from web/ into web/dist), its icon, and the API
docs with assets served from here.

The Swagger UI and ReDoc assets come from the ``fastapi-offline`` package (no CDN), so ``/docs``
works on a machine without internet, and each page's CSP allows only this origin.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from api.security import csp_for
from core.settings import PROJECT_ROOT

WEB_DIR = PROJECT_ROOT / "web"
#: `npm --prefix web run build` (run by `make setup`) writes the client here; not committed
WEB_DIST = WEB_DIR / "dist"
NOT_BUILT = (
    "<p>The web client is not built: run <code>make setup</code> "
    "(or <code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>); "
    "the API docs are at <a href='/docs'>/docs</a>.</p>"
)
DOCS_ASSETS_URL = "/static/docs"
DOCS_ASSETS_DIR = files("fastapi_offline") / "static"
FAVICON = "/favicon.ico"
#: Swagger UI would otherwise load a badge from the public validator service
SWAGGER_PARAMETERS = {"validatorUrl": None}

router = APIRouter(include_in_schema=False)


def html_page(html: str, inline_styles: bool = False) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": csp_for(html, inline_styles)})


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def web_client() -> HTMLResponse:
    """The React client's one page (its views live in the URL's #fragment, so a reload reopens
    the same session); its scripts and styles are files under /assets, allowed by 'self'."""
    page = WEB_DIST / "index.html"
    if page.exists():
        return html_page(page.read_text())
    return html_page(NOT_BUILT)


@router.get(FAVICON)
async def favicon() -> Response:
    icon = WEB_DIR / "public" / "favicon.ico"
    return Response(icon.read_bytes(), media_type="image/x-icon")


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{FAVICON}",
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )
    return html_page(bytes(page.body).decode(), inline_styles=True)


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{FAVICON}",
        with_google_fonts=False,
    )
    return html_page(bytes(page.body).decode(), inline_styles=True)


def install(app: FastAPI) -> None:
    """Add the pages and the docs assets (the app is made with docs_url=None, redoc_url=None)."""
    app.include_router(router)
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=str(DOCS_ASSETS_DIR)), name="docs-assets")
    # the client's hashed bundles; check_dir=False: a build made after start-up is served too
    app.mount("/assets", StaticFiles(directory=str(WEB_DIST / "assets"), check_dir=False), name="web-assets")
