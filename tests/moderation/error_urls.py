"""A URLconf for tests/moderation/test_error_mapping.py: a page and an API view that raise the domain error
kind their URL names, so each edge's one mapping is tested on its own."""

from django.urls import path
from rest_framework.views import APIView

from moderation.errors import Conflict, Forbidden, Invalid, NotFound

KINDS = {"not-found": NotFound, "forbidden": Forbidden, "conflict": Conflict, "invalid": Invalid}


def _refuse(kind: str):
    raise KINDS[kind](f"Refused ({kind}).", field="thing", existing=7 if kind == "conflict" else None)


def page(request, kind):
    _refuse(kind)


class ApiRefusal(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def get(self, request, kind):
        _refuse(kind)


urlpatterns = [
    path("page/<str:kind>/", page),
    path("api/v1/refuse/<str:kind>/", ApiRefusal.as_view()),
]
