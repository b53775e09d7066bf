"""Shared kit every domain module builds on: config, database, errors, money, ids, clock."""
