"""The audit tools' rules as pure functions: summaries, state folding, diffs, checks and the hash chain.

Nothing here touches a database, a broker or the settings; the application feeds it records and events.
"""
