"""The batch task that mails an issue's copies (newsletters/delivery/batch.py
does the work)."""

from newsroom.tasks import task


@task()
def send_batches(send_id: int) -> str:
    """Claim and send batches of a send's copies until none is due or the
    task's time is up (it then queues itself again)."""
    from newsletters.delivery.batch import run_batches

    return run_batches(send_id)
