"""Participant writes refused by `access` (closed study, withdrawn, no consent) become one
clear page, whichever view tried the write."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import WriteRefused


class WriteRefusedMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, WriteRefused):
            return None
        context = {"code": exception.code, "message": exception.message}
        return render(request, "elicitation/refused.html", context, status=403)
