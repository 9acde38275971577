"""django-oauth-toolkit's endpoints under /o/ (token: /o/token/, revocation: /o/revoke_token/)."""

from django.urls import include, path

urlpatterns = [path("o/", include("oauth2_provider.urls", namespace="oauth2_provider"))]
