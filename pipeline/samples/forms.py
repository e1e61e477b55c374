"""The samples browser's filters."""

from __future__ import annotations

from django import forms

from annotator.models import Split, Task
from pipeline.models import ParaphraseState, SampleQCState


class SampleFilterForm(forms.Form):
    task = forms.ModelChoiceField(
        queryset=Task.objects.order_by("slug"), to_field_name="slug", required=False, empty_label="all tasks"
    )
    split = forms.ChoiceField(choices=[("", "all splits"), *Split.choices], required=False)
    paraphrase_state = forms.ChoiceField(
        choices=[("", "any paraphrase state"), *ParaphraseState.choices], required=False
    )
    qc_state = forms.ChoiceField(choices=[("", "any QC state"), *SampleQCState.choices], required=False)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    before = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
