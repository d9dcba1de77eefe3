"""Create the demo newsroom: staff accounts, sources, topics, stories and issues."""

import io
import os
import secrets
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from PIL import Image, ImageDraw

from devtools.demo_content import ISSUES, NEWSLETTERS, SOURCES, TOPICS, UNPUBLISHED_STORIES
from devtools.demo_subscribers import load_demo_subscribers
from stories.editorial import workflow
from stories.models import Citation, Issue, IssueItem, Newsletter, Section, Source, Story, Topic

MARKER_SLUG = "ais-sputnik-moment"
PASSWORD_FILE = settings.BASE_DIR / ".demo-password"
ACCOUNTS = [
    # username, first name, last name, group, superuser
    ("admin", "Ada", "Admin", None, True),
    ("writer", "Wren", "Writer", "Writers", False),
    ("editor", "Eddie", "Editor", "Editors", False),
    ("publisher", "Pia", "Publisher", "Publishers", False),
]
# In a small newsroom the publisher also looks after the subscriber list, so
# the demo's publisher is in the Audience group too (see the newsletters app).
EXTRA_GROUPS = {"publisher": ["Audience"]}
POSTAL_ADDRESS = "The Newsroom, 1 Example Street, Exampletown EX1 2MP, United Kingdom"


def demo_lead_image() -> ContentFile:
    """A simple drawn illustration, so the demo ships no binary files."""
    image = Image.new("RGB", (1600, 900), (12, 20, 48))
    draw = ImageDraw.Draw(image)
    for i in range(0, 1600, 97):
        draw.point((i, (i * 37) % 900), fill=(230, 230, 255))
    draw.ellipse((-300, 520, 900, 1500), fill=(30, 90, 160))
    draw.rectangle((980, 300, 1140, 380), fill=(200, 200, 210))
    draw.rectangle((820, 320, 970, 360), fill=(70, 110, 200))
    draw.rectangle((1150, 320, 1300, 360), fill=(70, 110, 200))
    draw.ellipse((1030, 310, 1090, 370), fill=(40, 120, 220))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return ContentFile(buffer.getvalue(), name="deepseek-satellite.jpg")


