"""Django's tasks API, the one place it is imported from.

Django 6 ships it as django.tasks; on Django 5.2 the django-tasks backport
provides the same names. Code that defines or enqueues work imports from here,
so moving to Django 6 changes this file and the INSTALLED_APPS line only:

    from newsroom.tasks import task

    @task()
    def send_issue(issue_id: int) -> None: ...

    send_issue.enqueue(issue.pk)  # after the transaction that made it commits

The backend (settings.TASKS) stores each task as a database row for
`manage.py run_worker` (django-tasks' db_worker, behind the web server for
the CPU); the row of the work itself (a delivery, an import) is what says
whether it was done, so a task run twice must change nothing twice.
"""

try:
    from django.tasks import (
        DEFAULT_TASK_BACKEND_ALIAS,
        DEFAULT_TASK_QUEUE_NAME,
        TaskContext,
        TaskResult,
        TaskResultStatus,
        default_task_backend,
        task,
        task_backends,
    )
except ImportError:  # Django 5.2
    from django_tasks import (
        DEFAULT_TASK_BACKEND_ALIAS,
        DEFAULT_TASK_QUEUE_NAME,
        TaskContext,
        TaskResult,
        TaskResultStatus,
        default_task_backend,
        task,
        task_backends,
    )

__all__ = [
    "DEFAULT_TASK_BACKEND_ALIAS",
    "DEFAULT_TASK_QUEUE_NAME",
    "TaskContext",
    "TaskResult",
    "TaskResultStatus",
    "default_task_backend",
    "task",
    "task_backends",
]
