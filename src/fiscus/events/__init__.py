"""The event stream: the relay that fans committed events out, and the change-feed API."""
