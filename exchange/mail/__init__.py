"""Email: members' notification settings, the mail queue, its SMTP sender and signed unsubscribe links."""
