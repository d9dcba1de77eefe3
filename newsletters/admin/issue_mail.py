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
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from newsletters.delivery import progress, sending, testsend
from newsletters.models import Delivery, Send
from stories.admin.issues import IssueAdmin
from stories.editorial import workflow
from stories.models import Issue

S = Send.State
SEES_SUBSCRIBERS = "newsletters.view_subscriber"
# Failed copies listed on the issue's page; the rest are a page away.
FAILED_ON_PANEL = 10

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


class CancelSendForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=250,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Optional; kept in the issue's audit trail.",
    )


# The publisher's controls: URL suffix -> (view method, what the button says).
CONTROLS = {
    "web-only": "Web only: do not mail",
    "mail-it": "Mail it when it goes live",
    "pause": "Pause sending",
    "resume": "Resume sending",
    "cancel": "Cancel the send",
    "retry": "Retry the failed deliveries",
}


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
            view(self.mail_progress_view, "mail/progress", "mail_progress"),
            view(self.mail_failed_view, "mail/failed", "mail_failed"),
            view(self.web_only_view, "mail/web-only", "mail_web_only"),
            view(self.mail_it_view, "mail/mail-it", "mail_mail_it"),
            view(self.pause_view, "mail/pause", "mail_pause"),
            view(self.resume_view, "mail/resume", "mail_resume"),
            view(self.cancel_view, "mail/cancel", "mail_cancel"),
            view(self.retry_view, "mail/retry", "mail_retry"),
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
        send = Send.objects.filter(issue=issue).first()
        live = Issue.objects.published().filter(pk=issue.pk).exists()
        panel = {
            "preview_url": reverse("admin:newsletters_issue_mail_preview", args=[issue.pk]),
            "send": send,
            "live": live,
            "controls": self._controls(request, issue, send, live),
        }
        if send is None:
            if not live and issue.status != Issue.Status.WITHDRAWN:
                panel["audience"] = progress.mailable_count(issue.newsletter_id)
            elif live:
                panel["starting"] = (
                    issue.publish_at is not None
                    and issue.publish_at >= timezone.now() - sending.mail_window()
                )
        elif send.state != S.WEB_ONLY:
            # Paused on its own account (a threshold crossed): said loudly.
            panel["paused_itself"] = send.state == S.PAUSED and send.paused_by_id is None
            panel["progress"] = progress.progress(send)
            panel["progress_url"] = reverse(
                "admin:newsletters_issue_mail_progress", args=[issue.pk]
            )
            panel["failed_url"] = reverse("admin:newsletters_issue_mail_failed", args=[issue.pk])
            panel["failed"] = progress.failed_page(
                send, 1, request.user.has_perm(SEES_SUBSCRIBERS)
            ).rows[:FAILED_ON_PANEL]
        return panel

    def _controls(self, request, issue, send, live) -> dict[str, dict]:
        """The buttons the publisher may press now, each {label, url}."""
        if not request.user.has_perm(sending.PUBLISH_PERMISSION):
            return {}
        names = []
        if send is None:
            if not live and issue.status != Issue.Status.WITHDRAWN:
                names.append("web-only")
        elif send.state == S.WEB_ONLY:
            if not live:
                names.append("mail-it")
        else:
            if send.state == S.SENDING:
                names.append("pause")
            if send.state == S.PAUSED:
                names.append("resume")
            if (
                send.state in (S.SENDING, S.PAUSED, S.FINISHED)
                and send.deliveries.filter(state=Delivery.State.FAILED).exists()
            ):
                names.append("retry")
            if send.state in (S.SENDING, S.PAUSED):
                names.append("cancel")
        return {
            name: {
                "label": CONTROLS[name],
                "url": reverse(
                    f"admin:newsletters_issue_mail_{name.replace('-', '_')}", args=[issue.pk]
                ),
                "confirm": name == "cancel",
            }
            for name in names
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

    # -- progress ------------------------------------------------------------

    def _send_of(self, issue) -> Send:
        send = Send.objects.filter(issue=issue).first()
        if send is None:
            raise Http404("This issue has no mail yet.")
        return send

    def mail_progress_view(self, request, object_id):
        """The send's progress as JSON, which the panel's script polls."""
        issue = self._issue_for_mail(request, object_id)
        send = self._send_of(issue)
        response = JsonResponse(progress.progress(send).as_json())
        response["Cache-Control"] = "private, no-store"
        return response

    def mail_failed_view(self, request, object_id):
        issue = self._issue_for_mail(request, object_id)
        send = self._send_of(issue)
        page = progress.failed_page(
            send, request.GET.get("page"), request.user.has_perm(SEES_SUBSCRIBERS)
        )
        return TemplateResponse(
            request,
            "admin/newsletters/issue/mail_failed.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": issue,
                "title": f"Failed deliveries of issue #{issue.number}",
                "page": page,
                "retry": self._controls(request, issue, send, True).get("retry"),
            },
        )

    # -- the publisher's controls ----------------------------------------------

    def _control(self, request, object_id, act, done: str):
        """POST only: call act(user, issue) (a sending.* service function),
        then say what happened, or why not, on the issue's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        issue = self._issue_for_mail(request, object_id)
        if not request.user.has_perm(sending.PUBLISH_PERMISSION):
            raise PermissionDenied
        try:
            result = act(request.user, issue)
        except workflow.WorkflowError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, done.format(result=result, issue=issue))
        return redirect(f"{self._change_url(issue)}#mail")

    def web_only_view(self, request, object_id):
        return self._control(
            request,
            object_id,
            lambda user, issue: sending.choose_web_only(user, issue),
            "Issue #{issue.number} is web only: it will not be mailed when it goes live.",
        )

    def mail_it_view(self, request, object_id):
        return self._control(
            request,
            object_id,
            lambda user, issue: sending.choose_mail(user, issue),
            "Issue #{issue.number} will be mailed to its subscribers when it goes live.",
        )

    def pause_view(self, request, object_id):
        return self._control(
            request,
            object_id,
            lambda user, issue: sending.pause_send(user, self._send_of(issue)),
            "The mail of issue #{issue.number} is paused; nothing more goes out until you "
            "resume it.",
        )

    def resume_view(self, request, object_id):
        return self._control(
            request,
            object_id,
            lambda user, issue: sending.resume_send(user, self._send_of(issue)),
            "The mail of issue #{issue.number} is sending again, from where it stopped.",
        )

    def retry_view(self, request, object_id):
        return self._control(
            request,
            object_id,
            lambda user, issue: sending.retry_failed(user, self._send_of(issue)),
            "{result} failed deliveries of issue #{issue.number} are queued again; copies "
            "already sent are not sent again.",
        )

    def cancel_view(self, request, object_id):
        issue = self._issue_for_mail(request, object_id)
        if not request.user.has_perm(sending.PUBLISH_PERMISSION):
            raise PermissionDenied
        send = self._send_of(issue)
        form = CancelSendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                send = sending.cancel_send(request.user, send, form.cleaned_data["reason"])
            except workflow.WorkflowError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    f"The mail of issue #{issue.number} is cancelled; copies not yet sent "
                    "will not be.",
                )
                return redirect(f"{self._change_url(issue)}#mail")
        return TemplateResponse(
            request,
            "admin/newsletters/issue/mail_cancel.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": issue,
                "title": f"Cancel the mail of issue #{issue.number}",
                "form": form,
                "progress": progress.progress(send),
            },
        )


admin.site.unregister(Issue)
admin.site.register(Issue, IssueMailAdmin)
