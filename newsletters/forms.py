"""The signup form as pages print it and as its POST is read.

The form sits on cached public pages, so it holds nothing personal to a
visitor: no CSRF token (one baked into a cached page would be shared by
everyone who gets that copy). Its endpoint is exempt from CSRF and defends
itself instead: a honeypot field, a signed timestamp that says which
consent wording the form showed and when it was printed, and rate limits per
client address and per mailbox. A cross-site POST gains nothing that a direct
one would not: the mailbox's owner still has to click the confirmation link.
"""

import hashlib
import time
from dataclasses import dataclass

from django import forms
from django.core import signing

from newsletters.addresses import InvalidAddress, normalize_email
from stories.models import Newsletter

# The exact words printed above the button, by version. A form keeps its
# version in its stamp, so the consent record holds the words that reader saw
# even if the wording changes between printing and posting. Add a version to
# change them; never edit one in place.
CONSENT_WORDINGS = {
    1: (
        "We will email you a link to confirm. Once you confirm, we send you {names} "
        "at this address, and nothing else. Every mail has a link to unsubscribe or "
        "change what you get."
    ),
}
CURRENT_WORDING = max(CONSENT_WORDINGS)

STAMP_SALT = "newsletters.signup-form"
# A stamp names the day (UTC) its form was printed and is good on that day and
# the next: pages are cached for minutes and tabs stay open for hours, while a
# harvested form cannot be replayed for ever. A day rather than a second, so
# that a page rendered twice prints the same bytes (its ETag holds).
STAMP_DAYS = 2
HONEYPOT = "website"


def consent_wording(newsletters, version: int = CURRENT_WORDING) -> str:
    names = [newsletter.name for newsletter in newsletters]
    if len(names) > 1:
        listed = ", ".join(names[:-1]) + " or " + names[-1]
        text = f"whichever of {listed} you tick"
    else:
        text = names[0] if names else "the newsletter"
    return CONSENT_WORDINGS[version].format(names=text)


def _today() -> int:
    return int(time.time() // 86400)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def form_stamp(newsletters) -> str:
    """The signed stamp a form offering newsletters carries: the wording
    version, the day, which newsletters it offered and a digest of the words
    it printed. The same for every visitor of a page."""
    slugs = ",".join(newsletter.slug for newsletter in newsletters)
    digest = _digest(consent_wording(newsletters, CURRENT_WORDING))
    return signing.Signer(salt=STAMP_SALT).sign(f"{CURRENT_WORDING}.{_today()}.{slugs}.{digest}")


class StampProblem(Exception):
    """A stamp that is not ours (expired False) or is ours but too old or
    printed with words we can no longer rebuild (expired True)."""

    def __init__(self, expired: bool):
        super().__init__("expired" if expired else "not genuine")
        self.expired = expired


@dataclass(frozen=True)
class PrintedForm:
    """What a genuine stamp says its form showed."""

    newsletters: list
    wording: str


def read_stamp(value: str) -> PrintedForm:
    """The newsletters and exact words a genuine, recent form showed, or
    StampProblem. The words are rebuilt with the function and inputs that
    printed them and checked against the stamp's digest, so the consent
    record never holds words the reader did not see (nor any posted text)."""
    try:
        signed = signing.Signer(salt=STAMP_SALT).unsign(value)
    except (signing.BadSignature, TypeError):
        raise StampProblem(expired=False) from None
    try:
        version, day, slugs, digest = signed.split(".")
        version, day = int(version), int(day)
    except ValueError:
        # Ours, but printed before stamps named what the form offered (a tab
        # left open across an upgrade): asked for again, not dropped.
        raise StampProblem(expired=True) from None
    if not 0 <= _today() - day < STAMP_DAYS or version not in CONSENT_WORDINGS:
        raise StampProblem(expired=True)
    wanted = slugs.split(",") if slugs else []
    found = Newsletter.objects.in_bulk(wanted, field_name="slug")
    newsletters = [found[slug] for slug in wanted if slug in found]
    wording = consent_wording(newsletters, version)
    # A newsletter renamed or removed since the page was printed: the words
    # can no longer be rebuilt, so the form is asked for again.
    if not newsletters or len(newsletters) != len(wanted) or _digest(wording) != digest:
        raise StampProblem(expired=True)
    return PrintedForm(newsletters, wording)


class SignupForm(forms.Form):
    email = forms.CharField(max_length=320, error_messages={"required": "Enter an email address."})
    name = forms.CharField(max_length=200, required=False)
    newsletter = forms.MultipleChoiceField(
        choices=(),
        error_messages={
            "required": "Choose at least one newsletter.",
            "invalid_choice": "That newsletter is not one of ours; choose from the list.",
        },
    )

    def __init__(self, *args, offered=None, **kwargs):
        """offered: the newsletters the printed form offered (all by default);
        a choice outside them is not one the reader was shown."""
        super().__init__(*args, **kwargs)
        if offered is None:
            offered = Newsletter.objects.order_by("name")
        self.newsletters = {n.slug: n for n in offered}
        self.fields["newsletter"].choices = [(slug, n.name) for slug, n in self.newsletters.items()]

    def clean_email(self):
        try:
            return normalize_email(self.cleaned_data["email"])
        except InvalidAddress as problem:
            raise forms.ValidationError(str(problem)) from None

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if any(ord(ch) < 32 for ch in name):
            raise forms.ValidationError("A name cannot hold control characters.")
        return name

    def chosen_newsletters(self) -> list[Newsletter]:
        return [self.newsletters[slug] for slug in self.cleaned_data["newsletter"]]
