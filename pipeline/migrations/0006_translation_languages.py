"""Seed the 80 languages of M3IT-80 (paper Table 9). Later languages are rows added by admins."""

from django.db import migrations


def seed(apps, schema_editor):
    from pipeline.translation.languages import seed_rows

    Language = apps.get_model("pipeline", "Language")
    existing = set(Language.objects.values_list("code", flat=True))
    Language.objects.bulk_create([Language(**row) for row in seed_rows() if row["code"] not in existing])


def unseed(apps, schema_editor):
    from pipeline.translation.languages import PAPER_LANGUAGES

    Language = apps.get_model("pipeline", "Language")
    Language.objects.filter(code__in=[code for code, _, _ in PAPER_LANGUAGES], translations__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0005_translation")]
    operations = [migrations.RunPython(seed, unseed)]
