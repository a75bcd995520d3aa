"""The interactive API page: every operation of the OpenAPI document, with a form to try it."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__)
METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec: dict) -> list[dict]:
    """Flat list of operations (method, path, summary, parameters, body, responses)."""
    out = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
            out.append({
                "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "method": method.upper(), "path": path,
                "summary": op.get("summary") or "", "description": op.get("description") or "",
                "params": [{"name": p.get("name"), "in": p.get("in"),
                            "required": p.get("required", False)} for p in params],
                "body_ref": ((body or {}).get("schema") or {}).get("$ref", "").rsplit("/", 1)[-1],
                "responses": sorted((str(k), v.get("description", ""))
                                    for k, v in (op.get("responses") or {}).items()),
            })
    return out


@bp.get("/api/docs")
def docs():
    """HTML documentation of the REST API with a small request form."""
    spec = current_app.extensions["lotse_api"].spec.to_dict()
    return render_template("api_docs.html", ops=operations(spec), spec=spec, nav="api")
