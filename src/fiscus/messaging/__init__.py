"""Messaging: email, SMS and in-app messages from events, with templates and preferences."""
