"""Notifications: channels (Slack webhook, SMTP, signed webhook) and a durable, retried delivery log."""
