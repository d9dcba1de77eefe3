"""Sending a send's copies in batches over one connection."""


def run_batches(send_id: int) -> str:
    raise NotImplementedError
