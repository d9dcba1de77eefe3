"""A story's reader HTML that depends on more than its own row, rendered once
and kept (stories/publishing/prerender.py renders, stores and invalidates it).

Like the Markdown fields rendered at save, this keeps public pages from
redoing per request what changes only on an edit: the byline (the authors'
names), the attribution (the sources cited), the topics, and the whole block
an issue shows for the story. It is derived data, rebuilt on demand, so it is
neither exported nor edited.
"""

from django.db import models


class KeptRendering(models.Model):
    """What a story's and an issue's kept HTML have in common."""

    # Which templates and settings the HTML was rendered with: a row whose key
    # is not the running code's is out of date, and is rendered again.
    format_key = models.CharField(max_length=32)
    # What the page's JSON-LD says beside the row's own fields.
    linked_data = models.JSONField(default=dict)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name.capitalize()} {self.pk}"


class RenderedStory(KeptRendering):
    story = models.OneToOneField(
        "stories.Story", on_delete=models.CASCADE, primary_key=True, related_name="rendered"
    )
    byline_html = models.TextField(blank=True)
    # What an issue shows of the story below its headline, dek, byline and
    # lead image: callouts, body and attribution.
    teaser_html = models.TextField(blank=True)
    # The story page's "Corrected on" line under the byline, if corrected.
    correction_note_html = models.TextField(blank=True)
    # The story page's attribution line, topic links and corrections.
    footer_html = models.TextField(blank=True)
    # linked_data: the authors and cited works.

    class Meta:
        verbose_name = "rendered story"


class RenderedIssue(KeptRendering):
    """An issue's list of stories as readers see it, built from its stories'
    kept HTML, and what the issue's metadata says of them."""

    issue = models.OneToOneField(
        "stories.Issue", on_delete=models.CASCADE, primary_key=True, related_name="rendered"
    )
    # The <li> of every story readers see in the issue, in order.
    stories_html = models.TextField(blank=True)
    # linked_data: the stories' headlines and addresses, and the first lead image.

    class Meta:
        verbose_name = "rendered issue"
