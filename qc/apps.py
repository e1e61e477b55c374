from django.apps import AppConfig


class QcConfig(AppConfig):
    name = "qc"
    default_auto_field = "django.db.models.BigAutoField"
