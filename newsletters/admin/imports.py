"""CSV imports: upload, preview, go-ahead, then progress as the task runs."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from newsletters import importing
from newsletters.models import SubscriberImport
from stories.models import Newsletter

IMPORT_PERMISSION = "newsletters.import_subscribers"


class UploadForm(forms.Form):
    newsletter = forms.ModelChoiceField(queryset=Newsletter.objects.all())
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV whose first line names the columns: 'email' and, if you have it, "
        "'name'. Up to 25 MB (several hundred thousand rows).",
    )
    consent_basis = forms.CharField(
        label="Consent basis",
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=20,
        help_text="How these people agreed to get this newsletter, e.g. 'Signed up on the "
        "conference registration form on 3 March 2025, which offered The Weekly Radar "
        "with an unticked box.' Kept with every subscription the import makes.",
    )
    confirm = forms.BooleanField(
        label="Everyone in this file gave that consent, and none of them asked us to stop.",
        error_messages={"required": "An import needs your confirmation of the consent basis."},
    )

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is not None:
            if upload.size > importing.MAX_BYTES:
                raise forms.ValidationError(
                    f"The file is larger than {importing.MAX_BYTES // (1024 * 1024)} MB; "
                    "split it into smaller files."
                )
            try:
                cleaned["text"] = importing.decode(upload.read())
                importing.check_header(cleaned["text"])
            except importing.ImportProblem as problem:
                raise forms.ValidationError(str(problem)) from None
        return cleaned


@admin.register(SubscriberImport)
class SubscriberImportAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "newsletter",
        "status",
        "progress",
        "created_count",
        "merged_count",
        "suppressed_count",
        "error_count",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "newsletter"]
    list_select_related = ["newsletter", "created_by"]

    @admin.display(description="progress")
    def progress(self, obj):
        return f"{obj.percent_done}%"

    def has_add_permission(self, request):
        return request.user.has_perm(IMPORT_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/start/", view(self.start_view), name="newsletters_subscriberimport_start"
            ),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            job = SubscriberImport.objects.create(
                newsletter=form.cleaned_data["newsletter"],
                file_name=form.cleaned_data["file"].name[:255],
                data=form.cleaned_data["text"],
                consent_basis=form.cleaned_data["consent_basis"],
                created_by=request.user,
            )
            return redirect("admin:newsletters_subscriberimport_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import subscribers from CSV",
            "form": form,
        }
        return TemplateResponse(request, "admin/newsletters/subscriberimport/upload.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        if job is None:
            raise Http404("No such import.")
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        preview = None
        problem = None
        if job.status == SubscriberImport.Status.PREVIEWED:
            try:
                preview = importing.preview(job)
            except importing.ImportProblem as error:
                problem = str(error)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Import of {job.file_name}",
            "job": job,
            "preview": preview,
            "problem": problem,
            "may_start": request.user.has_perm(IMPORT_PERMISSION),
            "running": job.status
            in (SubscriberImport.Status.QUEUED, SubscriberImport.Status.RUNNING),
        }
        return TemplateResponse(request, "admin/newsletters/subscriberimport/detail.html", context)

    def start_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        from newsletters.tasks import run_subscriber_import

        with transaction.atomic():
            job = SubscriberImport.objects.select_for_update().filter(pk=pk).first()
            if job is None:
                raise Http404("No such import.")
            if job.status != SubscriberImport.Status.PREVIEWED:
                messages.info(request, "This import has already been started.")
            else:
                job.status = SubscriberImport.Status.QUEUED
                job.save(update_fields=["status"])
                transaction.on_commit(lambda: run_subscriber_import.enqueue(job.pk))
                self.log_addition(request, job, "Started the import.")
                messages.success(request, "The import has started; this page shows its progress.")
        return redirect(reverse("admin:newsletters_subscriberimport_change", args=[pk]))
