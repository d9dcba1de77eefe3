"""People who write for the newsroom without an account: a guest author, a
columnist. They hold bylines beside the staff who do (Story.authors)."""

from django.db import models
from django.urls import reverse

from stories.timebounds import in_range, validate_time


class Contributor(models.Model):
    """A byline that is not a staff account: a name, a short bio, a link."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=200, unique=True, blank=True, help_text="Filled from the name if empty."
    )
    bio = models.TextField(
        blank=True, help_text="A sentence or two, shown under the stories they write."
    )
    url = models.URLField("link", blank=True, help_text="Their site or profile, optional.")
    created_at = models.DateTimeField(auto_now_add=True, validators=[validate_time])

    class Meta:
        ordering = ["name"]
        constraints = [in_range("created_at")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            from stories.models.content import unique_slug

            self.slug = unique_slug(self, self.name)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("stories:contributor", args=[self.slug])


class GuestByline(models.Model):
    """A contributor's byline on a story, after the staff authors'."""

    story = models.ForeignKey(
        "stories.Story", on_delete=models.CASCADE, related_name="guest_bylines"
    )
    contributor = models.ForeignKey(Contributor, on_delete=models.PROTECT, related_name="bylines")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = "guest byline"
        constraints = [
            models.UniqueConstraint(
                fields=["story", "contributor"],
                name="contributor_once_per_story",
                violation_error_message="This contributor already has a byline on the story.",
            )
        ]

    def __str__(self) -> str:
        return str(self.contributor)