class Command(BaseCommand):
    help = (
        "Create the demo newsroom. Safe to run again: if the demo is already there "
        "it changes nothing. Staff passwords come from NEWSROOM_DEMO_PASSWORD, or one "
        "is generated and printed."
    )

    def handle(self, *args, **options):
        if Story.objects.filter(slug=MARKER_SLUG).exists():
            self.stdout.write("The demo newsroom is already loaded; nothing changed.")
            return
        password = os.environ.get("NEWSROOM_DEMO_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        # The demo's own submissions and approvals would otherwise mail every
        # reviewer; nobody needs forty notifications on first start.
        with (
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
            transaction.atomic(),
        ):
            users = self._accounts(password)
            counts = self._content(users)
            counts["subscribers"] = load_demo_subscribers()
        if generated:
            PASSWORD_FILE.write_text(password + "\n")
            PASSWORD_FILE.chmod(0o600)
        self.stdout.write(
            self.style.SUCCESS(
                "Loaded the demo newsroom: {newsletters} newsletters, {issues} issues, "
                "{stories} stories, {sources} sources, {topics} topics, {subscribers} "
                "subscribers.".format(**{"subscribers": 0, **counts})
            )
        )
        self.stdout.write(
            f"Staff logins (password {password!r}"
            + (f", saved in {PASSWORD_FILE.name}" if generated else "")
            + "): "
            + ", ".join(a[0] for a in ACCOUNTS)
        )

    def _accounts(self, password: str) -> dict:
        User = get_user_model()
        users = {}
        for username, first, last, group, superuser in ACCOUNTS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "is_staff": True,
                    "is_superuser": superuser,
                    "email": f"{username}@example.com",
                },
            )
            if created:
                user.set_password(password)
                user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))
            user.groups.add(*Group.objects.filter(name__in=EXTRA_GROUPS.get(username, [])))
            users[username] = User.objects.get(pk=user.pk)  # fresh permission cache
        return users

    def _content(self, users: dict) -> dict:
        writer, editor, publisher = users["writer"], users["editor"], users["publisher"]
        sources = {}
        for data in SOURCES:
            sources[data["name"]], _ = Source.objects.get_or_create(
                name=data["name"], defaults={"url": data["url"], "description": data["description"]}
            )
        for name, description in TOPICS:
            Topic.objects.get_or_create(name=name, defaults={"description": description})

        newsletters = self._newsletters()
        now = timezone.now()
        for issue_data in ISSUES:
            stories = [self._story(data, writer, sources) for data in issue_data["stories"]]
            for story in stories:
                workflow.submit_for_review(writer, story)
                workflow.approve(editor, story)
            issue = Issue.objects.create(
                newsletter=newsletters[issue_data["newsletter"]],
                number=issue_data["number"],
                format=issue_data["format"],
                headline=issue_data["headline"],
                intro=issue_data["intro"],
                closing_tldr=issue_data["closing_tldr"],
            )
            for position, story in enumerate(stories, start=1):
                IssueItem.objects.create(issue=issue, story=story, position=position)
                story.newsletter = issue.newsletter
                story.section = issue.newsletter.sections.filter(
                    name=issue_data.get("section")
                ).first()
                story.save(update_fields=["newsletter", "section"])
            if issue_data["days_ago"] is None:
                workflow.schedule_issue(publisher, issue, self._next_week_at_nine(now))
            else:
                when = now - timedelta(days=issue_data["days_ago"])
                workflow.publish_issue_now(publisher, issue, as_of=when)

        for fields, topics, state in UNPUBLISHED_STORIES:
            story = self._story({**fields, "topics": topics, "citations": []}, writer, sources)
            if state == "in_review":
                workflow.submit_for_review(writer, story)
        return {
            "newsletters": Newsletter.objects.count(),
            "issues": Issue.objects.count(),
            "stories": Story.objects.count(),
            "sources": Source.objects.count(),
            "topics": Topic.objects.count(),
        }

    def _newsletters(self) -> dict:
        """The demo's newsletters by slug; None is the default one, which the
        migration made (or, after a flush, this makes)."""
        newsletters = {}
        for data in NEWSLETTERS:
            if data["slug"] is None:
                newsletter = Newsletter.objects.default() or Newsletter(
                    name=settings.SITE_NAME, slug="the-newsroom", is_default=True
                )
            else:
                newsletter = Newsletter.objects.filter(slug=data["slug"]).first() or Newsletter(
                    name=data["name"], slug=data["slug"]
                )
            newsletter.description = newsletter.description or data["description"]
            newsletter.sender_name = newsletter.sender_name or newsletter.name
            newsletter.sender_email = (
                newsletter.sender_email or f"{newsletter.slug}@newsroom.example"
            )
            newsletter.postal_address = newsletter.postal_address or POSTAL_ADDRESS
            newsletter.save()
            for position, name in enumerate(data.get("sections", ()), start=1):
                Section.objects.get_or_create(
                    newsletter=newsletter, name=name, defaults={"position": position}
                )
            newsletters[data["slug"]] = newsletter
        return newsletters

    def _story(self, data: dict, author, sources: dict) -> Story:
        fields = {k: v for k, v in data.items() if k not in {"topics", "citations", "lead_image"}}
        story = Story(created_by=author, **fields)
        image = data.get("lead_image")
        if image:
            story.lead_image_alt = image["alt"]
            story.lead_image_caption = image["caption"]
            story.lead_image_credit = image["credit"]
            story.lead_image.save("deepseek-satellite.jpg", demo_lead_image(), save=False)
        story.save()
        story.authors.add(author)
        story.topics.add(*data["topics"])
        for position, citation in enumerate(data["citations"], start=1):
            Citation.objects.create(
                story=story,
                source=sources[citation["source"]],
                url=citation["url"],
                title=citation["title"],
                note=citation.get("note", ""),
                position=position,
            )
        return story

    @staticmethod
    def _next_week_at_nine(now: datetime) -> datetime:
        local_day = timezone.localtime(now).date() + timedelta(days=7)
        return datetime.combine(local_day, time(9, 0), tzinfo=timezone.get_current_timezone())
