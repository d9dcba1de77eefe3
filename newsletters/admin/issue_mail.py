"""The email side of the issue admin: the preview of the mail, test sends
and the mail panel on the issue's page.

The content app knows nothing of mail (stories never imports newsletters),
so this app extends the content app's issue admin rather than the other way
round: IssueMailAdmin subclasses stories.admin.issues.IssueAdmin, adds its
own URLs under the issue's, and re-registers Issue with the admin site. Its
change form template extends the content app's and adds the mail panel
below the publication panel; the content app's template has no hook to fill.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from newsletters.delivery import testsend
from stories.admin.issues import IssueAdmin
from stories.editorial import workflow
from stories.models import Issue

GMAIL_CLIP_BYTES = 102 * 1024

# The mail's HTML, framed in the preview page, gets a policy of its own: the
# inline styles mail needs, images from anywhere (as a mail client loads
# them), no script at all, and framing by the admin alone.
MAIL_PREVIEW_CSP = (
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; font-src *; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)


class TestSendForm(forms.Form):
    reviewers = forms.CharField(
        label="Reviewers' addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=f"Up to {testsend.MAX_RECIPIENTS} addresses, separated by commas or lines.",
    )


class IssueMailAdmin(IssueAdmin):
    change_form_template = "admin/newsletters/issue/change_form.html"

    def get_urls(self):
        def view(func, suffix, name):
            return path(
                f"<path:object_id>/{suffix}/",
                self.admin_site.admin_view(func),
                name=f"newsletters_issue_{name}",
            )

        return [
            view(self.mail_preview_view, "mail", "mail_preview"),
            view(self.mail_html_view, "mail/html", "mail_html"),
            view(self.mail_test_view, "mail/test", "mail_test"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        issue = self.get_object(request, unquote(object_id))
        if issue is not None:
            extra_context = {**(extra_context or {}), "mail": self._mail_panel(request, issue)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _mail_panel(self, request, issue) -> dict | None:
        """What the mail panel on the issue's page shows, or None for those
        who may not see the issue's mail."""
        if not testsend.may_preview(request.user):
            return None
        return {
            "preview_url": reverse("admin:newsletters_issue_mail_preview", args=[issue.pk]),
        }

    # -- preview and tests ---------------------------------------------------

    def _issue_for_mail(self, request, object_id) -> Issue:
        issue = self.get_object(request, unquote(object_id))
        if issue is None:
            raise Http404("No such issue.")
        if not self.has_view_permission(request, issue) or not testsend.may_preview(request.user):
            raise PermissionDenied
        return issue

    def mail_preview_view(self, request, object_id, form=None):
        issue = self._issue_for_mail(request, object_id)
        edition = testsend.preview_edition(issue)
        links = testsend.preview_links(issue)
        html, text = edition.personalise(links.preferences_url, links.unsubscribe_url)
        newsletter = issue.newsletter
        size = len(html.encode())
        return TemplateResponse(
            request,
            "admin/newsletters/issue/mail_preview.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": issue,
                "title": f"Email of issue #{issue.number}",
                "edition": edition,
                "plain_text": text,
                "from_address": newsletter.from_address,
                "reply_to": newsletter.reply_to or newsletter.sender_email,
                "html_url": reverse("admin:newsletters_issue_mail_html", args=[issue.pk]),
                "test_url": reverse("admin:newsletters_issue_mail_test", args=[issue.pk]),
                "size_kb": f"{size / 1024:.1f}",
                "clipped": size > GMAIL_CLIP_BYTES,
                "no_postal_address": not newsletter.postal_address.strip(),
                "blockers": workflow.scheduling_blockers(issue)
                if issue.status != Issue.Status.PUBLISHED
                else [],
                "form": form or TestSendForm(),
                "own_address": request.user.email,
                "max_recipients": testsend.MAX_RECIPIENTS,
            },
        )

    def mail_html_view(self, request, object_id):
        """The mail's HTML alone, for the preview page's frame."""
        issue = self._issue_for_mail(request, object_id)
        links = testsend.preview_links(issue)
        html, _ = testsend.preview_edition(issue).personalise(
            links.preferences_url, links.unsubscribe_url
        )
        # Links open outside the frame, as a mail client opens them.
        html = html.replace("<head>", '<head><base target="_blank">', 1)
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = MAIL_PREVIEW_CSP
        response["Cache-Control"] = "private, no-store"
        # Framed by the preview page; Django's clickjacking middleware leaves
        # a header the view set.
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response

    def mail_test_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        issue = self._issue_for_mail(request, object_id)
        form = TestSendForm(request.POST)
        form.is_valid()
        try:
            if request.POST.get("to") == "me":
                if not request.user.email:
                    raise testsend.SendTestError(
                        "Your account has no email address; add one to your user, or name "
                        "an address as a reviewer."
                    )
                addresses = [request.user.email]
            else:
                addresses = testsend.reviewer_addresses(form.cleaned_data.get("reviewers", ""))
            sent, failed = testsend.send_test(request.user, issue, addresses)
        except testsend.SendTestError as error:
            form.add_error(None, str(error))
            return self.mail_preview_view(request, object_id, form=form)
        for address, reason in failed.items():
            messages.error(request, f"The test to {address} was {reason}.")
        if sent:
            messages.success(request, f"A test of the email went to {', '.join(sent)}.")
        return redirect(reverse("admin:newsletters_issue_mail_preview", args=[issue.pk]))


admin.site.unregister(Issue)
admin.site.register(Issue, IssueMailAdmin)
