"""The signup endpoint every page's form posts to."""

from django.conf import settings
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from newsletters import services, throttle
from newsletters.forms import HONEYPOT, SignupForm, StampProblem, consent_wording, read_stamp
from newsletters.views.common import private_page
from newsroom.security import client_ip_address

# Signups one client address may make in an hour. Generous, since offices and
# phone networks put many readers behind one address.
CLIENT_LIMIT = getattr(settings, "NEWSROOM_SIGNUPS_PER_CLIENT_HOUR", 20)


def _source(value: str) -> str:
    """The page the form was on, as the form says: a path on this site or nothing."""
    value = "".join(ch for ch in (value or "") if ch.isprintable())[:300]
    return value if value.startswith("/") and not value.startswith("//") else ""


def _done(request):
    # The one answer to every signup that got this far, whatever the address:
    # nothing in it depends on who is on the list.
    return private_page(request, "newsletters/signup_done.html", {})


def _again(request, errors: list[str], form: SignupForm | None, status: int):
    single = None
    email = ""
    if form is not None:
        email = form.data.get("email", "")[:254]
        chosen = [s for s in form.data.getlist("newsletter") if s in form.newsletters]
        if len(chosen) == 1 and len(form.data.getlist("newsletter")) == 1:
            single = form.newsletters[chosen[0]]
    context = {
        "errors": errors,
        "newsletter": single,
        "email": email,
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
        version = read_stamp(request.POST.get("stamp", ""))
    except StampProblem as problem:
        if not problem.expired:
            return _done(request)  # not a form we printed: answer as if it worked
        return _again(
            request,
            ["This form was on your screen for a long time; please send it again."],
            SignupForm(request.POST),
            400,
        )
    if not throttle.hit("signup-client", client_ip or "unknown", CLIENT_LIMIT, 3600):
        return _again(
            request,
            [
                "Too many signups have come from your network in the last hour. "
                "Please try again in an hour."
            ],
            None,
            429,
        )
    form = SignupForm(request.POST)
    if not form.is_valid():
        errors = [error for field in form.errors.values() for error in field]
        return _again(request, errors, form, 400)
    newsletters = form.chosen_newsletters()
    services.request_signup(
        email=form.cleaned_data["email"],
        name=form.cleaned_data["name"],
        newsletters=newsletters,
        source=_source(request.POST.get("source", "")) or "Signup form",
        client_ip=client_ip,
        wording=consent_wording(newsletters, version),
    )
    return _done(request)
