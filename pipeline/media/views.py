"""Stored images, served by their sha256."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views import View

from annotator import roles
from pipeline.media.images import ALLOWED_FORMATS
from pipeline.models import Image

CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif", "BMP": "image/bmp"}


class ImageFileView(LoginRequiredMixin, View):
    """Serves a stored image by its sha256 to people with a role. Content-addressed, so cached forever."""

    def get(self, request: HttpRequest, sha256: str) -> HttpResponse:
        if not roles.roles_of(request.user):
            raise Http404
        image = get_object_or_404(Image, sha256=sha256)
        if image.format not in ALLOWED_FORMATS:
            raise Http404
        response = FileResponse(default_storage.open(image.file.name, "rb"), content_type=CONTENT_TYPES[image.format])
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        response["X-Content-Type-Options"] = "nosniff"
        return response
