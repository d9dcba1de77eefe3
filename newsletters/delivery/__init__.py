"""Sending issues by email: the send and its deliveries, the publisher's
controls over them, test sends, provider webhooks and what the admin shows."""
