"""Error answers people see: the status, one sentence of why, the page still framed by its
shop (``frame_ancestors`` runs after these too) and never a stack trace. The webhook intake
answers its own statuses in plain text and is not touched."""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

TITLES = {400: "That request cannot be used", 403: "Not allowed", 404: "Not found", 405: "Not allowed", 409: "Changed meanwhile"}


def problem_page(error: HTTPException) -> tuple[str, int]:
    """The page of ``error``: its title, its description as the one sentence of why."""
    title = TITLES.get(error.code or 500, error.name)
    return render_template("problem.html", title=title, detail=error.description), error.code or 500


def install(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def page(error: HTTPException):
        if request.path.startswith("/webhooks"):
            return error
        return problem_page(error)
