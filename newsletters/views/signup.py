"""The signup endpoint every page's form posts to."""

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from newsletters import services, throttle
from newsletters.forms import HONEYPOT, SignupForm, StampProblem, read_stamp
from newsletters.views.common import private_page
from newsroom.security import client_ip_address
from stories.models import Newsletter

# Signups one client address may make in an hour. Generous, since offices and
# phone networks put many readers behind one address.
CLIENT_LIMIT = getattr(settings, "NEWSROOM_SIGNUPS_PER_CLIENT_HOUR", 20)


def _source(value: str) -> str:
    """The page the form was on, as the form says: a path that this site
    serves, without its query, or nothing (the consent record then says
    "Signup form"). Posted text is the sender's to choose, so only an
    address of ours is kept as the consent's "where"."""
    value = (value or "")[:300]
    if (
        not value.startswith("/")
        or value.startswith("//")
        or any(ch.isspace() or ch == "\\" or not ch.isprintable() for ch in value)
    ):
        return ""
    path = urlsplit(value).path
    try:
        resolve(path)
    except Resolver404:
        return ""
    return path


def _done(request):
    # The one answer to every signup that got this far, whatever the address:
    # nothing in it depends on who is on the list.
    return private_page(request, "newsletters/signup_done.html", {})


def _again(request, errors: list[str], offered, status: int):
    """The form again with a sentence saying why, keeping what was typed and
    ticked. offered: the newsletters the form offered."""
    posted = request.POST.getlist("newsletter")
    context = {
        "errors": errors,
        "offered": offered,
        "chosen": [n.slug for n in offered if n.slug in posted],
        "email": request.POST.get("email", "")[:254],
        "signup_source": _source(request.POST.get("source", "")),
    }
    return private_page(request, "newsletters/signup.html", context, status=status)


@csrf_exempt  # the form is printed on cached pages; see newsletters/forms.py
@require_POST
def signup(request):
    client_ip = client_ip_address(request) or None
    if request.POST.get(HONEYPOT):
        return _done(request)
    try:
        printed = read_stamp(request.POST.get("stamp", ""))
    except StampProblem as problem:
        if not problem.expired:
            return _done(request)  # not a form we printed: answer as if it worked
        return _again(
            request,
            ["This form was on your screen for a long time; please send it again."],
            list(Newsletter.objects.all()),
            400,
        )
    if not throttle.hit("signup-client", client_ip or "unknown", CLIENT_LIMIT, 3600):
        return _again(
            request,
            [
                "Too many signups have come from your network in the last hour. "
                "Please try again in an hour."
            ],
            printed.newsletters,
            429,
        )
    form = SignupForm(request.POST, offered=printed.newsletters)
    if not form.is_valid():
        errors = [error for field in form.errors.values() for error in field]
        return _again(request, errors, printed.newsletters, 400)
    services.request_signup(
        email=form.cleaned_data["email"],
        name=form.cleaned_data["name"],
        newsletters=form.chosen_newsletters(),
        source=_source(request.POST.get("source", "")) or "Signup form",
        client_ip=client_ip,
        # The words the printed form showed, rebuilt from its signed stamp.
        wording=printed.wording,
    )
    return _done(request)
