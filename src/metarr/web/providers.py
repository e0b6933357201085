"""Providers: per provider state, settings (write-only key), key test and 24 h usage;
field priorities and per-type artwork limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metarr.domain.errors import InvalidInput, NotFound
from metarr.services.providers import KeyTest, ProviderSettingsService, ProviderView
from metarr.web.deps import is_htmx, services
from metarr.web.rendering import not_found, render
from metarr.web.session import require_csrf, require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])
csrf = [Depends(require_csrf)]

# state -> (label, badge class)
STATES: dict[str, tuple[str, str]] = {
    "ok": ("OK", "ok"),
    "no_key": ("No key", "muted"),
    "disabled": ("Disabled", "muted"),
    "key_invalid": ("Key invalid", "err"),
    "circuit_open": ("Circuit open", "warn"),
}
SOURCE_LABELS = {"nfo": "NFO file", "tmdb": "TMDB", "fanart": "fanart.tv", "omdb": "OMDb"}
# Text settings of the card form: a blank field removes the saved value.
_TEXT = ("language", "region", "certification_country", "base_url")


def _form(raw: Mapping[str, Any]) -> dict[str, str]:
    return {key: value for key, value in raw.items() if isinstance(value, str)}


def card_changes(view: ProviderView, form: Mapping[str, str]) -> dict[str, Any]:
    """The settings a submitted card changes (unchanged fields are not saved as overrides)."""
    settings = view.settings
    changes: dict[str, Any] = {}
    enabled = bool(form.get("enabled"))
    if enabled != settings.enabled:
        changes["enabled"] = enabled
    key = form.get("api_key", "").strip()
    if key:
        changes["api_key"] = key
    elif form.get("remove_key") and settings.key_source == "db":
        changes["api_key"] = None
    for name in _TEXT:
        if name not in form:
            continue
        value = form[name].strip()
        current = getattr(settings, name) or ""
        if value == current:
            continue
        changes[name] = value if value else None
    if "rate_limit" in form:
        raw = form["rate_limit"].strip()
        if raw == "":
            changes["rate_limit"] = None
        else:
            try:
                number = float(raw)
            except ValueError:
                changes["rate_limit"] = raw  # refused by the service, beside its field
            else:
                if number != settings.rate_limit:
                    changes["rate_limit"] = number
    return changes


def priorities_changes(
    form: Mapping[str, Any], fields: tuple[str, ...], positions: int
) -> dict[str, list[str]]:
    """`{field: [source, ...]}` from the priority table's selects (`<field>.<position>`)."""
    out: dict[str, list[str]] = {}
    for name in fields:
        order = [str(form.get(f"{name}.{i}", "")).strip() for i in range(positions)]
        chosen = [s for s in order if s]
        if chosen:
            out[name] = chosen
    return out


def limits_changes(form: Mapping[str, Any], types: list[str]) -> dict[str, Any]:
    """`{type: n}` from the limits form; a number that is not whole stays text (refused)."""
    out: dict[str, Any] = {}
    for kind in types:
        raw = str(form.get(f"limit.{kind}", "")).strip()
        if raw == "":
            continue
        try:
            out[kind] = int(raw)
        except ValueError:
            out[kind] = raw
    return out


def _card_context(
    view: ProviderView,
    *,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    test: KeyTest | None = None,
) -> dict[str, Any]:
    return {"p": view, "errors": dict(errors or {}), "form": form, "test": test}


