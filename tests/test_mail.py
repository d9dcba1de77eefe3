"""Mail settings from the environment, sending through a real SMTP server, and
`make run`'s mail catcher."""

import re
import signal
import smtplib
import subprocess
import sys

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, get_connection, send_mail

from newsroom import env
from tests.process_helpers import (
    ROOT,
    project_environment,
    setting,
    settings_values,
    wait_until,
)

# -- settings ----------------------------------------------------------------


def test_mail_goes_through_django_smtp_backend_by_default():
    defaults = settings_values(["EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT"], EMAIL_BACKEND=None)
    assert defaults == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "localhost",
        "EMAIL_PORT": 25,
    }


def test_the_mail_server_and_sender_come_from_the_environment():
    variables = {
        "EMAIL_HOST": "smtp.example.net",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "newsroom",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": "true",
        "EMAIL_TIMEOUT": "12",
        "DEFAULT_FROM_EMAIL": "The Newsroom <news@example.net>",
        "SERVER_EMAIL": "errors@example.net",
    }
    assert settings_values(list(variables) + ["EMAIL_USE_SSL"], **variables) == {
        "EMAIL_HOST": "smtp.example.net",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "newsroom",
        "EMAIL_HOST_PASSWORD": "s3cret",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 12,
        "DEFAULT_FROM_EMAIL": "The Newsroom <news@example.net>",
        "SERVER_EMAIL": "errors@example.net",
    }


def test_server_errors_come_from_the_sender_unless_set_apart():
    assert setting("SERVER_EMAIL", DEFAULT_FROM_EMAIL="news@example.net") == "news@example.net"


def test_a_provider_is_an_anymail_backend_with_its_settings_from_anymail_variables():
    variables = {
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "token-123",
        "ANYMAIL_IGNORE_UNSUPPORTED_FEATURES": "True",
    }
    assert setting("EMAIL_BACKEND", **variables) == "anymail.backends.postmark.EmailBackend"
    assert setting("ANYMAIL", **variables) == {
        "IGNORE_UNSUPPORTED_FEATURES": True,
        "POSTMARK_SERVER_TOKEN": "token-123",
    }


def test_tls_and_ssl_together_stop_start_up_with_a_sentence():
    assert setting("EMAIL_BACKEND", EMAIL_USE_TLS="true", EMAIL_USE_SSL="true") == (
        "django.core.exceptions.ImproperlyConfigured: EMAIL_USE_TLS and EMAIL_USE_SSL cannot "
        "both be true: EMAIL_USE_TLS upgrades a plain connection with STARTTLS (usually port "
        "587), EMAIL_USE_SSL starts encrypted (usually port 465). Set the one your mail "
        "server expects."
    )


@pytest.mark.parametrize(
    "read, raw, sentence",
    [
        (
            lambda: env.env_int("V", 25, minimum=1, maximum=65535),
            "70000",
            "V must be at most 65535, not 70000.",
        ),
        (
            lambda: env.env_email("V", "news@localhost"),
            "The Newsroom",
            "V must be an email address such as 'news@example.com' or "
            "'The Newsroom <news@example.com>', not 'The Newsroom'.",
        ),
        (lambda: env.env_email("V", "news@localhost"), "root@", "not 'root@'."),
        (
            lambda: env.env_dotted_path("V", "x.y"),
            "smtp",
            "V must be a Python path to a class, such as "
            "'django.core.mail.backends.smtp.EmailBackend', not 'smtp'.",
        ),
        (
            lambda: env.env_dotted_path("V", "x.y"),
            "sendgrid_backend.SendgridBackend",
            "V names 'sendgrid_backend.SendgridBackend', but the package 'sendgrid_backend' "
            "is not installed.",
        ),
    ],
)
def test_each_bad_mail_value_is_refused_with_a_sentence(monkeypatch, read, raw, sentence):
    monkeypatch.setenv("V", raw)
    with pytest.raises(ImproperlyConfigured) as refused:
        read()
    assert sentence in str(refused.value)


def test_sender_addresses_may_carry_a_display_name(monkeypatch):
    monkeypatch.setenv("V", "The Newsroom <news@example.com>")
    assert env.env_email("V", "x@localhost") == "The Newsroom <news@example.com>"
    monkeypatch.delenv("V")
    assert env.env_email("V", "newsroom@localhost") == "newsroom@localhost"


# -- sending through a real SMTP server --------------------------------------


