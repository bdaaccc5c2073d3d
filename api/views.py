from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


@extend_schema(exclude=True)
class NotFoundView(APIView):
    """Answers every method on an unknown API URL with a 404 in the error shape: having no
    handlers, every method lands in http_method_not_allowed."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise NotFound()

    def options(self, request, *args, **kwargs):
        raise NotFound()