@dataclass(frozen=True, slots=True)
class _Table:
    """One of the tables under the cards (field priorities, artwork limits), saved on its own."""

    values: str  # the context key of its current values
    load: Callable[[ProviderSettingsService], object]  # those values
    prefix: str  # of its context keys `<prefix>_errors` and `<prefix>_form`
    template: str  # its fragment under partials/
    anchor: str  # its id on the page
    saved: str  # the toast

    def context(
        self,
        svc: ProviderSettingsService,
        errors: Mapping[str, str] | None = None,
        form: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Its template context: the values, refused fields, what was submitted."""
        return {
            self.values: self.load(svc),
            f"{self.prefix}_errors": dict(errors or {}),
            f"{self.prefix}_form": form,
        }


_PRIORITIES = _Table(
    "priorities",
    ProviderSettingsService.priorities,
    "priority",
    "provider_priorities.html",
    "priorities",
    "Priorities saved.",
)
_LIMITS = _Table(
    "limits",
    ProviderSettingsService.asset_limits,
    "limit",
    "provider_limits.html",
    "asset-limits",
    "Artwork limits saved.",
)


def page_context(
    svc: ProviderSettingsService, *, cards: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Everything the providers page shows."""
    views = svc.list()
    return {
        "cards": [{**_card_context(v), **(cards or {}).get(v.name, {}), "p": v} for v in views],
        **_PRIORITIES.context(svc),
        **_LIMITS.context(svc),
    }


def _shared() -> dict[str, Any]:
    return {"states": STATES, "source_labels": SOURCE_LABELS}


def _page(request: Request, context: Mapping[str, Any], status_code: int = 200) -> HTMLResponse:
    return render(request, "providers.html", {**_shared(), **context}, status_code=status_code)


def _missing(request: Request, name: str) -> HTMLResponse:
    return not_found(request, f"There is no provider named {name!r}.")


@router.get("/providers")
def providers_page(request: Request) -> HTMLResponse:
    """Every provider as a card, the field priorities and the artwork limits."""
    return _page(request, page_context(services(request).providers))


@router.post("/providers/priorities", dependencies=csrf)
async def save_priorities(request: Request) -> Response:
    """Save the priority table; a refused row comes back with its error (422)."""
    svc = services(request).providers
    form = await request.form()
    current = svc.priorities()
    changes = priorities_changes(form, tuple(current.fields), len(current.sources))
    if form.get("reset"):
        changes = {}
    return _save_table(request, svc, _PRIORITIES, form, lambda: svc.set_priorities(changes))


@router.post("/providers/asset-limits", dependencies=csrf)
async def save_limits(request: Request) -> Response:
    """Save the artwork limits; a refused number comes back beside its field (422)."""
    svc = services(request).providers
    form = await request.form()
    changes = limits_changes(form, list(svc.asset_limits().limits))
    if form.get("reset"):
        changes = {}
    return _save_table(request, svc, _LIMITS, form, lambda: svc.set_asset_limits(changes))


def _save_table(
    request: Request,
    svc: ProviderSettingsService,
    table: _Table,
    form: Mapping[str, Any],
    save: Callable[[], object],
) -> Response:
    """Run `save`; a refused value comes back beside its field in the page or the table (422)."""
    try:
        save()
    except InvalidInput as exc:
        context = table.context(svc, {exc.field or "form": str(exc)}, _form(form))
        if not is_htmx(request):
            return _page(request, {**page_context(svc), **context}, 422)
        return _fragment(request, table.template, context, status_code=422)
    if not is_htmx(request):
        return RedirectResponse(f"/providers#{table.anchor}", status_code=303)
    return _fragment(request, table.template, table.context(svc), toast=table.saved)


@router.post("/providers/{name}", dependencies=csrf)
async def save_provider(request: Request, name: str) -> Response:
    """Save a provider's card; it applies at once. A refused value shows beside its field."""
    svc = services(request).providers
    try:
        view = svc.get(name)
    except NotFound:
        return _missing(request, name)
    form = _form(await request.form())
    try:
        view = svc.update(name, card_changes(view, form))
    except InvalidInput as exc:
        errors = {exc.field or "form": str(exc)}
        if not is_htmx(request):
            context = page_context(svc, cards={name: {"errors": errors, "form": form}})
            return _page(request, context, 422)
        context = _card_context(view, errors=errors, form=form)
        return _fragment(request, "provider_card.html", context, status_code=422)
    if not is_htmx(request):
        return RedirectResponse(f"/providers#provider-{name}", status_code=303)
    return _fragment(
        request, "provider_card.html", _card_context(view), toast=f"{view.title} saved."
    )


@router.post("/providers/{name}/test", dependencies=csrf)
async def key_test(request: Request, name: str) -> Response:
    """Test the typed key (or the saved one): the result shows in the card, with its state."""
    svc = services(request).providers
    form = _form(await request.form())
    typed = form.get("api_key", "").strip() or None
    try:
        result = svc.test_key(name, typed)
    except NotFound:
        return _missing(request, name)
    except InvalidInput as exc:
        result = KeyTest(False, str(exc), None, svc.get(name).state)
    if not is_htmx(request):
        context = page_context(svc, cards={name: {"test": result}})
        return _page(request, context)
    context = {**_shared(), "p": svc.get(name), "test": result}
    return render(request, "partials/provider_test.html", context)


def _fragment(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    toast: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A card or table of the page for htmx to swap in, with the labels and a toast."""
    context = {**_shared(), **context, "toast": toast}
    return render(request, f"partials/{template}", context, status_code=status_code)
