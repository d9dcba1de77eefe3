"""Test data. Status changes go through stories.editorial.workflow, as in production."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from stories.editorial import workflow
from stories.models import (
    Citation,
    Correction,
    Issue,
    IssueItem,
    Newsletter,
    Source,
    Story,
    Topic,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))
        if create:
            self.save()


def ensure_editorial_groups() -> None:
    """Make the Writers, Editors, Publishers and Audience groups hold their
    permissions.

    A transactional test's flush empties every table, the groups made by a data
    migration included, and the permissions are recreated with new ids; so the
    groups are rebuilt from the migrations' lists rather than trusted."""
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import Q

    wanted: dict[str, set[tuple[str, str]]] = {}
    for name, codenames in import_module("stories.migrations.0002_editorial_groups").GROUPS.items():
        wanted.setdefault(name, set()).update(("stories", c) for c in codenames)
    newsletters = import_module("stories.migrations.0008_newsletters").GROUP_PERMISSIONS
    for name, codenames in newsletters.items():
        wanted.setdefault(name, set()).update(("stories", c) for c in codenames)
    audience = import_module("newsletters.migrations.0002_audience_group").GROUPS
    for name, by_app in audience.items():
        for app_label, codenames in by_app.items():
            wanted.setdefault(name, set()).update((app_label, c) for c in codenames)
    ContentType.objects.clear_cache()
    for app_label in ("stories", "newsletters"):
        create_permissions(apps.get_app_config(app_label), verbosity=0)
    for name, perms in wanted.items():
        group, _ = Group.objects.get_or_create(name=name)
        match = Q(pk__in=[])
        for app_label, codename in perms:
            match |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(match))


def default_newsletter() -> Newsletter:
    """The default newsletter the migration makes (made again after a flush)."""
    newsletter = Newsletter.objects.default()
    if newsletter is None:
        newsletter = NewsletterFactory(name="The Newsroom", slug="the-newsroom", is_default=True)
    return newsletter


class NewsletterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Newsletter
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Newsletter {n}")
    slug = factory.LazyAttribute(lambda n: n.name.lower().replace(" ", "-").replace(",", ""))
    description = "News and analysis on the AI industry."
    sender_name = factory.LazyAttribute(lambda n: n.name)
    sender_email = "news@newsroom.example"
    postal_address = "1 Example Street, Exampletown"


def user_in(group: str, **kwargs):
    """A fresh staff user in one of the newsroom's groups, permissions uncached."""
    ensure_editorial_groups()
    user = UserFactory(groups=[group], **kwargs)
    return get_user_model().objects.get(pk=user.pk)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Outlet {n}")
    url = factory.LazyAttribute(lambda s: f"https://{s.name.lower().replace(' ', '')}.example")


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Topic {n}")


class StoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Story
        skip_postgeneration_save = True

    headline = factory.Sequence(lambda n: f"Story number {n}")
    dek = "A one-sentence standfirst."
    body = "Some **bold** reporting with a [link](https://example.com)."
    created_by = factory.SubFactory(UserFactory, groups=["Writers"])

    @factory.post_generation
    def authors(self, create, extracted, **kwargs):
        if create:
            self.authors.add(*(extracted or [self.created_by]))

    @factory.post_generation
    def cited(self, create, extracted, **kwargs):
        """cited=True (default) adds one citation so the story can be approved."""
        if create and extracted is not False:
            CitationFactory(story=self)


class CitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Citation

    story = factory.SubFactory(StoryFactory)
    source = factory.SubFactory(SourceFactory)
    url = "https://example.com/report"
    title = "The original report"


class CorrectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Correction

    story = factory.SubFactory(StoryFactory)
    text = "An earlier version misstated the figure."


def correction_added(story, **fields) -> Correction:
    """A correction saved as the correction admin saves one: the row, then
    what follows it (stories/publishing/changes.py)."""
    from stories.publishing import changes

    correction = CorrectionFactory(story=story, **fields)
    changes.story_rows_changed([story.pk])
    return correction


class IssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Issue

    newsletter = factory.LazyFunction(default_newsletter)
    # Far above the small numbers tests choose explicitly, so they never collide.
    number = factory.Sequence(lambda n: n + 10_000)
    headline = factory.Sequence(lambda n: f"Issue headline {n}")
    intro = "This week in AI."


def _staff(group: str):
    return user_in(group, username=f"factory-{group.lower()}")


def approved_story(**kwargs) -> Story:
    story = StoryFactory(**kwargs)
    workflow.submit_for_review(story.created_by, story)
    return workflow.approve(_staff("Editors"), story)


def issue_with_stories(n: int = 1, stories=None, **kwargs) -> Issue:
    issue = IssueFactory(**kwargs)
    for position, story in enumerate(stories or [approved_story() for _ in range(n)], start=1):
        IssueItem.objects.create(issue=issue, story=story, position=position)
    return issue


def published_issue(n: int = 1, as_of=None, **kwargs) -> Issue:
    issue = issue_with_stories(n, **kwargs)
    return workflow.publish_issue_now(_staff("Publishers"), issue, as_of=as_of)


def scheduled_issue(n: int = 1, in_minutes: int = 60, **kwargs) -> Issue:
    issue = issue_with_stories(n, **kwargs)
    when = timezone.now() + timedelta(minutes=in_minutes)
    return workflow.schedule_issue(_staff("Publishers"), issue, when)


def unpublished_stories(word: str = "zeppelin") -> dict[str, Story]:
    """One story in each state readers must never see, each with word in its
    headline and body, and a topic and a source no published story has."""
    editor = _staff("Editors")
    topic, source = TopicFactory(name=f"{word} topic"), SourceFactory(name=f"{word} source")

    def text(state: str) -> dict:
        return {"headline": f"{word} {state} headline", "body": f"The {word} {state}."}

    stories = {
        "draft": StoryFactory(**text("draft")),
        "in_review": StoryFactory(**text("in_review")),
        "approved": approved_story(**text("approved")),
        "scheduled": approved_story(**text("scheduled")),
        "withdrawn": approved_story(**text("withdrawn")),
    }
    workflow.submit_for_review(stories["in_review"].created_by, stories["in_review"])
    scheduled_issue(1, stories=[stories["scheduled"]])
    published_issue(1, stories=[stories["withdrawn"]])
    workflow.withdraw_story(editor, stories["withdrawn"], "The figures did not hold up.")
    for story in stories.values():
        story.topics.add(topic)
        CitationFactory(story=story, source=source)
        story.refresh_from_db()
    return stories


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "newsletters.Subscriber"

    email = factory.Sequence(lambda n: f"reader{n}@example.com")
    name = factory.Faker("name")


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """A subscription in a state, as if the reader had got there; state
    changes in tests themselves go through newsletters.services."""

    class Meta:
        model = "newsletters.Subscription"

    subscriber = factory.SubFactory(SubscriberFactory)
    newsletter = factory.LazyFunction(default_newsletter)
    state = "confirmed"
    source = "form"
    confirmed_at = factory.LazyAttribute(lambda s: timezone.now() if s.state != "pending" else None)
    unsubscribed_at = factory.LazyAttribute(
        lambda s: timezone.now() if s.state == "unsubscribed" else None
    )


def audience_member(**kwargs):
    """A staff user in the Audience group only."""
    return user_in("Audience", **kwargs)
