"""The pages signed links in mail open. A GET only shows a page with a
button, so a link scanner that follows every link in a mail changes nothing;
the POST from the button makes the change. The one-click endpoint is the
exception RFC 8058 defines: a mail client's POST with no page at all."""

from functools import wraps

from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from newsletters import services
from newsletters.links import BadLink, make_token, read_token
from newsletters.models import Subscription
from newsletters.models.subscribers import UnsubscribeChannel
from newsletters.views.common import private_page
from newsroom.security import client_ip_address
from stories.models import Newsletter

CONFIRM_WORDING = "Confirm that you want to get {name} by email at {email}."


def _bad_link(request, problem: BadLink, purpose: str):
    status = 410 if problem.expired else 400
    if problem.gone:
        status = 404
    return private_page(
        request,
        "newsletters/bad_link.html",
        {"message": str(problem), "expired": problem.expired, "purpose": purpose},
        status=status,
    )


def opens_signed_link(purpose: str, load):
    """Reads the view's signed token for purpose and loads what it names with
    load (a subscription or a subscriber); a tampered, expired or erased link
    gets the bad-link page instead of the view."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, token):
            try:
                target = read_token(token, purpose)
                loaded = load(target)
            except BadLink as problem:
                return _bad_link(request, problem, purpose)
            return view(request, target, loaded)

        return wrapper

    return decorate


@require_http_methods(["GET", "HEAD", "POST"])
@opens_signed_link("confirm", services.subscription_for)
def confirm(request, target, subscription):
    wording = CONFIRM_WORDING.format(
        name=subscription.newsletter.name, email=subscription.subscriber.email
    )
    changed = False
    if request.method == "POST":
        outcome = services.confirm(
            target, client_ip=client_ip_address(request) or None, wording=wording
        )
        subscription, changed = outcome.subscription, outcome.changed
    suppressed = subscription.subscriber.is_suppressed
    if suppressed:
        heading = "We cannot send mail to this address"
    elif subscription.state == subscription.State.CONFIRMED:
        heading = "You are subscribed" if changed else "You are already subscribed"
    elif subscription.state == subscription.State.UNSUBSCRIBED:
        heading = "You have unsubscribed since asking"
    else:
        heading = "Confirm your subscription"
    context = {
        "subscription": subscription,
        # The page's heading and its title say the same thing.
        "heading": heading,
        "wording": wording,
        "changed": changed,
        "posted": request.method == "POST",
        "suppressed": suppressed,
        # The confirmation link proved the mailbox, so its page may lead on
        # to the reader's preferences.
        "preferences_token": _preferences_token(subscription),
    }
    return private_page(request, "newsletters/confirm.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@opens_signed_link("unsubscribe", services.subscription_for)
def unsubscribe(request, target, subscription):
    changed = False
    if request.method == "POST":
        outcome = services.unsubscribe(target, via=UnsubscribeChannel.LINK)
        subscription, changed = outcome.subscription, outcome.changed
    context = {
        "subscription": subscription,
        "changed": changed,
        "posted": request.method == "POST",
        "preferences_token": _preferences_token(subscription),
    }
    return private_page(request, "newsletters/unsubscribe.html", context)


@csrf_exempt  # RFC 8058: the mail provider posts without a page, cookie or token
@require_http_methods(["GET", "HEAD", "POST"])
def one_click(request, token):
    if request.method != "POST":
        # Opened in a browser (or by a scanner): the page with a button.
        return redirect("newsletters:unsubscribe", token=token)
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return HttpResponse(
            "This address takes the one-click unsubscribe request of RFC 8058 "
            "(a POST of List-Unsubscribe=One-Click).",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    try:
        target = read_token(token, "unsubscribe")
        services.unsubscribe(target, via=UnsubscribeChannel.ONE_CLICK)
    except BadLink as problem:
        if problem.gone:
            # Erased: there is nothing left to send to, which is what was asked.
            return HttpResponse("Unsubscribed.", content_type="text/plain; charset=utf-8")
        return HttpResponse(str(problem), status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse("Unsubscribed.", content_type="text/plain; charset=utf-8")


def _preferences_token(subscription: Subscription) -> str:
    return make_token(subscription.subscriber, subscription.newsletter_id, "preferences")


@require_http_methods(["GET", "HEAD", "POST"])
@opens_signed_link("preferences", services.subscriber_for)
def preferences(request, target, subscriber):
    message = ""
    errors = []
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "erase":
            if request.POST.get("confirm_erase") != "yes":
                errors.append("Tick the box to confirm that everything should be deleted.")
            else:
                services.erase(subscriber)
                return private_page(request, "newsletters/erased.html", {})
        elif action == "unsubscribe_all":
            services.unsubscribe_from_all(subscriber)
            message = "You are unsubscribed from every newsletter. Nothing more will come."
        elif action == "save":
            by_slug = {n.slug: n for n in Newsletter.objects.all()}
            wanted = [by_slug[s] for s in request.POST.getlist("newsletter") if s in by_slug]
            name = request.POST.get("name", "")
            if len(name) > 200 or any(ord(ch) < 32 for ch in name):
                errors.append("A name has at most 200 characters and no control characters.")
            else:
                services.update_preferences(
                    subscriber,
                    wanted=wanted,
                    name=name,
                    client_ip=client_ip_address(request) or None,
                )
                message = "Saved. Your choices apply from the next mail."
        else:
            errors.append("Choose one of the buttons on this page.")
        subscriber.refresh_from_db()
    states = dict(subscriber.subscriptions.values_list("newsletter_id", "state"))
    rows = [
        {
            "newsletter": newsletter,
            "state": states.get(newsletter.pk),
            "checked": states.get(newsletter.pk) == Subscription.State.CONFIRMED,
        }
        for newsletter in Newsletter.objects.order_by("name")
    ]
    context = {
        "subscriber": subscriber,
        "rows": rows,
        "message": message,
        "errors": errors,
        "suppressed": subscriber.is_suppressed,
        "wording": services.PREFERENCES_WORDING,
    }
    return private_page(request, "newsletters/preferences.html", context)
