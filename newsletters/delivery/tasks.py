"""The batch task that mails an issue's copies (newsletters/delivery/batch.py
does the work)."""

from newsletters.delivery.batch import run_batches
from newsroom.tasks import task


@task()
def send_batches(send_id: int) -> str:
    """Claim and send batches of a send's copies until none is due or the
    task's time is up; a send still going then gets a new task, so other
    tasks get the worker in between."""
    run = run_batches(send_id)
    if run.carry_on:
        send_batches.enqueue(send_id)
    return run.summary
