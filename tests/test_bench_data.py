import pytest
from django.core.management import call_command

from stories.models import Citation, Issue, Story, TaggedTopic

pytestmark = pytest.mark.django_db


def test_generate_bench_data_makes_published_archive_of_the_asked_size(capsys):
    call_command(
        "generate_bench_data", issues=6, stories=60, topics=5, sources=4, authors=3, quiet=True
    )
    assert Issue.objects.published().count() == 6
    assert Story.objects.published().count() == 60
    newest = Issue.objects.published().order_by("-publish_at").first()
    assert newest.items.count() == 10
    assert Citation.objects.count() >= 60 and TaggedTopic.objects.count() >= 60
    story = Story.objects.first()
    assert "<h2>" in story.body_html and "<strong>" in story.body_html
    assert "Added 6 issues, 60 stories" in capsys.readouterr().out


def test_generate_bench_data_adds_after_existing_issue_numbers():
    call_command(
        "generate_bench_data", issues=2, stories=4, topics=2, sources=2, authors=1, quiet=True
    )
    call_command(
        "generate_bench_data", issues=2, stories=4, topics=2, sources=2, authors=1, quiet=True
    )
    assert sorted(Issue.objects.values_list("number", flat=True)) == [1, 2, 3, 4]
