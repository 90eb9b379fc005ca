"""GitHub's webhooks: the receiver, the record of each delivery, and the dispatch of its work."""
