"""Lists answer {"data": [...], "total": N, "page": P, "totalPages": T}.

`page` (from 1) and `limit` (1..MAX_LIMIT, default DEFAULT_LIMIT) come from the query string;
a bad value is a 400 in the usual error shape, a page past the end an empty `data`.
"""

from __future__ import annotations

import math

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class PageParamsSerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT, required=False)


class PagePagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        params = PageParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        self.page = params.validated_data["page"]
        self.limit = params.validated_data["limit"]
        self.total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        start = (self.page - 1) * self.limit
        return list(queryset[start : start + self.limit])

    def get_paginated_response(self, data):
        return Response(
            {
                "data": data,
                "total": self.total,
                "page": self.page,
                "totalPages": math.ceil(self.total / self.limit) if self.total else 0,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["data", "total", "page", "totalPages"],
            "properties": {
                "data": schema,
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "totalPages": {"type": "integer", "minimum": 0},
            },
        }

    def get_schema_operation_parameters(self, view):
        # drf-spectacular reads these for the list operation's query parameters.
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Items per page, 1 to {MAX_LIMIT}.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            },
        ]
