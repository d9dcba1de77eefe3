"""The newsletters a newsroom publishes its issues under.

The model lives in the content app because every issue belongs to one and the
content app must not depend on the audience app (``newsletters``), which keeps
subscribers, consent and suppressions and points here.
"""

from email.utils import formataddr

from django.db import models
from django.db.models import Q
from django.urls import reverse

from stories.timebounds import in_range, validate_time


class NewsletterQuerySet(models.QuerySet):
    def default(self) -> "Newsletter | None":
        """The newsletter issues are filed under unless said otherwise, and the
        one the old /issues/<number>/ addresses lead to."""
        return self.filter(is_default=True).first()


class Newsletter(models.Model):
    """A publication readers subscribe to: "The Weekly Radar", "Reels, Thrills, and Bills"."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(
        max_length=100, unique=True, help_text="Its address: /newsletters/ followed by the slug."
    )
    description = models.TextField(
        blank=True, help_text="What readers get, shown on its page and beside the signup form."
    )
    sender_name = models.CharField(max_length=200, help_text="Who mail comes from, by name.")
    sender_email = models.EmailField(help_text="The address mail comes from.")
    reply_to = models.EmailField(blank=True, help_text="Optional: where replies go instead.")
    # Anti-spam law (CAN-SPAM, and the providers that enforce it) wants a
    # postal address in every commercial mail's footer.
    # Blank only until someone fills it in: the newsletter the migration
    # creates has none to give, and no mail may go out without one.
    postal_address = models.TextField(
        blank=True,
        help_text="The postal address every mail's footer carries, as it should print; "
        "required before its mail can go out.",
    )
    is_default = models.BooleanField(
        "default newsletter",
        default=False,
        help_text="New issues start in it, and the old addresses (/issues/ followed by a number) "
        "lead to it.",
    )
    created_at = models.DateTimeField(auto_now_add=True, validators=[validate_time])

    objects = NewsletterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="one_default_newsletter",
                violation_error_message=(
                    "Another newsletter is the default; untick it there first."
                ),
            ),
            in_range("created_at"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("stories:newsletter", args=[self.slug])

    @property
    def from_address(self) -> str:
        """The From header: "Sender Name <address>", quoted as mail needs."""
        return formataddr((self.sender_name, self.sender_email))


class Section(models.Model):
    """A part of a newsletter its stories run under, such as "Posts"."""

    newsletter = models.ForeignKey(Newsletter, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["newsletter__name", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["newsletter", "name"],
                name="section_name_once_per_newsletter",
                violation_error_message="This newsletter already has a section of this name.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.newsletter.name} — {self.name}"