def test_a_message_sent_through_smtp_arrives_whole(smtp_server):
    sent = send_mail(
        "Issue #12: Ünïcode and “quotes”",
        "First paragraph.\n\nSecond paragraph, café.",
        "The Newsroom <news@example.com>",
        ["reader@example.org"],
        html_message="<p>First paragraph.</p><p>Second paragraph, café.</p>",
    )

    assert sent == 1
    (message,) = smtp_server.messages
    assert message.mail_from == "news@example.com"
    assert message.recipients == ("reader@example.org",)
    assert message.subject == "Issue #12: Ünïcode and “quotes”"
    assert message.header("From") == "The Newsroom <news@example.com>"
    assert message.body("plain") == "First paragraph.\n\nSecond paragraph, café."
    assert message.body("html") == "<p>First paragraph.</p><p>Second paragraph, café.</p>"
    assert mail.outbox == []  # it went over SMTP, not to the test outbox


def test_one_smtp_connection_carries_many_messages(smtp_server):
    messages = [
        EmailMessage(f"Issue for {n}", "Body", "news@example.com", [f"reader{n}@example.org"])
        for n in range(5)
    ]
    with get_connection() as connection:
        assert connection.send_messages(messages) == 5

    received = smtp_server.messages
    assert [m.recipients for m in received] == [(f"reader{n}@example.org",) for n in range(5)]
    assert {m.connection for m in received} == {1}
    send_mail("Another", "Body", None, ["late@example.org"])
    assert smtp_server.messages[-1].connection == 2


def test_bcc_recipients_are_in_the_envelope_and_not_in_the_headers(smtp_server):
    EmailMessage("Hi", "Body", "news@example.com", ["a@example.org"], bcc=["b@example.org"]).send()

    (message,) = smtp_server.messages
    assert message.recipients == ("a@example.org", "b@example.org")
    assert message.header("Bcc") is None


def test_the_server_can_refuse_a_recipient_permanently_or_for_a_while(smtp_server):
    smtp_server.refuse("gone@example.org")  # 550 every time
    smtp_server.refuse("busy@example.org", "451 4.3.0 Try again later", times=1)

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_mail("Hi", "Body", None, ["gone@example.org"])
    assert refused.value.recipients["gone@example.org"][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused) as deferred:
        send_mail("Hi", "Body", None, ["busy@example.org"])
    assert deferred.value.recipients["busy@example.org"][0] == 451

    assert send_mail("Hi again", "Body", None, ["busy@example.org"]) == 1
    assert [m.recipients for m in smtp_server.messages] == [("busy@example.org",)]


def test_each_test_starts_with_an_empty_server(smtp_server):
    # Tests in any order: the previous ones sent mail, this one sees none.
    assert smtp_server.messages == []


def test_a_message_from_another_process_arrives_through_the_environment(smtp_server):
    code = (
        "import django; django.setup(); from django.core.mail import send_mail; "
        "send_mail('From a worker', 'Body', None, ['reader@example.org'])"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=project_environment(**smtp_server.environment),
        check=True,
        timeout=60,
    )

    (message,) = smtp_server.wait_for(1)
    assert message.subject == "From a worker"


# -- make run's mail catcher -------------------------------------------------


def test_the_mail_catcher_saves_each_message_and_prints_its_recipients_and_subject(tmp_path):
    folder = tmp_path / "mail"
    catcher = subprocess.Popen(
        [sys.executable, "manage.py", "mail_catcher", "--port", "0", "--folder", str(folder)],
        cwd=ROOT,
        env=project_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = catcher.stdout.readline()
        port = int(re.search(r"smtp://127\.0\.0\.1:(\d+);", first).group(1))
        assert f"every message is saved in {folder}/" in first

        connection = get_connection(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port
        )
        EmailMessage(
            "Your issue: “Chips”",
            "Body ü",
            "news@example.com",
            ["reader@example.org"],
            bcc=["editor@example.org"],
            connection=connection,
        ).send()

        line = catcher.stdout.readline()
        assert line.startswith(
            "Mail to reader@example.org, editor@example.org: Your issue: “Chips”"
        )
        (saved,) = wait_until(lambda: list(folder.glob("*.eml")), 10, "no .eml file was saved")
        assert str(saved) in line
        assert b"Subject: =?utf-8?" in saved.read_bytes()
        assert "Body ü" in saved.read_bytes().decode()
    finally:
        catcher.send_signal(signal.SIGINT)
        output, errors = catcher.communicate(timeout=30)
    assert catcher.returncode == 0, errors
    assert output.strip().endswith("Stopped catching mail.")


def test_the_mail_catcher_says_so_when_its_port_is_taken(smtp_server, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "mail_catcher", "--port", str(smtp_server.port)]
        + ["--folder", str(tmp_path)],
        cwd=ROOT,
        env=project_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{smtp_server.port}" in result.stderr
    assert "Pick another port with --port." in result.stderr
