"""{% signup_form %}: the signup form for cached public pages."""

from django import template

from newsletters.forms import HONEYPOT, consent_wording, form_stamp
from stories.models import Newsletter

register = template.Library()


@register.inclusion_tag("includes/signup_form.html", takes_context=True)
def signup_form(context, newsletter=None, email="", offered=None, chosen=()):
    """The form for one newsletter, or (with none given) a choice of all of
    them. It holds nothing per visitor, so the page around it may be cached.

    Nothing is ticked in advance: a ticked box is not the reader's consent.
    A form offering one newsletter names it instead (its heading and button
    say which). offered and chosen re-print a form that came back with a
    sentence, with what the reader had ticked."""
    if offered is None:
        offered = [newsletter] if newsletter is not None else list(Newsletter.objects.all())
    request = context.get("request")
    return {
        "newsletters": offered,
        "single": len(offered) == 1,
        "chosen": set(chosen),
        "wording": consent_wording(offered),
        "stamp": form_stamp(offered),
        "honeypot": HONEYPOT,
        # Where the form was, for the consent record: the page's own address,
        # the same for everyone who gets this page.
        "source": context.get("signup_source") or (request.path if request is not None else ""),
        "email": email,
    }
