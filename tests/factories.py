"""factory_boy factories shared by every test folder."""

from __future__ import annotations

import io

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from PIL import Image as PILImage

from annotator.models import Instruction, Task, TaskSplit
from pipeline.media.images import store_image
from pipeline.models import Sample, SampleImage
from pipeline.samples import counts


def _role(default: str | None) -> factory.PostGeneration:
    """Put the user in a role group: `UserFactory(role="reviewer")`, or the factory's default role."""

    def add(user: object, create: bool, extracted: str | None, **kwargs: object) -> None:
        name = extracted or default
        if name:
            user.groups.add(Group.objects.get_or_create(name=name)[0])

    return factory.PostGeneration(add)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")
    role = _role(None)


class AnnotatorFactory(UserFactory):
    username = factory.Sequence(lambda n: f"annotator{n}")
    role = _role("annotator")


class ReviewerFactory(UserFactory):
    username = factory.Sequence(lambda n: f"reviewer{n}")
    role = _role("reviewer")


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"task-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    group = "vqa"
    folder = "vqa"
    task_dir = factory.LazyAttribute(lambda o: o.slug)

    @factory.post_generation
    def splits(self, create: bool, extracted: object, **kwargs: object) -> None:
        for split in ("train", "val", "test"):
            TaskSplit.objects.get_or_create(task=self, split=split)


class InstructionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instruction

    task = factory.SubFactory(TaskFactory)
    text = factory.Sequence(lambda n: f"Instruction number {n}: answer the question about the image.")
    position = factory.Sequence(lambda n: n)


def png_bytes(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (16, 12)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


class SampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sample
        skip_postgeneration_save = True

    task = factory.SubFactory(TaskFactory)
    split = "train"
    source_id = factory.Sequence(lambda n: f"src-{n}")
    inputs = "What colour is the square?"
    outputs = "red"
    original_output = "red"

    @factory.post_generation
    def image(self, create: bool, extracted: bytes | None, **kwargs: object) -> None:
        data = extracted or png_bytes((self.pk * 37 % 256, 90, 120))
        SampleImage.objects.create(sample=self, image=store_image(data), position=0)
        counts.inserted([self])  # the split's counters, as every writer of samples keeps them
