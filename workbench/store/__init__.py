"""The bottom floor: the encrypted store and what every layer above shares about it.

`db` opens and creates the store, `settings` holds the organisation's settings, `audit` the
hash-chained audit log, `state` the store's fingerprint and transactions, `filters` the one set of
filter rules, and `snapshot` the in-memory analysis tables. Nothing here imports from above.
"""
