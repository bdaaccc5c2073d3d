from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product_list"),
    # Handles are slugs; anything else (e.g. a NUL byte, which PostgreSQL refuses) is 404.
    path("products/<slug:handle>/", views.ProductDetailView.as_view(), name="product_detail"),
    path("categories/", views.CategoryListView.as_view(), name="category_list"),
]
