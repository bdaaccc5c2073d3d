"""Catalog API: product listing and search, product detail with live availability,
categories. Reads only, open to everyone."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import error_responses
from api.pagination import PagePagination
from catalog.cache import listing_cached, product_cached
from catalog.selectors import categories_with_products
from inventory.selectors import product_detail, product_search, search_suggestion
from kernel.replica import replica_view

from .serializers import CategorySerializer, ProductDetailSerializer, ProductListItemSerializer, ProductQuerySerializer


class SearchPagination(PagePagination):
    """The product list's pages with `suggestion`: for a search that found nothing, the
    words it probably meant ("shrit" → "shirt", catalog.search's trigram suggestion, as the
    listing page's "Did you mean"), else null."""

    suggestion: str | None = None

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["suggestion"] = self.suggestion
        return response

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["required"].append("suggestion")
        answer["properties"]["suggestion"] = {
            "type": "string",
            "nullable": True,
            "description": "With q and no product found: the search it probably meant (ask it with q), else null.",
        }
        return answer


class ProductListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ProductListItemSerializer
    pagination_class = SearchPagination
    q = ""

    def get_queryset(self):
        params = ProductQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.filters()
        self.q = filters.q
        return product_search(filters)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if self.q and not self.paginator.total:
            self.paginator.suggestion = search_suggestion(self.q)
        return page

    @extend_schema(
        tags=["catalog"],
        summary="Search and filter published products",
        parameters=[ProductQuerySerializer],
        responses={200: ProductListItemSerializer(many=True), **error_responses(400)},
    )
    @replica_view
    def get(self, request, *args, **kwargs):
        # The page's JSON from the catalog page cache (catalog/cache.py), keyed by the query
        # and the host (image URLs are absolute); a bad query raises before anything is stored.
        data = listing_cached(
            "api-list",
            [request.build_absolute_uri("/"), sorted(request.query_params.lists())],
            lambda: super(ProductListView, self).get(request, *args, **kwargs).data,
        )
        return Response(data)


class ProductDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["catalog"],
        summary="A product with its variants (live availability) and images",
        responses={200: ProductDetailSerializer, **error_responses(404)},
    )
    @replica_view
    def get(self, request, handle: str):
        product = product_cached(handle, lambda: product_detail(handle))
        if product is None:
            raise Http404
        return Response(ProductDetailSerializer(product, context={"request": request}).data)


class CategoryListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = CategorySerializer

    def get_queryset(self):
        return categories_with_products()

    @extend_schema(
        tags=["catalog"],
        summary="Categories that have published products",
        responses={200: CategorySerializer(many=True), **error_responses(400)},
    )
    @replica_view
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
